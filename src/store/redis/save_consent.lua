-- ARGV: 2 user ID, 3 client ID, 4 expected current JSON ('-' for none, else '+' .. JSON),
-- 5 new JSON. Compare-and-set: returns 1 if stored, 0 if the current value differed.
local hk = key('user.consents', ARGV[2])
local current = redis.call('HGET', hk, ARGV[3])
local expected = ARGV[4]
if expected == '-' then
  if current then
    return 0
  end
elseif current ~= string.sub(expected, 2) then
  return 0
end
redis.call('HSET', hk, ARGV[3], ARGV[5])
redis.call('SADD', key('client.consents', ARGV[3]), ARGV[2])
return 1

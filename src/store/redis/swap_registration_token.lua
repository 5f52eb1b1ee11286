-- ARGV: 2 client ID, 3 expected token hash hex, 4 new one. Compare-and-swap: returns 1 if the
-- stored hash was the expected one (and is now the new one), else 0.
local k = key('client.v2', ARGV[2])
if redis.call('HGET', k, 'regtok') ~= ARGV[3] then
  return 0
end
redis.call('HSET', k, 'regtok', ARGV[4])
return 1

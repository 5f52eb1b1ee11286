-- ARGV[2]: client ID. Clears the client's expiry mark (`unused` and its `exp.clients` entry).
-- Returns 1 if the client exists, else 0.
local id = ARGV[2]
local k = key('client.v2', id)
if redis.call('EXISTS', k) == 0 then
  return 0
end
redis.call('HSET', k, 'unused', '')
redis.call('ZREM', P .. 'exp.clients', id)
return 1

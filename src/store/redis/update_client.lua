-- ARGV: 2 client ID, 3 record JSON. Replaces the record and keeps the stored secret and
-- registration token (separate fields). Returns 1 if the client exists, else 0.
local k = key('client.v2', ARGV[2])
if redis.call('EXISTS', k) == 0 then
  return 0
end
redis.call('HSET', k, 'rec', ARGV[3])
return 1

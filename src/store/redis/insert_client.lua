-- ARGV: 2 client ID, 3 record JSON, 4 secret hash ('' if none), 5 registration token hash hex
-- ('' if none), 6 unused_until (unix seconds, '' if none). Returns 0 if the ID is taken (by a
-- client, or by one still being reaped), 1 when stored.
local id = ARGV[2]
if redis.call('EXISTS', key('client.v2', id), key('client.gone', id)) > 0 then
  return 0
end
redis.call('HSET', key('client.v2', id), 'rec', ARGV[3], 'secret', ARGV[4], 'regtok', ARGV[5], 'unused', ARGV[6])
if ARGV[6] ~= '' then
  redis.call('ZADD', P .. 'exp.clients', ARGV[6], id)
end
return 1

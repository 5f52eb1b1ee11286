-- ARGV[2]: client ID. The first step of a deletion: the client's record goes and its mark
-- (`client.gone`) is set, so that lookups and issuance refuse it from now on; reap_client
-- then removes the rest in bounded steps. Returns 1 if the client existed, 0 if a deletion
-- of it is still being reaped, -1 if there is no such client.
local id = ARGV[2]
local k = key('client.v2', id)
if redis.call('EXISTS', k) == 1 then
  redis.call('DEL', k)
  redis.call('ZREM', P .. 'exp.clients', id)
  redis.call('SET', key('client.gone', id), '1')
  redis.call('SADD', P .. 'reap.clients', id)
  return 1
end
if redis.call('EXISTS', key('client.gone', id)) == 1 then
  return 0
end
return -1

-- ARGV: 2 now (unix seconds), 3 budget. Marks deleted, as delete_client does, up to `budget`
-- clients whose expiry mark is before now (walking `exp.clients`), and returns their IDs for
-- reap_client. A client touched since has no entry any more, so it is never among them.
local doomed = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'exp.clients', '-inf', '(' .. ARGV[2], 'LIMIT', 0, ARGV[3])) do
  redis.call('ZREM', P .. 'exp.clients', id)
  local k = key('client.v2', id)
  if redis.call('EXISTS', k) == 1 then
    redis.call('DEL', k)
    redis.call('SET', key('client.gone', id), '1')
    redis.call('SADD', P .. 'reap.clients', id)
    doomed[#doomed + 1] = id
  end
end
return doomed

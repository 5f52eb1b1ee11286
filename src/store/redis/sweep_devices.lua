-- ARGV: 2 now (unix seconds), 3 limit. Removes device authorizations whose expiry is before
-- now. Index members are device hex ':' user code hex ':' client ID.
local n = 0
local index = P .. 'exp.devices'
for _, m in ipairs(redis.call('ZRANGEBYSCORE', index, '-inf', '(' .. ARGV[2], 'LIMIT', 0, ARGV[3])) do
  local dev, uc, client = string.sub(m, 1, 64), string.sub(m, 66, 129), string.sub(m, 131)
  redis.call('DEL', key('device', dev))
  drop_user_code(uc, dev)
  redis.call('SREM', key('client.devices', client), dev .. ':' .. uc)
  redis.call('ZREM', index, m)
  n = n + 1
end
return n

-- ARGV[2]: client ID. Returns 1 if the client existed (and everything of it is gone), else 0.
local id = ARGV[2]
if redis.call('DEL', key('client', id)) == 0 then
  return 0
end
for _, hex in ipairs(redis.call('SMEMBERS', key('client.codes', id))) do
  redis.call('DEL', key('code', hex))
  redis.call('ZREM', P .. 'exp.codes', hex .. ':' .. id)
end
redis.call('DEL', key('client.codes', id))
for _, gid in ipairs(redis.call('SMEMBERS', key('client.grants', id))) do
  drop_grant(gid)
end
redis.call('DEL', key('client.grants', id))
for _, user in ipairs(redis.call('SMEMBERS', key('client.consents', id))) do
  redis.call('HDEL', key('user.consents', user), id)
end
redis.call('DEL', key('client.consents', id))
for _, m in ipairs(redis.call('SMEMBERS', key('client.devices', id))) do
  local dev, uc = string.sub(m, 1, 64), string.sub(m, 66)
  redis.call('DEL', key('device', dev))
  drop_user_code(uc, dev)
  redis.call('ZREM', P .. 'exp.devices', m .. ':' .. id)
end
redis.call('DEL', key('client.devices', id))
return 1

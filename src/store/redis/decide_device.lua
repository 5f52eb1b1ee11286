-- ARGV: 2 user code hash hex, 3 status JSON. Applies only to a pending record; returns 1 if
-- it did.
local dev = redis.call('GET', key('usercode', ARGV[2]))
if not dev then
  return 0
end
local dk = key('device', dev)
local status = redis.call('HGET', dk, 'status')
if not status or cjson.decode(status).status ~= 'pending' then
  return 0
end
redis.call('HSET', dk, 'status', ARGV[3])
return 1

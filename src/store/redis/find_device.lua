-- ARGV[2]: user code hash hex. Returns {} or {record JSON, interval, last poll, status JSON}.
local dev = redis.call('GET', key('usercode', ARGV[2]))
if not dev then
  return {}
end
local v = redis.call('HMGET', key('device', dev), 'rec', 'interval', 'last', 'status')
if not v[1] then
  return {}
end
return v

-- ARGV: 2 device hash hex, 3 now (unix seconds).
-- Returns {0} unknown; {1, record JSON, interval, last poll, status JSON} polled (the fields
-- as they were before the call); {2, ...} slow down (the fields after the call). The status
-- is never changed here (see redeem_device).
local dk = key('device', ARGV[2])
local v = redis.call('HMGET', dk, 'rec', 'interval', 'last', 'status')
if not v[1] then
  return {0}
end
local now = tonumber(ARGV[3])
local interval = tonumber(v[2])
if v[3] ~= '' and now < tonumber(v[3]) + interval then
  interval = math.min(interval + 5, 4294967295)
  local raised = string.format('%d', interval)
  redis.call('HSET', dk, 'interval', raised, 'last', ARGV[3])
  return {2, v[1], raised, ARGV[3], v[4]}
end
redis.call('HSET', dk, 'last', ARGV[3])
return {1, v[1], v[2], v[3], v[4]}

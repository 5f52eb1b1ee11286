-- ARGV: 2 old hash hex, 3 now (unix seconds), 4 sealed successor JSON ('null' or a byte
-- array), 5.. new tokens (see store_tokens).
-- Returns {0} unknown, {1} rotated, {2, retired JSON} already retired.
local old = ARGV[2]
local rk = key('retired', old)
local retired = redis.call('GET', rk)
if retired then
  return {2, retired}
end
local lk = key('token', old)
local live = redis.call('GET', lk)
if not live then
  return {0}
end
local record = cjson.decode(live)
if record.token_type ~= 'refresh' then
  return {0}
end
-- The retired record keeps the live token's remaining lifetime.
local pttl = redis.call('PTTL', lk)
local value = '{"record":' .. live .. ',"retired_at":' .. ARGV[3] .. ',"sealed_successor":' .. ARGV[4] .. '}'
redis.call('DEL', lk)
if pttl > 0 then
  redis.call('SET', rk, value, 'PX', pttl)
else
  redis.call('SET', rk, value)
end
store_tokens(record.grant_id, 5)
return {1}

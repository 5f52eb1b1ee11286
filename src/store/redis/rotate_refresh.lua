-- ARGV: 2 old hash hex, 3 now (unix seconds), 4 sealed successor JSON ('null' or a byte
-- array), 5.. new tokens (see store_tokens).
-- Returns {0} unknown (or of a revoked grant or deleted client), {1} rotated, {2, retired
-- JSON} already retired.
local old = ARGV[2]
local rk = key('retired.v2', old)
local retired = redis.call('HMGET', rk, 'rec', 'grant')
if retired[1] then
  if grant_live(retired[2]) then
    return {2, retired[1]}
  end
  return {0}
end
local lk = key('token.v2', old)
local live = redis.call('HMGET', lk, 'rec', 'grant', 'client')
if not live[1] or not grant_live(live[2]) then
  return {0}
end
if cjson.decode(live[1]).token_type ~= 'refresh' then
  return {0}
end
-- The retired record keeps the live token's remaining lifetime (its own expires_at).
local pttl = redis.call('PTTL', lk)
local value = '{"record":' .. live[1] .. ',"retired_at":' .. ARGV[3] .. ',"sealed_successor":' .. ARGV[4] .. '}'
redis.call('DEL', lk)
redis.call('HSET', rk, 'rec', value, 'grant', live[2], 'client', live[3])
if pttl > 0 then
  redis.call('PEXPIRE', rk, pttl)
end
store_tokens(live[2], live[3], 5)
return {1}

-- ARGV[2]: hash hex. Returns {0} unknown, {1, record JSON} redeemed now, {2, grant ID} replayed.
-- A replay also bars the grant (key `barred:{grant id}`, kept as long as the code and indexed
-- by the code's expiry for the sweep): issue_tokens for it then stores nothing.
local k = key('code', ARGV[2])
local v = redis.call('HMGET', k, 'rec', 'grant', 'spent')
if not v[1] then
  return {0}
end
if v[3] == '1' then
  local b = key('barred', v[2])
  redis.call('SET', b, '1')
  local ttl = redis.call('PTTL', k)
  if ttl > 0 then
    redis.call('PEXPIRE', b, ttl)
  end
  local at = cjson.decode(v[1]).expires_at
  -- Never lowers a bar's expiry (ZADD GT would need Redis 6.2).
  local was = redis.call('ZSCORE', P .. 'exp.barred', v[2])
  if not was or tonumber(was) < at then
    redis.call('ZADD', P .. 'exp.barred', at, v[2])
  end
  return {2, v[2]}
end
redis.call('HSET', k, 'spent', '1')
return {1, v[1]}

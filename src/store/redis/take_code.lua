-- ARGV[2]: hash hex. Returns {0} unknown, {1, record JSON} redeemed now, {2, grant ID} replayed.
local k = key('code', ARGV[2])
local v = redis.call('HMGET', k, 'rec', 'grant', 'spent')
if not v[1] then
  return {0}
end
if v[3] == '1' then
  return {2, v[2]}
end
redis.call('HSET', k, 'spent', '1')
return {1, v[1]}

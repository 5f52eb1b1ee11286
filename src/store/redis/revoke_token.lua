-- ARGV[2]: hash hex. Removes a live token; returns 1 if there was one.
local hex = ARGV[2]
local lk = key('token', hex)
local live = redis.call('GET', lk)
if not live then
  return 0
end
local gid = cjson.decode(live).grant_id
redis.call('DEL', lk)
local family = key('grant.tokens', gid)
redis.call('SREM', family, hex)
redis.call('ZREM', P .. 'exp.tokens', hex .. ':' .. gid)
if redis.call('SCARD', family) == 0 then
  redis.call('SADD', P .. 'grants.orphan', gid)
end
return 1

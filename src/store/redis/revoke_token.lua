-- ARGV[2]: hash hex. Removes a live token; returns 1 if there was one (of a live grant).
local hex = ARGV[2]
local lk = key('token.v2', hex)
local gid = redis.call('HGET', lk, 'grant')
if not gid then
  return 0
end
local live = grant_live(gid)
redis.call('DEL', lk)
redis.call('SREM', key('grant.tokens', gid), hex)
redis.call('ZREM', P .. 'exp.tokens', hex .. ':' .. gid)
forget_if_empty(gid)
if live then
  return 1
end
return 0

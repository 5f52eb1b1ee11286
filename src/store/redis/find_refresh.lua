-- ARGV[2]: hash hex. Returns {1, live record JSON}, {2, retired record JSON} or {0}; nothing of
-- a revoked grant or a deleted client.
local live = redis.call('HMGET', key('token.v2', ARGV[2]), 'rec', 'grant')
if live[1] then
  if grant_live(live[2]) then
    return {1, live[1]}
  end
  return {0}
end
local retired = redis.call('HMGET', key('retired.v2', ARGV[2]), 'rec', 'grant')
if retired[1] and grant_live(retired[2]) then
  return {2, retired[1]}
end
return {0}

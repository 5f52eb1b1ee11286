-- ARGV: 2 'new' or 'old', 3 grant ID, 4 grant JSON, 5 client ID, 6 user ('' or '+' .. user
-- ID), 7.. tokens (see store_tokens). 'new' creates the grant with the tokens, 'old' needs it
-- active. Returns 0 if a new grant's ID is in use, 1 when stored, 2 if the grant is revoked
-- or unknown, 3 if its client does not exist (nothing stored but for 1).
local gid = ARGV[3]
local gk = key('grant.v2', gid)
local cid
if ARGV[2] == 'new' then
  cid = ARGV[5]
  if redis.call('EXISTS', key('client.v2', cid)) == 0 then
    return 3
  end
  if redis.call('EXISTS', gk) == 1 then
    return 0
  end
  create_grant(gid, ARGV[4], cid, ARGV[6])
  if #ARGV < 7 then
    redis.call('SADD', P .. 'grants.orphan', gid)
  end
else
  local g = redis.call('HMGET', gk, 'client', 'revoked')
  if not g[1] or g[2] then
    return 2
  end
  cid = g[1]
  if redis.call('EXISTS', key('client.v2', cid)) == 0 then
    return 3
  end
end
store_tokens(gid, cid, 7)
return 1

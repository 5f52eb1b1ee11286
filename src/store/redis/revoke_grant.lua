-- ARGV: 2 grant ID, 3 budget. Marks the grant revoked (idempotent) and removes up to `budget`
-- of its tokens; once none is left, forgets it unless a code or device authorization names
-- it. Returns {how many tokens went, 1 if none is left else 0}.
local gid = ARGV[2]
revoke(gid)
local n = reap_tokens(gid, tonumber(ARGV[3]))
if redis.call('SCARD', key('grant.tokens', gid)) > 0 then
  return {n, 0}
end
redis.call('SREM', P .. 'reap.grants', gid)
forget_if_empty(gid)
return {n, 1}

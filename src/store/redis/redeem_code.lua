-- ARGV: 2 code hash hex, 3.. tokens (see store_tokens). Spends the code and stores the tokens
-- into its grant, in this one step. Returns {0} unknown, {1} redeemed, {2, grant ID} replayed
-- (the grant is now revoked; its tokens are reaped by revoke_grant), {3} the grant was revoked
-- or its client deleted (nothing stored, the code left unspent).
local ck = key('code', ARGV[2])
local v = redis.call('HMGET', ck, 'grant', 'spent')
if not v[1] then
  return {0}
end
local gid = v[1]
if v[2] == '1' then
  revoke(gid)
  return {2, gid}
end
if not grant_live(gid) then
  return {3}
end
redis.call('HSET', ck, 'spent', '1')
store_tokens(gid, redis.call('HGET', key('grant.v2', gid), 'client'), 3)
return {1}

-- ARGV: 2 device hash hex, 3 the `Redeemed` status JSON, 4.. tokens (see store_tokens). Flips
-- an approved authorization to redeemed and stores the tokens into its grant, in this one
-- step. Returns 0 unknown, 1 redeemed, 2 already redeemed, 3 the grant was revoked or its
-- client deleted, 4 not approved (pending or denied); nothing is stored but for 1.
local dk = key('device', ARGV[2])
local status = redis.call('HGET', dk, 'status')
if not status then
  return 0
end
local s = cjson.decode(status).status
if s == 'redeemed' then
  return 2
end
if s ~= 'approved' then
  return 4
end
local gid = redis.call('GET', key('device.grant', ARGV[2]))
if not grant_live(gid) then
  return 3
end
redis.call('HSET', dk, 'status', ARGV[3])
store_tokens(gid, redis.call('HGET', key('grant.v2', gid), 'client'), 4)
return 1

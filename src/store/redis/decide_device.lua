-- ARGV: 2 user code hash hex, 3 status JSON, 4 'approve' or 'deny', and for 'approve': 5 grant
-- ID, 6 grant JSON, 7 client ID, 8 user ('' or '+' .. user ID). Applies only to a pending
-- record; an approval stores the grant, active, in the same step (only if the client exists
-- and is the record's). Returns 1 if applied, 0 if not, 2 if the grant ID is in use.
local uc = ARGV[2]
local dev = redis.call('GET', key('usercode', uc))
if not dev then
  return 0
end
local dk = key('device', dev)
local v = redis.call('HMGET', dk, 'rec', 'status')
if not v[1] or not v[2] or cjson.decode(v[2]).status ~= 'pending' then
  return 0
end
if ARGV[4] == 'approve' then
  local cid = ARGV[7]
  if cjson.decode(v[1]).client_id ~= cid or redis.call('EXISTS', key('client.v2', cid)) == 0 then
    return 0
  end
  local gid = ARGV[5]
  if redis.call('EXISTS', key('grant.v2', gid)) == 1 then
    return 2
  end
  create_grant(gid, ARGV[6], cid, ARGV[8], 'device', dev .. ':' .. uc)
  redis.call('SET', key('device.grant', dev), gid)
end
redis.call('HSET', dk, 'status', ARGV[3])
return 1

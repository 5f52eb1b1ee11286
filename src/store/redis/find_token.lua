-- ARGV[2]: hash hex. The live token's record JSON, or nil if there is none or its grant is
-- revoked or its client deleted (even before the records are reaped).
local v = redis.call('HMGET', key('token.v2', ARGV[2]), 'rec', 'grant')
if not v[1] or not grant_live(v[2]) then
  return false
end
return v[1]

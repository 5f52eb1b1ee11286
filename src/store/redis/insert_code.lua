-- ARGV: 2 code hash hex, 3 code record JSON, 4 grant ID, 5 grant JSON, 6 client ID, 7 user
-- ('' or '+' .. user ID), 8 expiry score, 9 EXPIREAT. Stores the code and its grant, active.
-- Returns 0 if the code hash or grant ID is in use, 1 when stored, 2 (nothing stored) if the
-- client does not exist.
if redis.call('EXISTS', key('client.v2', ARGV[6])) == 0 then
  return 2
end
local ck = key('code', ARGV[2])
if redis.call('EXISTS', ck, key('grant.v2', ARGV[4])) > 0 then
  return 0
end
create_grant(ARGV[4], ARGV[5], ARGV[6], ARGV[7], 'code', ARGV[2])
redis.call('HSET', ck, 'rec', ARGV[3], 'grant', ARGV[4], 'spent', '0')
expire(ck, ARGV[9])
redis.call('ZADD', P .. 'exp.codes', ARGV[8], ARGV[2] .. ':' .. ARGV[4])
return 1

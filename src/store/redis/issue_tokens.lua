-- ARGV: 2 grant ID, 3 grant JSON, 4 client ID, 5 '' or '+' .. user ID, 6.. tokens (see
-- store_tokens). Creates the grant if it does not exist, then stores every token. Returns 1,
-- or 2 (storing nothing) if a replay of the grant's code barred it (see take_code).
local gid = ARGV[2]
if redis.call('EXISTS', key('barred', gid)) == 1 then
  return 2
end
if redis.call('SET', key('grant', gid), ARGV[3], 'NX') then
  if ARGV[5] ~= '' then
    redis.call('SADD', key('user.grants', string.sub(ARGV[5], 2)), gid)
  end
  redis.call('SADD', key('client.grants', ARGV[4]), gid)
end
store_tokens(gid, 6)
if redis.call('SCARD', key('grant.tokens', gid)) == 0 then
  redis.call('SADD', P .. 'grants.orphan', gid)
end
return 1

-- ARGV: 2 now (unix seconds), 3 limit. Removes tokens (live and retired) whose expiry is
-- before now, then grants left with no token. Returns how many tokens went.
local n = 0
local index = P .. 'exp.tokens'
local orphans = P .. 'grants.orphan'
for _, m in ipairs(redis.call('ZRANGEBYSCORE', index, '-inf', '(' .. ARGV[2], 'LIMIT', 0, ARGV[3])) do
  local hex, gid = string.sub(m, 1, 64), string.sub(m, 66)
  redis.call('DEL', key('token', hex), key('retired', hex))
  redis.call('ZREM', index, m)
  local family = key('grant.tokens', gid)
  redis.call('SREM', family, hex)
  if redis.call('SCARD', family) == 0 then
    redis.call('SADD', orphans, gid)
  end
  n = n + 1
end
for _, gid in ipairs(redis.call('SPOP', orphans, ARGV[3])) do
  if redis.call('SCARD', key('grant.tokens', gid)) == 0 then
    drop_grant(gid)
  end
end
return n

-- ARGV: 2 now (unix seconds), 3 budget. Removes up to `budget` records: tokens (live and
-- retired) whose own expiry is before now, then what interrupted revocations and deletions
-- left. Grants left with nothing are forgotten (not counted). Returns how many records went.
local budget = tonumber(ARGV[3])
local n = 0
local index = P .. 'exp.tokens'
for _, m in ipairs(redis.call('ZRANGEBYSCORE', index, '-inf', '(' .. ARGV[2], 'LIMIT', 0, budget)) do
  local hex, gid = string.sub(m, 1, 64), string.sub(m, 66)
  redis.call('DEL', key('token.v2', hex), key('retired.v2', hex))
  redis.call('ZREM', index, m)
  redis.call('SREM', key('grant.tokens', gid), hex)
  forget_if_empty(gid)
  n = n + 1
end
while n < budget do
  local gid = redis.call('SRANDMEMBER', P .. 'reap.grants')
  if not gid then
    break
  end
  n = n + reap_tokens(gid, budget - n)
  if redis.call('SCARD', key('grant.tokens', gid)) == 0 then
    redis.call('SREM', P .. 'reap.grants', gid)
    forget_if_empty(gid)
  end
end
while n < budget do
  local id = redis.call('SRANDMEMBER', P .. 'reap.clients')
  if not id then
    break
  end
  local step = reap_client(id, budget - n)
  n = n + step[1]
  if step[2] == 0 and step[1] == 0 then
    break
  end
end
if n < budget then
  -- Grants created with no token: forgotten if still empty.
  for _, gid in ipairs(redis.call('SPOP', P .. 'grants.orphan', budget - n)) do
    forget_if_empty(gid)
  end
end
return n

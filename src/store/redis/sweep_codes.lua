-- ARGV: 2 now (unix seconds), 3 budget. Removes up to `budget` codes whose expiry is before
-- now; grants left with nothing are forgotten. Index members are code hex ':' grant ID.
local n = 0
for _, m in ipairs(redis.call('ZRANGEBYSCORE', P .. 'exp.codes', '-inf', '(' .. ARGV[2], 'LIMIT', 0, ARGV[3])) do
  local hex, gid = string.sub(m, 1, 64), string.sub(m, 66)
  drop_code(hex, gid)
  forget_if_empty(gid)
  n = n + 1
end
return n

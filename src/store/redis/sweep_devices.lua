-- ARGV: 2 now (unix seconds), 3 budget. Removes up to `budget` device authorizations whose
-- expiry is before now; grants left with nothing are forgotten. Index members are device hex
-- ':' user code hex ':' client ID.
local n = 0
for _, m in ipairs(redis.call('ZRANGEBYSCORE', P .. 'exp.devices', '-inf', '(' .. ARGV[2], 'LIMIT', 0, ARGV[3])) do
  local gid = drop_device(string.sub(m, 1, 64), string.sub(m, 66, 129), string.sub(m, 131))
  if gid then
    forget_if_empty(gid)
  end
  n = n + 1
end
return n

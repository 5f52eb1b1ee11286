-- ARGV: 2 now (unix seconds), 3 limit. Removes codes whose expiry is before now.
local n = 0
local index = P .. 'exp.codes'
for _, m in ipairs(redis.call('ZRANGEBYSCORE', index, '-inf', '(' .. ARGV[2], 'LIMIT', 0, ARGV[3])) do
  local hex, client = string.sub(m, 1, 64), string.sub(m, 66)
  redis.call('DEL', key('code', hex))
  redis.call('SREM', key('client.codes', client), hex)
  redis.call('ZREM', index, m)
  n = n + 1
end
-- Grants barred by a replay of their code, past the code's expiry (not counted).
local barred = P .. 'exp.barred'
for _, gid in ipairs(redis.call('ZRANGEBYSCORE', barred, '-inf', '(' .. ARGV[2], 'LIMIT', 0, ARGV[3])) do
  redis.call('DEL', key('barred', gid))
  redis.call('ZREM', barred, gid)
end
return n

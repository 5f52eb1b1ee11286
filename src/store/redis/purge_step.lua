-- ARGV: 2 SCAN cursor, 3 MATCH pattern (the key prefix, escaped, then '*'). One step of
-- RedisStore::purge in a cluster, run on the node that serves the store's slot (every key it
-- matches is in that slot): unlinks the keys one SCAN step finds. Returns {next cursor, how
-- many went}.
local step = redis.call('SCAN', ARGV[2], 'MATCH', ARGV[3], 'COUNT', 500)
local n = 0
for _, k in ipairs(step[2]) do
  n = n + redis.call('UNLINK', k)
end
return {step[1], n}

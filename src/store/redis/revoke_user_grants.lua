-- ARGV: 2 user ID, 3 client ID. Returns how many grants went.
local n = 0
for _, gid in ipairs(redis.call('SINTER', key('user.grants', ARGV[2]), key('client.grants', ARGV[3]))) do
  drop_grant(gid)
  n = n + 1
end
return n

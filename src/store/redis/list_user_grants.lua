-- ARGV[2]: user ID. Returns the JSON of every grant of the user.
local out = {}
for _, gid in ipairs(redis.call('SMEMBERS', key('user.grants', ARGV[2]))) do
  local g = redis.call('GET', key('grant', gid))
  if g then
    table.insert(out, g)
  end
end
return out

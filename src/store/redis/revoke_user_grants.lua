-- ARGV: 2 client ID, 3 user ID, 4 budget. Marks up to `budget` of the active grants the user
-- gave the client revoked. Returns {how many were taken from the set, the revoked grant IDs...}.
local taken = redis.call('SPOP', user_grants_key(ARGV[2], ARGV[3]), tonumber(ARGV[4]))
local out = {#taken}
for _, gid in ipairs(taken) do
  if revoke(gid) == 1 then
    table.insert(out, gid)
  end
end
return out

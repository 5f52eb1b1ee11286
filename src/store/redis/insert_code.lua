-- ARGV: 2 hash hex, 3 record JSON, 4 grant ID, 5 client ID, 6 expiry score, 7 EXPIREAT.
-- Returns 0 on conflict, 1 when stored.
local k = key('code', ARGV[2])
if redis.call('EXISTS', k) == 1 then
  return 0
end
redis.call('HSET', k, 'rec', ARGV[3], 'grant', ARGV[4], 'spent', '0')
expire(k, ARGV[7])
redis.call('SADD', key('client.codes', ARGV[5]), ARGV[2])
redis.call('ZADD', P .. 'exp.codes', ARGV[6], ARGV[2] .. ':' .. ARGV[5])
return 1

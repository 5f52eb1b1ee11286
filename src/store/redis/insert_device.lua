-- ARGV: 2 device hash hex, 3 user code hash hex, 4 client ID, 5 record JSON, 6 interval,
-- 7 last poll ('' if none), 8 status JSON, 9 expiry score, 10 EXPIREAT.
-- Returns 0 if either hash is in use, 1 when stored.
local dev, uc, client = ARGV[2], ARGV[3], ARGV[4]
local dk, uk = key('device', dev), key('usercode', uc)
if redis.call('EXISTS', dk) == 1 or redis.call('EXISTS', uk) == 1 then
  return 0
end
redis.call('HSET', dk, 'rec', ARGV[5], 'interval', ARGV[6], 'last', ARGV[7], 'status', ARGV[8])
redis.call('SET', uk, dev)
expire(dk, ARGV[10])
expire(uk, ARGV[10])
redis.call('SADD', key('client.devices', client), dev .. ':' .. uc)
redis.call('ZADD', P .. 'exp.devices', ARGV[9], dev .. ':' .. uc .. ':' .. client)
return 1

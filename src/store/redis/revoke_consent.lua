-- ARGV: 2 user ID, 3 client ID. Returns 1 if there was a consent.
local n = redis.call('HDEL', key('user.consents', ARGV[2]), ARGV[3])
redis.call('SREM', key('client.consents', ARGV[3]), ARGV[2])
return n

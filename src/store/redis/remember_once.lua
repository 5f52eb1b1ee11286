-- ReplayStore::remember. ARGV: prefix, key hex, now (unix s), expires_at (unix s), ttl (ms).
-- The value is expires_at: an entry whose moment has passed by the caller's `now` is taken
-- over even if Redis has not dropped it yet (the provider's clock decides, not Redis's).
local k = key('once', ARGV[2])
local now = tonumber(ARGV[3])
local held = tonumber(redis.call('GET', k) or '')
if held and held > now then
  return 0
end
redis.call('SET', k, ARGV[4], 'PX', ARGV[5])
return 1

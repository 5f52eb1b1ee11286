-- Shared by every script (prepended to each). ARGV[1] is the key prefix; every key is built
-- here from it, so the scripts need a standalone Redis (not Cluster). Token, code and device
-- hashes are 64 hex digits, which lets index members pack a hash and an ID with ':' between.
-- Every script touches a bounded number of keys: work that grows with the data is done in
-- batches of at most `budget` records, one script call each.
local P = ARGV[1]

local function key(kind, id)
  return P .. kind .. ':' .. id
end

-- The set of active grants `user` gave `client`. Both may contain ':'; the client's length
-- keeps any two pairs apart.
local function user_grants_key(client, user)
  return P .. 'ucgrants:' .. #client .. ':' .. client .. ':' .. user
end

-- Sets an absolute expiry (unix seconds) unless `at` is '0' (none).
local function expire(k, at)
  if at ~= '0' then
    redis.call('EXPIREAT', k, at)
  end
end

-- Whether grant `gid` is stored, not revoked, and of a client that exists (not deleted).
local function grant_live(gid)
  if not gid then
    return false
  end
  local g = redis.call('HMGET', key('grant.v2', gid), 'client', 'revoked')
  if not g[1] or g[2] then
    return false
  end
  return redis.call('EXISTS', key('client.v2', g[1])) == 1
end

-- Stores tokens of grant `gid` of client `cid` from ARGV[first..], four arguments each:
-- hash hex, record JSON, expiry score ('' if none), EXPIREAT ('0' if none).
local function store_tokens(gid, cid, first)
  local family = key('grant.tokens', gid)
  local i = first
  while i + 3 <= #ARGV do
    local hex, json, score, at = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
    local k = key('token.v2', hex)
    redis.call('HSET', k, 'rec', json, 'grant', gid, 'client', cid)
    expire(k, at)
    redis.call('SADD', family, hex)
    if score ~= '' then
      redis.call('ZADD', P .. 'exp.tokens', score, hex .. ':' .. gid)
    end
    i = i + 4
  end
end

-- Creates grant `gid` (record JSON, client, user as '' or '+' .. user) with its index
-- entries; `field` ('code' or 'device') names what it was stored with, if anything.
local function create_grant(gid, json, cid, user, field, value)
  local gk = key('grant.v2', gid)
  if field then
    redis.call('HSET', gk, 'rec', json, 'client', cid, 'user', user, field, value)
  else
    redis.call('HSET', gk, 'rec', json, 'client', cid, 'user', user)
  end
  redis.call('SADD', key('client.grants', cid), gid)
  if user ~= '' then
    redis.call('SADD', user_grants_key(cid, string.sub(user, 2)), gid)
  end
end

-- Removes up to `budget` tokens of grant `gid`, live or retired; returns how many.
local function reap_tokens(gid, budget)
  local n = 0
  for _, hex in ipairs(redis.call('SPOP', key('grant.tokens', gid), budget)) do
    redis.call('DEL', key('token.v2', hex), key('retired.v2', hex))
    redis.call('ZREM', P .. 'exp.tokens', hex .. ':' .. gid)
    n = n + 1
  end
  return n
end

-- Marks grant `gid` revoked (the tombstone), takes it out of its user's active grants and
-- queues its tokens for reaping. Returns 1 if it was active.
local function revoke(gid)
  local gk = key('grant.v2', gid)
  local g = redis.call('HMGET', gk, 'client', 'user', 'revoked')
  if not g[1] or g[3] then
    return 0
  end
  redis.call('HSET', gk, 'revoked', '1')
  if g[2] and g[2] ~= '' then
    redis.call('SREM', user_grants_key(g[1], string.sub(g[2], 2)), gid)
  end
  if redis.call('SCARD', key('grant.tokens', gid)) > 0 then
    redis.call('SADD', P .. 'reap.grants', gid)
  end
  return 1
end

-- Removes grant `gid` and its index entries (its tokens must be gone).
local function drop_grant(gid)
  local gk = key('grant.v2', gid)
  local g = redis.call('HMGET', gk, 'client', 'user')
  if g[1] then
    redis.call('SREM', key('client.grants', g[1]), gid)
    if g[2] and g[2] ~= '' then
      redis.call('SREM', user_grants_key(g[1], string.sub(g[2], 2)), gid)
    end
  end
  redis.call('DEL', gk, key('grant.tokens', gid))
  redis.call('SREM', P .. 'reap.grants', gid)
  redis.call('SREM', P .. 'grants.orphan', gid)
end

-- Forgets grant `gid` if no token, code or device authorization names it. Returns 1 if so.
local function forget_if_empty(gid)
  local g = redis.call('HMGET', key('grant.v2', gid), 'client', 'code', 'device')
  if not g[1] or g[2] or g[3] then
    return 0
  end
  if redis.call('SCARD', key('grant.tokens', gid)) > 0 then
    return 0
  end
  drop_grant(gid)
  return 1
end

-- Deletes the user-code pointer only if it still names this device (user codes are short
-- and may be drawn again once a record has expired).
local function drop_user_code(uc, dev)
  local k = key('usercode', uc)
  if redis.call('GET', k) == dev then
    redis.call('DEL', k)
  end
end

-- Removes code `hex` of grant `gid` and its index entry; the grant no longer counts it.
local function drop_code(hex, gid)
  redis.call('DEL', key('code', hex))
  redis.call('ZREM', P .. 'exp.codes', hex .. ':' .. gid)
  local gk = key('grant.v2', gid)
  if redis.call('HGET', gk, 'code') == hex then
    redis.call('HDEL', gk, 'code')
  end
end

-- Removes device authorization `dev` (user code `uc`) of client `cid` and its index entries;
-- the grant it names no longer counts it. Returns that grant's ID, or false.
local function drop_device(dev, uc, cid)
  redis.call('DEL', key('device', dev))
  drop_user_code(uc, dev)
  redis.call('SREM', key('client.devices', cid), dev .. ':' .. uc)
  redis.call('ZREM', P .. 'exp.devices', dev .. ':' .. uc .. ':' .. cid)
  local pointer = key('device.grant', dev)
  local gid = redis.call('GET', pointer)
  if gid then
    redis.call('DEL', pointer)
    local gk = key('grant.v2', gid)
    if redis.call('HGET', gk, 'device') == dev .. ':' .. uc then
      redis.call('HDEL', gk, 'device')
    end
  end
  return gid
end

-- One bounded step of reaping deleted client `id`: up to `budget` records (tokens, grants
-- with their code and device authorization, other device authorizations, consents). Returns
-- {how many went, 1 if the client is completely reaped (its mark then removed) else 0}.
local function reap_client(id, budget)
  local n = 0
  local grants = key('client.grants', id)
  while n < budget do
    local gid = redis.call('SRANDMEMBER', grants)
    if not gid then
      break
    end
    n = n + reap_tokens(gid, budget - n)
    if redis.call('SCARD', key('grant.tokens', gid)) > 0 then
      break
    end
    local g = redis.call('HMGET', key('grant.v2', gid), 'code', 'device')
    if g[1] then
      drop_code(g[1], gid)
    end
    if g[2] then
      drop_device(string.sub(g[2], 1, 64), string.sub(g[2], 66), id)
    end
    drop_grant(gid)
    redis.call('SREM', grants, gid)
    n = n + 1
  end
  local devices = key('client.devices', id)
  while n < budget do
    local m = redis.call('SRANDMEMBER', devices)
    if not m then
      break
    end
    drop_device(string.sub(m, 1, 64), string.sub(m, 66), id)
    n = n + 1
  end
  local consents = key('client.consents', id)
  if n < budget then
    for _, user in ipairs(redis.call('SPOP', consents, budget - n)) do
      redis.call('HDEL', key('user.consents', user), id)
      n = n + 1
    end
  end
  if redis.call('EXISTS', grants, devices, consents) == 0 then
    redis.call('DEL', key('client.gone', id))
    redis.call('SREM', P .. 'reap.clients', id)
    return {n, 1}
  end
  return {n, 0}
end


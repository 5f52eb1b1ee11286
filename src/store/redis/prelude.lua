-- Shared by every script (prepended to each). ARGV[1] is the key prefix; every key is built
-- here from it, so the scripts need a standalone Redis (not Cluster). Token, code and device
-- hashes are 64 hex digits, which lets index members pack a hash and an ID with ':' between.
local P = ARGV[1]

local function key(kind, id)
  return P .. kind .. ':' .. id
end

-- Sets an absolute expiry (unix seconds) unless `at` is '0' (none).
local function expire(k, at)
  if at ~= '0' then
    redis.call('EXPIREAT', k, at)
  end
end

-- Stores tokens of grant `gid` from ARGV[first..], four arguments each:
-- hash hex, record JSON, expiry score ('' if none), EXPIREAT ('0' if none).
local function store_tokens(gid, first)
  local family = key('grant.tokens', gid)
  local i = first
  while i + 3 <= #ARGV do
    local hex, json, score, at = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
    local k = key('token', hex)
    redis.call('SET', k, json)
    expire(k, at)
    redis.call('SADD', family, hex)
    if score ~= '' then
      redis.call('ZADD', P .. 'exp.tokens', score, hex .. ':' .. gid)
    end
    i = i + 4
  end
end

-- Removes grant `gid`, every token of its family (live and retired) and its index entries.
-- Returns how many tokens went.
local function drop_grant(gid)
  local removed = 0
  local family = key('grant.tokens', gid)
  for _, hex in ipairs(redis.call('SMEMBERS', family)) do
    if redis.call('DEL', key('token', hex), key('retired', hex)) > 0 then
      removed = removed + 1
    end
    redis.call('ZREM', P .. 'exp.tokens', hex .. ':' .. gid)
  end
  redis.call('DEL', family)
  local grant = redis.call('GET', key('grant', gid))
  if grant then
    local g = cjson.decode(grant)
    if type(g.user) == 'string' then
      redis.call('SREM', key('user.grants', g.user), gid)
    end
    redis.call('SREM', key('client.grants', g.client_id), gid)
    redis.call('DEL', key('grant', gid))
  end
  redis.call('SREM', P .. 'grants.orphan', gid)
  return removed
end

-- Deletes the user-code pointer only if it still names this device (user codes are short
-- and may be drawn again once a record has expired).
local function drop_user_code(uc, dev)
  local k = key('usercode', uc)
  if redis.call('GET', k) == dev then
    redis.call('DEL', k)
  end
end


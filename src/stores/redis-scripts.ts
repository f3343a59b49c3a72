// The Lua side of RedisTokenStore: one script per TokenStore method, so that every method is one round trip
// and atomic (Redis runs a script without interleaving any other command).
//
// Keys (one user's keys share the `{u:<id>}` hash tag, hence one Redis Cluster slot):
//   <prefix>:{u:<id>}:s:<sid>  HASH   created, lastUsed, ua, ip, counter, rotatedAt, maxExpiresAt, toks
//   <prefix>:{u:<id>}:t:<jti>  STRING "<expiresAt>:<sid>"
//   <prefix>:{u:<id>}:ss       SET    the user's sids
//   <prefix>:{u:<id>}:g        STRING the user's session generation (INCR by every fence; absent = "0"),
//                                     kept SESSION_MAX_TTL after the last fence
// `toks` lists the session's live token ids, oldest first, comma-separated: at most MAX_TOKENS_PER_SESSION, the
// oldest token key is deleted when one more is allowed. Scripts derive a token key from the session key, whose
// shape is fixed: <stem>s:<sid> → <stem>t:<jti>.
// `now` (epoch ms) always comes from the caller: liveness is decided against it, never against Redis TIME, and
// TTLs are set as the remaining lifetime relative to it, so that the key outlives nothing it should not.

import { MAX_TOKENS_PER_SESSION } from './token-store.js';

const PRELUDE = `
local MAX_TOKENS = ${MAX_TOKENS_PER_SESSION}

local function int(x)
  return string.format('%d', math.ceil(x))
end

-- The token value carries its expiry so that liveness is judged against the caller's clock, not Redis's.
local function allow(key, sid, expires_at, now)
  local ttl = math.ceil(tonumber(expires_at) - now)
  if ttl > 0 then
    redis.call('SET', key, expires_at .. ':' .. sid, 'PX', int(ttl))
  else
    redis.call('DEL', key)
  end
end

local function live_token(key, sid, now)
  local value = redis.call('GET', key)
  if not value then return false end
  local sep = string.find(value, ':', 1, true)
  if not sep or string.sub(value, sep + 1) ~= sid then return false end
  if now >= tonumber(string.sub(value, 1, sep - 1)) then
    redis.call('DEL', key)
    return false
  end
  return true
end

-- The token-key stem of a session key: <stem>s:<sid> gives <stem>t:.
local function token_stem(session_key, sid)
  return string.sub(session_key, 1, #session_key - #sid - 2) .. 't:'
end

-- The ids in a toks field, without \`except\`.
local function token_list(toks, except)
  local list = {}
  if toks then
    for jti in string.gmatch(toks, '[^,]+') do
      if jti ~= except then list[#list + 1] = jti end
    end
  end
  return list
end

-- Appends jti to the list; deletes the keys of the oldest tokens beyond MAX_TOKENS. Returns the new toks field.
local function push_token(list, jti, stem)
  list[#list + 1] = jti
  local excess = #list - MAX_TOKENS
  if excess <= 0 then return table.concat(list, ',') end
  for i = 1, excess do redis.call('DEL', stem .. list[i]) end
  return table.concat(list, ',', excess + 1)
end

-- Deletes a session, its tokens and its set member.
local function drop_session(key, set_key, sid, toks)
  local stem = token_stem(key, sid)
  for _, jti in ipairs(token_list(toks, nil)) do redis.call('DEL', stem .. jti) end
  redis.call('DEL', key)
  redis.call('SREM', set_key, sid)
end

-- Returns the session's maxExpiresAt and toks field, or false when it is missing or dead at now (a dead one is
-- removed).
local function live_session(key, set_key, sid, now, idle)
  local v = redis.call('HMGET', key, 'lastUsed', 'maxExpiresAt', 'toks')
  if not v[1] then return false end
  local max_expires_at = tonumber(v[2])
  if now >= math.min(tonumber(v[1]) + idle, max_expires_at) then
    drop_session(key, set_key, sid, v[3])
    return false
  end
  return max_expires_at, v[3] or ''
end

local function touch(key, now_arg, now, idle, max_expires_at, toks)
  if toks then
    redis.call('HSET', key, 'lastUsed', now_arg, 'toks', toks)
  else
    redis.call('HSET', key, 'lastUsed', now_arg)
  end
  redis.call('PEXPIRE', key, int(math.min(now + idle, max_expires_at) - now))
end
`;

/** A script for ioredis `defineCommand`. */
export interface TokenStoreScript {
  numberOfKeys: number;
  lua: string;
}

/** The scripts of RedisTokenStore, by method name. */
export const TOKEN_STORE_SCRIPTS = {
  // KEYS: generation.
  generation: {
    numberOfKeys: 1,
    lua: `return redis.call('GET', KEYS[1]) or '0'`,
  },
  // KEYS: session, session set, token, generation. ARGV: now, sid, ua, ip, token expiresAt, idleTtl, maxTtl,
  // the generation the login read. Returns 0, creating nothing, when a fence moved the generation since.
  createSession: {
    numberOfKeys: 4,
    lua: `${PRELUDE}
if (redis.call('GET', KEYS[4]) or '0') ~= ARGV[8] then return 0 end
local now = tonumber(ARGV[1])
local idle = tonumber(ARGV[6])
local max_ttl = tonumber(ARGV[7])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'created', ARGV[1], 'lastUsed', ARGV[1], 'ua', ARGV[3], 'ip', ARGV[4],
  'counter', '0', 'rotatedAt', ARGV[1], 'maxExpiresAt', int(now + max_ttl),
  'toks', string.sub(KEYS[3], #token_stem(KEYS[1], ARGV[2]) + 1))
redis.call('PEXPIRE', KEYS[1], int(math.min(idle, max_ttl)))
redis.call('SADD', KEYS[2], ARGV[2])
if redis.call('PTTL', KEYS[2]) < max_ttl then
  redis.call('PEXPIRE', KEYS[2], int(max_ttl))
end
allow(KEYS[3], ARGV[2], ARGV[5], now)
return 1
`,
  },
  // KEYS: token, session, session set, next token. ARGV: now, sid, idleTtl, next expiresAt.
  consume: {
    numberOfKeys: 4,
    lua: `${PRELUDE}
local now = tonumber(ARGV[1])
local idle = tonumber(ARGV[3])
if not live_token(KEYS[1], ARGV[2], now) then return 0 end
local max_expires_at, toks = live_session(KEYS[2], KEYS[3], ARGV[2], now, idle)
if not max_expires_at then return 0 end
redis.call('DEL', KEYS[1])
allow(KEYS[4], ARGV[2], ARGV[4], now)
local stem = token_stem(KEYS[2], ARGV[2])
local list = token_list(toks, string.sub(KEYS[1], #stem + 1))
touch(KEYS[2], ARGV[1], now, idle, max_expires_at, push_token(list, string.sub(KEYS[4], #stem + 1), stem))
return 1
`,
  },
  // KEYS: token, session, session set. ARGV: now, sid, idleTtl.
  check: {
    numberOfKeys: 3,
    lua: `${PRELUDE}
local now = tonumber(ARGV[1])
local idle = tonumber(ARGV[3])
if not live_token(KEYS[1], ARGV[2], now) then return 0 end
local max_expires_at = live_session(KEYS[2], KEYS[3], ARGV[2], now, idle)
if not max_expires_at then return 0 end
touch(KEYS[2], ARGV[1], now, idle, max_expires_at)
return 1
`,
  },
  // KEYS: token, session, session set. ARGV: now, sid, idleTtl.
  endSession: {
    numberOfKeys: 3,
    lua: `${PRELUDE}
local now = tonumber(ARGV[1])
local idle = tonumber(ARGV[3])
if not live_token(KEYS[1], ARGV[2], now) then return 0 end
local live, toks = live_session(KEYS[2], KEYS[3], ARGV[2], now, idle)
if not live then return 0 end
redis.call('DEL', KEYS[1])
drop_session(KEYS[2], KEYS[3], ARGV[2], toks)
return 1
`,
  },
  // KEYS: session, session set, next token. ARGV: now, sid, counter, idleTtl, reuseWindow, next expiresAt.
  refresh: {
    numberOfKeys: 3,
    lua: `${PRELUDE}
local now = tonumber(ARGV[1])
local counter = tonumber(ARGV[3])
local idle = tonumber(ARGV[4])
local max_expires_at, toks = live_session(KEYS[1], KEYS[2], ARGV[2], now, idle)
if not max_expires_at then return {'invalid'} end
local state = redis.call('HMGET', KEYS[1], 'counter', 'rotatedAt')
local current = tonumber(state[1])
local function allow_next()
  allow(KEYS[3], ARGV[2], ARGV[6], now)
  local stem = token_stem(KEYS[1], ARGV[2])
  touch(KEYS[1], ARGV[1], now, idle, max_expires_at,
    push_token(token_list(toks, nil), string.sub(KEYS[3], #stem + 1), stem))
end
if counter == current then
  current = current + 1
  redis.call('HSET', KEYS[1], 'counter', int(current), 'rotatedAt', ARGV[1])
  allow_next()
  return {'rotated', current}
end
if counter == current - 1 and tonumber(ARGV[5]) > 0 and now - tonumber(state[2]) <= tonumber(ARGV[5]) then
  allow_next()
  return {'grace', current}
end
if counter < current then
  drop_session(KEYS[1], KEYS[2], ARGV[2], toks)
  return {'reuse'}
end
return {'invalid'}
`,
  },
  // KEYS: session set. ARGV: now, idleTtl, session key prefix. Returns {sid, created, lastUsed, ua, ip} rows.
  listSessions: {
    numberOfKeys: 1,
    lua: `${PRELUDE}
local now = tonumber(ARGV[1])
local idle = tonumber(ARGV[2])
local rows = {}
for _, sid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  -- Undeclared keys, but built from KEYS[1]'s {u:<id>} tag, so they hash to its Redis Cluster slot.
  local key = ARGV[3] .. sid
  local v = redis.call('HMGET', key, 'created', 'lastUsed', 'ua', 'ip', 'maxExpiresAt')
  if not v[1] then
    redis.call('SREM', KEYS[1], sid)
  elseif now >= math.min(tonumber(v[2]) + idle, tonumber(v[5])) then
    redis.call('DEL', key)
    redis.call('SREM', KEYS[1], sid)
  else
    rows[#rows + 1] = {sid, v[1], v[2], v[3], v[4]}
  end
end
return rows
`,
  },
  // KEYS: session, session set. ARGV: now, sid, idleTtl.
  revokeSession: {
    numberOfKeys: 2,
    lua: `${PRELUDE}
local live, toks = live_session(KEYS[1], KEYS[2], ARGV[2], tonumber(ARGV[1]), tonumber(ARGV[3]))
if not live then
  redis.call('SREM', KEYS[2], ARGV[2])
  return 0
end
drop_session(KEYS[1], KEYS[2], ARGV[2], toks)
return 1
`,
  },
  // The fence. KEYS: session set, generation. ARGV: now, idleTtl, session key prefix, maxTtl, the sid to keep
  // (or ''), '1' to fence ('0' for a new account). Moves the generation on in the same step that revokes, so that
  // a login that read the old one cannot create a session afterwards (createSession compares).
  revokeUserSessions: {
    numberOfKeys: 2,
    lua: `${PRELUDE}
local now = tonumber(ARGV[1])
local idle = tonumber(ARGV[2])
if ARGV[6] == '1' then
  redis.call('INCR', KEYS[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
local live = 0
for _, sid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if sid ~= ARGV[5] then
    -- Undeclared keys, but built from KEYS[1]'s {u:<id>} tag, so they hash to its Redis Cluster slot.
    local key = ARGV[3] .. sid
    local v = redis.call('HMGET', key, 'lastUsed', 'maxExpiresAt', 'toks')
    if v[1] and now < math.min(tonumber(v[1]) + idle, tonumber(v[2])) then live = live + 1 end
    drop_session(key, KEYS[1], sid, v[3])
  end
end
return live
`,
  },
} as const satisfies Record<string, TokenStoreScript>;

export type TokenStoreScriptName = keyof typeof TOKEN_STORE_SCRIPTS;

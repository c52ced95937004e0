/**
 * Lua scripts of the Redis backend. Each runs atomically on the node owning its keys' slot; every
 * key it touches is passed in KEYS (all in one namespace, so one slot).
 */
import { createHash } from "node:crypto";

export type RedisScript = Readonly<{ lua: string; sha: string; keys: number }>;

function script(keys: number, lua: string): RedisScript {
  return Object.freeze({ lua, sha: createHash("sha1").update(lua).digest("hex"), keys });
}

/**
 * Writes a value, its metadata (or removes stale metadata) and one TTL for both: one absolute
 * expiry time computed once (Redis 7.0 does not freeze the clock inside a script, so two relative
 * `EX`s could land a millisecond apart).
 * KEYS: value key, metadata key. ARGV: value, TTL seconds or "", "1" if metadata follows, metadata.
 */
export const SET_ENTRY = script(
  2,
  `
if ARGV[2] == '' then
  redis.call('SET', KEYS[1], ARGV[1])
  if ARGV[3] == '1' then redis.call('SET', KEYS[2], ARGV[4]) else redis.call('DEL', KEYS[2]) end
else
  local now = redis.call('TIME')
  local at = string.format('%.0f', tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[2]) * 1000)
  redis.call('SET', KEYS[1], ARGV[1], 'PXAT', at)
  if ARGV[3] == '1' then redis.call('SET', KEYS[2], ARGV[4], 'PXAT', at) else redis.call('DEL', KEYS[2]) end
end
return 1
`,
);

/**
 * Compare-and-swap. KEYS: value key, metadata key. ARGV: "0" (must not exist) or "1" (must equal
 * ARGV[2]), expected, new value. On success the entry is written like a plain set (no TTL, no
 * metadata). Returns 1 when it wrote, 0 otherwise.
 */
export const COMPARE_AND_SWAP = script(
  2,
  `
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '0' then
  if current then return 0 end
elseif current ~= ARGV[2] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[3])
redis.call('DEL', KEYS[2])
return 1
`,
);

/**
 * INCRBY that answers with the new value as a string, for clients that parse integer replies
 * into lossy JavaScript numbers. KEYS: value key. ARGV: delta.
 */
export const INCREMENT_EXACT = script(
  1,
  `
redis.call('INCRBY', KEYS[1], ARGV[1])
return redis.call('GET', KEYS[1])
`,
);

/**
 * One stretch of a SCAN over the keys starting with the literal KEYS[1] (passed as a key so that
 * a cluster routes the call to the slot's node and a client key prefix is applied to it).
 * ARGV: SCAN cursor, keys wanted, SCAN work budget (sum of COUNTs), how many trailing bytes of
 * KEYS[1] to keep on each returned key. Returns { next cursor, keys }. Keys may exceed the number
 * wanted by part of one SCAN batch; the caller carries the surplus over.
 */
export const SCAN_PREFIX = script(
  1,
  String.raw`
local pattern = (string.gsub(KEYS[1], '[%*%?%[%]\\]', '\\%0')) .. '*'
local cursor = ARGV[1]
local want = tonumber(ARGV[2])
local budget = tonumber(ARGV[3])
local from = #KEYS[1] - tonumber(ARGV[4]) + 1
local found = {}
repeat
  local count = want - #found
  if count < 16 then count = 16 end
  if count > budget then count = budget end
  local reply = redis.call('SCAN', cursor, 'MATCH', pattern, 'COUNT', count)
  cursor = reply[1]
  for _, key in ipairs(reply[2]) do found[#found + 1] = string.sub(key, from) end
  budget = budget - count
until cursor == '0' or #found >= want or budget <= 0
return { cursor, found }
`,
);

/**
 * Lua for the audit chains. Per chain three keys: entries (list; index i holds seq base+1+i), head
 * (hash: seq, hash, base, kid, mac) and checkpoints (hash: seq → signed checkpoint JSON).
 */

/**
 * A head's seq or base as stored (a Lua function for the scripts below): absent is 0, a whole number in
 * decimal of at most 15 digits is that number, anything else (written outside the audit log) is nil.
 * verify.ts headNumber reads them the same way.
 */
const WHOLE = `
local function whole(v)
  if not v or v == '0' then return 0 end
  if #v > 15 or not string.match(v, '^[1-9]%d*$') then return nil end
  return tonumber(v)
end`;

/** What READ_PAGE answers first for a head whose seq or base is not a whole number. */
export const UNREADABLE_HEAD_MARK = 'unreadable';

/**
 * Append entries to one or more chains at once, but only if every chain head (seq, hash, base) is
 * still what the caller hashed and signed against (compare-and-set). A writer that lost the race
 * gets the current heads back (seq, hash, base, kid, mac each: it checks their signatures before
 * extending them; then each chain's entry count, which is where a head whose seq is unreadable is
 * continued from) and re-hashes, so concurrent writers in several processes never fork
 * a chain. Unless this very call's entries are there already (`{2}`): the call ran before, its answer lost
 * with a dropped connection, and ioredis sent it again once reconnected, or the caller did (append.ts); the
 * first chain's first entry is where it belongs (all chains are written together; its random nonce, types.ts, makes it
 * this call's and not the same event another process appended in the same millisecond). Heads that moved on
 * since (another process appended meanwhile) do not hide it, as comparing heads did.
 * KEYS: per chain (entries, head, checkpoints).
 * ARGV: per chain a header (expected seq, expected hash, expected base, new seq, new hash, kid, head
 * mac, entry count e, checkpoint count c), then its e entry JSONs, then c pairs (checkpoint seq, checkpoint JSON).
 */
export const APPEND_IF_HEADS = `
local n = #KEYS / 3
local at = {}
local p = 1
for i = 1, n do
  at[i] = p
  p = p + 9 + tonumber(ARGV[p + 7]) + 2 * tonumber(ARGV[p + 8])
end
local function alreadyWritten()
  local seq = tonumber(ARGV[1])
  local base = tonumber(redis.call('HGET', KEYS[2], 'base') or '0')
  if tonumber(ARGV[8]) == 0 or not seq or not base or seq < base then return false end
  -- Entry seq s is at index s - base - 1; read from the tail, where it is (a few appends back at most).
  local fromTail = seq - base - redis.call('LLEN', KEYS[1])
  return fromTail < 0 and redis.call('LINDEX', KEYS[1], fromTail) == ARGV[10]
end
for i = 1, n do
  local a = at[i]
  local head = redis.call('HMGET', KEYS[i * 3 - 1], 'seq', 'hash', 'base')
  if (head[1] or '0') ~= ARGV[a] or (head[2] or '') ~= ARGV[a + 1] or (head[3] or '0') ~= ARGV[a + 2] then
    if alreadyWritten() then return {2} end
    local out = {0}
    for j = 1, n do
      local h = redis.call('HMGET', KEYS[j * 3 - 1], 'seq', 'hash', 'base', 'kid', 'mac')
      table.insert(out, h[1] or '0')
      table.insert(out, h[2] or '')
      table.insert(out, h[3] or '0')
      table.insert(out, h[4] or '')
      table.insert(out, h[5] or '')
    end
    for j = 1, n do table.insert(out, redis.call('LLEN', KEYS[j * 3 - 2])) end
    return out
  end
end
for i = 1, n do
  local a = at[i]
  local e = tonumber(ARGV[a + 7])
  local c = tonumber(ARGV[a + 8])
  redis.call('RPUSH', KEYS[i * 3 - 2], unpack(ARGV, a + 9, a + 8 + e))
  redis.call('HSET', KEYS[i * 3 - 1], 'seq', ARGV[a + 3], 'hash', ARGV[a + 4], 'kid', ARGV[a + 5], 'mac', ARGV[a + 6])
  if c > 0 then redis.call('HSET', KEYS[i * 3], unpack(ARGV, a + 9 + e, a + 8 + e + 2 * c)) end
end
return {1}`;

/**
 * Retention: drop every entry up to a checkpoint (the new base) and the checkpoints before it, and
 * re-sign the head for the new base — only if the head is still the one the caller signed.
 * KEYS: entries, head, checkpoints. ARGV: expected seq, expected hash, expected base, new base, kid, head mac.
 */
export const TRIM_TO_CHECKPOINT = `
local h = redis.call('HMGET', KEYS[2], 'seq', 'hash', 'base')
if (h[1] or '0') ~= ARGV[1] or (h[2] or '') ~= ARGV[2] or (h[3] or '0') ~= ARGV[3] then return 0 end
local base = tonumber(ARGV[3])
local newBase = tonumber(ARGV[4])
if newBase <= base or newBase > tonumber(ARGV[1]) then return 0 end
if redis.call('HEXISTS', KEYS[3], ARGV[4]) == 0 then return 0 end
redis.call('LTRIM', KEYS[1], newBase - base, -1)
redis.call('HSET', KEYS[2], 'base', ARGV[4], 'kid', ARGV[5], 'mac', ARGV[6])
for _, field in ipairs(redis.call('HKEYS', KEYS[3])) do
  if tonumber(field) == nil or tonumber(field) < newBase then redis.call('HDEL', KEYS[3], field) end
end
return 1`;

/**
 * One page, newest first, with exactly what it takes to verify it: the signed checkpoint at or below
 * the page (c0), the one at or above it (c1, or the head), and the entries between them — at most
 * limit + 2 × checkpoint interval, however long the chain is. Atomic, so a concurrent trim cannot
 * shift the list under the indexes.
 * KEYS: entries, head, checkpoints. ARGV: cursor (seq of the oldest entry already shown, 0 = newest), limit, interval.
 * Returns: {seq, hash, base, kid, mac, lo, hi, c0, checkpoint c0 JSON or '', checkpoint c1 JSON or '', entries,
 * when there is nothing to show how many entries the list holds (a deleted head leaves them behind) else 0,
 * 1 if the checkpoint after the head exists (the head was put back to an older one) else 0}.
 * A head whose seq or base is not a whole number: {UNREADABLE_HEAD_MARK, how many entries the list holds}.
 */
export const READ_PAGE = `${WHOLE}
local h = redis.call('HMGET', KEYS[2], 'seq', 'hash', 'base', 'kid', 'mac')
local seq = whole(h[1])
local base = whole(h[3])
if seq == nil or base == nil then return {'${UNREADABLE_HEAD_MARK}', redis.call('LLEN', KEYS[1])} end
local cursor = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local k = tonumber(ARGV[3])
local hi = seq
if cursor > 0 then hi = math.min(seq, cursor - 1) end
local head = {h[1] or '0', h[2] or '', h[3] or '0', h[4] or '', h[5] or ''}
local past = redis.call('HEXISTS', KEYS[3], tostring((math.floor(seq / k) + 1) * k))
if hi <= base then
  table.insert(head, 0); table.insert(head, 0); table.insert(head, 0); table.insert(head, ''); table.insert(head, ''); table.insert(head, {})
  table.insert(head, redis.call('LLEN', KEYS[1])); table.insert(head, past)
  return head
end
local lo = math.max(base + 1, hi - limit + 1)
local c0 = math.floor((lo - 1) / k) * k
if c0 < base then c0 = base end
local c1 = math.ceil(hi / k) * k
local last = math.min(c1, seq)
local cp0 = ''
if c0 > 0 then cp0 = redis.call('HGET', KEYS[3], tostring(c0)) or '' end
local cp1 = ''
if c1 <= seq then cp1 = redis.call('HGET', KEYS[3], tostring(c1)) or '' end
local entries = redis.call('LRANGE', KEYS[1], c0 - base, last - base - 1)
table.insert(head, lo); table.insert(head, hi); table.insert(head, c0); table.insert(head, cp0); table.insert(head, cp1); table.insert(head, entries)
table.insert(head, 0); table.insert(head, past)
return head`;

/**
 * Adopt a chain written before heads and checkpoints were signed: add its checkpoints and sign its
 * head, only if the head is still unsigned and unchanged (the caller verified the whole chain).
 * KEYS: entries, head, checkpoints. ARGV: expected seq, expected hash, kid, head mac, then pairs (checkpoint seq, checkpoint JSON).
 */
export const ADOPT_UNSIGNED = `
local h = redis.call('HMGET', KEYS[2], 'seq', 'hash', 'mac')
if (h[1] or '0') ~= ARGV[1] or (h[2] or '') ~= ARGV[2] or h[3] then return 0 end
redis.call('HSET', KEYS[2], 'kid', ARGV[3], 'mac', ARGV[4])
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]) end
return 1`;

/** Replace a checkpoint's signature (rotation), only if the checkpoint still exists. KEYS: checkpoints. ARGV: seq, checkpoint JSON. */
export const RESIGN_CHECKPOINT = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`;

/**
 * Replace a head's signature (rotation), only if the head is still the one whose signature the
 * caller verified. KEYS: head. ARGV: seq, hash, base, kid, mac as verified, then the new kid and mac.
 */
export const RESIGN_HEAD = `
local h = redis.call('HMGET', KEYS[1], 'seq', 'hash', 'base', 'kid', 'mac')
if (h[1] or '0') ~= ARGV[1] or (h[2] or '') ~= ARGV[2] or (h[3] or '0') ~= ARGV[3] or h[4] ~= ARGV[4] or h[5] ~= ARGV[5] then return 0 end
redis.call('HSET', KEYS[1], 'kid', ARGV[6], 'mac', ARGV[7])
return 1`;

/**
 * Where a page that ends before a time starts: binary search on the entries' times (ISO strings,
 * which order as the times do), atomic, so a trim cannot shift the list between the reads of a
 * search and make an index name another entry. O(log length) entries decoded.
 * KEYS: entries, head. ARGV: the time (ISO). Returns the seq of the first entry at or after it, 0 when every kept entry is older
 * (or the head's base is unreadable: the page from the newest then reports the head).
 */
export const CURSOR_AFTER = `${WHOLE}
local len = redis.call('LLEN', KEYS[1])
local base = whole(redis.call('HGET', KEYS[2], 'base'))
if base == nil then return 0 end
local lo, hi = 0, len
while lo < hi do
  local mid = math.floor((lo + hi) / 2)
  local ok, e = pcall(cjson.decode, redis.call('LINDEX', KEYS[1], mid))
  if ok and type(e) == 'table' and type(e.at) == 'string' and e.at < ARGV[1] then lo = mid + 1 else hi = mid end
end
if lo >= len then return 0 end
return base + lo + 1`;

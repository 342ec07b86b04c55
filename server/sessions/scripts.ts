import { redisScript } from '../redisScript.js';

/**
 * The session store's Redis scripts. A record is a hash: `v` (version), `rec` (the sealed record),
 * `uid` (user id, '' before sign-in), and, while a Render key is set, `cred` (sealed credentials) and
 * `kfp` (the key's fingerprint), and once Render refused that key (401), `krej` ('<kfp> <ms>',
 * MARK_KEY_REJECTED). A destroyed session leaves a tombstone key that every write checks.
 * Each script runs atomically, so "compare and set" has no window between the compare and the set.
 */

/**
 * Create a record: only if neither the record nor a tombstone exists, nor (a derived id's, `sess-used`)
 * a mark that the name or its other key's name ever held a session. KEYS: record, tombstone, then for a
 * derived id its name's mark and the previous key's name's mark, if any. ARGV: rec, ttl, uid, cred, kfp, mark ttl.
 * A derived id (a bearer token's, HMAC(token, generation)) comes back when its record expired in Redis
 * with no tombstone: the mark keeps a new session off the ref an old deploy or watch is bound to.
 */
const CREATE = `
if redis.call('EXISTS', unpack(KEYS)) > 0 then return 0 end
redis.call('HSET', KEYS[1], 'v', '1', 'rec', ARGV[1], 'uid', ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'cred', ARGV[4], 'kfp', ARGV[5]) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if KEYS[3] then redis.call('SET', KEYS[3], '1', 'PX', ARGV[6]) end
return 1`;

/**
 * Whole-record write (the session middleware's save): only when the version is still the one this request
 * loaded. Never touches the credential fields. KEYS: record, tombstone. ARGV: expected v, rec, ttl, uid.
 * Returns the new version, or 0 when the record changed, ended or expired meanwhile.
 */
const WRITE_IF_VERSION = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then return 0 end
local v = redis.call('HGET', KEYS[1], 'v')
if v ~= ARGV[1] then return 0 end
local next = tonumber(v) + 1
redis.call('HSET', KEYS[1], 'v', tostring(next), 'rec', ARGV[2], 'uid', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return next`;

/**
 * Delete the record and leave a tombstone. KEYS: record, tombstone. ARGV: tombstone ttl. Returns false
 * when there was no record, else {uid ('' before sign-in), the other names it went by ('aka', see MOVE)}.
 */
const DESTROY = `
local f = {false, false}
if redis.call('TYPE', KEYS[1]).ok == 'hash' then f = redis.call('HMGET', KEYS[1], 'uid', 'aka') end
local existed = redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
if existed == 0 then return false end
return {f[1] or '', f[2] or ''}`;

/**
 * SECRET_KEY rotation: move a record from its name under one key to its name under the other, in one
 * step, only while it is still the one read (its version and credentials): a sign-out, key change or
 * write landing between the read and the move is never undone by it. During a rolling deploy a session
 * moves back and forth between the two names, so:
 * - the version goes on from the old record's (a request that loaded it before a move back and forth
 *   cannot write over what was written meanwhile, as it could if each move started at 1);
 * - `aka` (a plain field: refs are HMACs) lists every other name the session went by, so its end is
 *   announced and its deploys are found under all of them;
 * - the pointer from the old name is set and the one from the new name deleted: pointers always lead
 *   to where the record is, and a ping-pong never leaves a cycle.
 * - a mark that Render refused the key (`krej`) goes with the key;
 * - a derived id's mark (`sess-used`, CREATE) goes with it to the new name, for as long as it had left:
 *   that name has held a session now, and must not be given to another one.
 * KEYS: from record, to record, to tombstone, from pointer, to pointer, from mark, to mark, user index (or none before sign-in).
 * ARGV: version read, credentials read ('' none), rec, ttl, uid, cred ('' none), pointer/index ttl, to ref, from ref.
 * Returns the new version; 0 when the new name is taken or tombstoned, or the old record is gone; -1 when it changed.
 */
const MOVE = `
if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then return 0 end
local f = redis.call('HMGET', KEYS[1], 'v', 'cred', 'kfp', 'aka', 'krej')
if f[1] ~= ARGV[1] or (f[2] or '') ~= ARGV[2] then return -1 end
local v = tonumber(f[1]) + 1
redis.call('HSET', KEYS[2], 'v', tostring(v), 'rec', ARGV[3], 'uid', ARGV[5])
if ARGV[6] ~= '' then redis.call('HSET', KEYS[2], 'cred', ARGV[6], 'kfp', f[3] or '') end
if ARGV[6] ~= '' and f[5] then redis.call('HSET', KEYS[2], 'krej', f[5]) end
local aka = {}
for name in string.gmatch(f[4] or '', '%S+') do
  if name ~= ARGV[8] and name ~= ARGV[9] then aka[#aka + 1] = name end
end
aka[#aka + 1] = ARGV[9]
redis.call('HSET', KEYS[2], 'aka', table.concat(aka, ' '))
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('DEL', KEYS[1], KEYS[5])
redis.call('SET', KEYS[4], ARGV[8], 'PX', ARGV[7])
local marked = redis.call('PTTL', KEYS[6])
if marked > 0 and redis.call('PTTL', KEYS[7]) < marked then redis.call('SET', KEYS[7], '1', 'PX', marked) end
if KEYS[8] then
  redis.call('SREM', KEYS[8], ARGV[9])
  redis.call('SADD', KEYS[8], ARGV[8])
  redis.call('PEXPIRE', KEYS[8], ARGV[7])
end
return v`;

/**
 * Store credentials in a live session of this user. KEYS: record, tombstone. ARGV: cred, kfp, uid, and
 * the same key's fingerprint under the previous SECRET_KEY with the credentials sealed naming it ('' '':
 * none): a session that stored this key before a rotation keeps naming it so (its deploys carry it); then
 * the fingerprint the request found in the session ('': none), stored only while it is still that one, or
 * the session already holds this same key (two setups of one key at once: both succeed, it is stored).
 * Returns {1, previous kfp or '', kfp stored}, {0, '', ''} when the session is gone (or not this user's),
 * or {2, kfp now, ''} when its key changed since the request read it (cleared or replaced in another tab).
 * ARGV[7]: when Render was asked about the key (at key setup, the key's `verifiedAt`). A key stored drops the mark that Render
 * refused a key (`krej`), unless it names this same key and was made after Render was asked: the key was
 * revoked while its check (or a workspaces refresh) was answered, and a call since met the refusal.
 */
const STORE_CREDENTIALS = `
if redis.call('EXISTS', KEYS[2]) == 1 then return {0, '', ''} end
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then return {0, '', ''} end
if redis.call('HGET', KEYS[1], 'uid') ~= ARGV[3] then return {0, '', ''} end
local previous = redis.call('HGET', KEYS[1], 'kfp') or ''
if previous ~= ARGV[6] and previous ~= ARGV[2] and (ARGV[4] == '' or previous ~= ARGV[4]) then return {2, previous, ''} end
local kept = (ARGV[4] ~= '' and previous == ARGV[4]) and previous or ARGV[2]
local mark = redis.call('HGET', KEYS[1], 'krej')
if mark then
  local marked, at = string.match(mark, '^(%S+) (%d+)$')
  if marked ~= kept or not at or tonumber(at) < tonumber(ARGV[7]) then redis.call('HDEL', KEYS[1], 'krej') end
end
if ARGV[4] ~= '' and previous == ARGV[4] then
  redis.call('HSET', KEYS[1], 'cred', ARGV[5])
  return {1, previous, previous}
end
redis.call('HSET', KEYS[1], 'cred', ARGV[1], 'kfp', ARGV[2])
return {1, previous, ARGV[2]}`;

/** Clear credentials. KEYS: record. Returns the fingerprint that was removed, or '' when none was set. */
const CLEAR_CREDENTIALS = `
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then return '' end
local previous = redis.call('HGET', KEYS[1], 'kfp') or ''
redis.call('HDEL', KEYS[1], 'cred', 'kfp', 'krej')
return previous`;

/**
 * Note that Render refused the session's key (a 401 to a call made with it), only while the session still
 * holds that key: one replaced or cleared meanwhile (another tab) is not marked, and an ended session is
 * never written (a tombstone, or no record: HSET would make one). KEYS: record, tombstone. ARGV: kfp the
 * call was made with, uid, the mark ('<kfp> <ms>'). Returns 1 when marked, 2 when already marked for that
 * key (nothing written: each write drops every process's cached copy), 0 when the session is gone, is not
 * this user's or holds another key (or none).
 */
const MARK_KEY_REJECTED = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then return 0 end
local f = redis.call('HMGET', KEYS[1], 'uid', 'kfp', 'krej')
if f[1] ~= ARGV[2] or f[2] ~= ARGV[1] then return 0 end
if f[3] and string.sub(f[3], 1, #ARGV[1] + 1) == ARGV[1] .. ' ' then return 2 end
redis.call('HSET', KEYS[1], 'krej', ARGV[3])
return 1`;

/** Re-seal after a SECRET_KEY rotation, only if the credentials are still the ones that were read. KEYS: record. */
const RESEAL_CREDENTIALS = `
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then return 0 end
if redis.call('HGET', KEYS[1], 'cred') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'cred', ARGV[2])
return 1`;

const script = redisScript;

export const sessionScripts = {
  create: script(CREATE),
  writeIfVersion: script(WRITE_IF_VERSION),
  destroy: script(DESTROY),
  move: script(MOVE),
  storeCredentials: script(STORE_CREDENTIALS),
  clearCredentials: script(CLEAR_CREDENTIALS),
  markKeyRejected: script(MARK_KEY_REJECTED),
  resealCredentials: script(RESEAL_CREDENTIALS),
};

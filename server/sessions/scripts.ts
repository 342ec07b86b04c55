import { redisScript } from '../redisScript.js';

/**
 * The session store's Redis scripts. A record is a hash: `v` (version), `rec` (the sealed record),
 * `uid` (user id, '' before sign-in), and, while a Render key is set, `cred` (sealed credentials) and
 * `kfp` (the key's fingerprint). A destroyed session leaves a tombstone key that every write checks.
 * Each script runs atomically, so "compare and set" has no window between the compare and the set.
 */

/** Create a record: only if neither the record nor a tombstone exists. KEYS: record, tombstone. */
const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', '1', 'rec', ARGV[1], 'uid', ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'cred', ARGV[4], 'kfp', ARGV[5]) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
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

/** Delete the record and leave a tombstone. KEYS: record, tombstone. ARGV: tombstone ttl. Returns the uid it had, or false. */
const DESTROY = `
local uid = false
if redis.call('TYPE', KEYS[1]).ok == 'hash' then uid = redis.call('HGET', KEYS[1], 'uid') end
local existed = redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
if existed == 0 then return false end
return uid or ''`;

/**
 * Store credentials in a live session of this user. KEYS: record, tombstone. ARGV: cred, kfp, uid, and
 * the same key's fingerprint under the previous SECRET_KEY with the credentials sealed naming it ('' '':
 * none): a session that stored this key before a rotation keeps naming it so (its deploys carry it).
 * Returns {1, previous kfp or '', kfp stored} or {0, '', ''} when the session is gone (or not this user's).
 */
const STORE_CREDENTIALS = `
if redis.call('EXISTS', KEYS[2]) == 1 then return {0, '', ''} end
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then return {0, '', ''} end
if redis.call('HGET', KEYS[1], 'uid') ~= ARGV[3] then return {0, '', ''} end
local previous = redis.call('HGET', KEYS[1], 'kfp') or ''
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
redis.call('HDEL', KEYS[1], 'cred', 'kfp')
return previous`;

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
  storeCredentials: script(STORE_CREDENTIALS),
  clearCredentials: script(CLEAR_CREDENTIALS),
  resealCredentials: script(RESEAL_CREDENTIALS),
};

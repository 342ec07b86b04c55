import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { redisScript } from '../redisScript.js';
import { TERMINAL_STATUSES, type DeploymentRecord } from './types.js';

/**
 * The deployment store's Redis scripts: every record write is ONE round trip that also keeps the
 * indexes and publishes the live update (issue 17), so a change is never half-applied and a worker
 * pays one EVALSHA per transition. The MAC is computed in Node before the call (Redis never sees
 * SECRET_KEY); the scripts only decide whether the write may happen.
 *
 * Cost, measured in-process against a private Redis (a deploy's record work: create, 9 changes, 3
 * verified reads): 0.35 ms CPU and 47 Redis commands, from 0.45–0.50 ms and 57 with separate index
 * and publish calls. The rest of a deploy's ~12 ms is BullMQ, the GitHub and Render clients (bench/).
 */

/** Lua: the terminal statuses, so a script can tell without an argument. */
const TERMINAL_TABLE = `local terminal = {${TERMINAL_STATUSES.map((s) => `['${s}'] = true`).join(', ')}}`;

/**
 * Lua: the user's deployments of one Render service (zset by creation time) and the services their
 * deployments point at (serviceId → workspace id); both expire with the records. Runs only when the
 * caller passed the two index keys (KEYS[n], KEYS[n + 1]) and the service arguments.
 */
const INDEX_SERVICE = `
local function indexService(byService, services, id, serviceId, score, ownerId, ttl)
  redis.call('ZADD', byService, score, id)
  redis.call('PEXPIRE', byService, ttl)
  redis.call('HSET', services, serviceId, ownerId)
  redis.call('PEXPIRE', services, ttl)
end`;

/**
 * A change to an existing record, as a compare-and-set on the exact JSON the caller verified: the
 * stored JSON's sha1 must be ARGV[2], else -2 (someone else wrote it: the caller reads and verifies it
 * again, so no write launders a forgery). Checked before the guard: a guard naming the status of an
 * older copy would otherwise refuse (and drop) a change the caller would make on the fresh one. Guard ARGV[1]: '' = only while the status is not terminal
 * (a late worker write never resurrects a canceled or revoked record); a status = only while it is
 * exactly that one (changes made after the end: live → deactivated, a note on a finished record).
 * ARGV[9] '1': only while no other deployment of the user is indexed under the record's service
 * (KEYS[6]), else nothing is written and their ids come back: a deploy going live first has the older
 * ones deactivated (the usual first deploy of a new service has none, and costs no read for them).
 * When the new status is terminal: leaves the user's unfinished set and deletes the sealed env values
 * (an end, however it comes, needs them no more; a later write on an ended record deletes any an
 * older version left). A record leaving `queued` leaves the queued index (its job has run: the orphan
 * sweep, workers/orphanSweep.ts, looks only at records still queued) and its user's pending set (the
 * fair enqueuer's count of jobs not yet started: a job canceled or revoked while queued never starts,
 * and left there it would cost its user's later deploys a priority step each). Indexes the service
 * when asked, publishes the event.
 * KEYS: record, active set, events channel, env values, queued index, user's pending set, [by-service zset, [services hash]].
 * ARGV: guard, sha1, json, mac, status, id, event, ttl ms, sole, [serviceId, score, ownerId].
 * Returns 1 written, 0 refused by the guard, -1 missing, -2 changed since the caller's copy, or the
 * other ids of the service (ARGV[9]).
 */
const WRITE_CHANGE = `${TERMINAL_TABLE}${INDEX_SERVICE}
local stored = redis.call('HMGET', KEYS[1], 'status', 'json')
if not stored[1] then return -1 end
if redis.sha1hex(stored[2] or '') ~= ARGV[2] then return -2 end
if ARGV[1] == '' then
  if terminal[stored[1]] then return 0 end
elseif stored[1] ~= ARGV[1] then return 0 end
if ARGV[9] == '1' then
  local others = {}
  for _, member in ipairs(redis.call('ZRANGE', KEYS[7], 0, -1)) do
    if member ~= ARGV[6] then others[#others + 1] = member end
  end
  if #others > 0 then return others end
end
redis.call('HSET', KEYS[1], 'json', ARGV[3], 'mac', ARGV[4], 'status', ARGV[5])
if terminal[ARGV[5]] then
  redis.call('SREM', KEYS[2], ARGV[6])
  redis.call('DEL', KEYS[4])
end
if stored[1] == 'queued' and ARGV[5] ~= 'queued' then
  redis.call('ZREM', KEYS[5], ARGV[6])
  redis.call('ZREM', KEYS[6], ARGV[6])
end
if #KEYS == 8 then indexService(KEYS[7], KEYS[8], ARGV[6], ARGV[10], ARGV[11], ARGV[12], ARGV[8]) end
redis.call('PUBLISH', KEYS[3], ARGV[7])
return 1`;

/**
 * A whole record: 'create' (refused, 0, when the key exists; lists it under the user, whose list drops the ids
 * of records past the retention: it grew with every deployment ever made, and paged as empty pages) or 'replace'
 * (a quarantined record over a tampered one). The user's unfinished set follows the status; a
 * terminal one deletes the sealed env values (as in WRITE_CHANGE). A record created queued joins the
 * queued index (by its creation time) until its job's first run moves it on; a replaced one leaves it,
 * and its user's pending set.
 * KEYS: record, active set, events channel, user's list, env values, queued index, user's pending set, [by-service zset, services hash].
 * ARGV: mode, json, mac, status, userId, id, event, ttl ms, score, [serviceId, ownerId].
 */
const PUT_RECORD = `${TERMINAL_TABLE}${INDEX_SERVICE}
if ARGV[1] == 'create' then
  if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
else
  redis.call('DEL', KEYS[1])
end
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'mac', ARGV[3], 'status', ARGV[4], 'userId', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[8])
if ARGV[1] == 'create' then
  redis.call('ZADD', KEYS[4], ARGV[9], ARGV[6])
  -- Records live ttl ms from their creation: the user's list drops the ids older than that, and lives as long as its newest.
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. (tonumber(ARGV[9]) - tonumber(ARGV[8])))
  redis.call('PEXPIRE', KEYS[4], ARGV[8])
end
if terminal[ARGV[4]] then
  redis.call('SREM', KEYS[2], ARGV[6])
  redis.call('DEL', KEYS[5])
else
  redis.call('SADD', KEYS[2], ARGV[6])
end
if ARGV[1] == 'create' and ARGV[4] == 'queued' then
  redis.call('ZADD', KEYS[6], ARGV[9], ARGV[6])
else
  redis.call('ZREM', KEYS[6], ARGV[6])
  redis.call('ZREM', KEYS[7], ARGV[6])
end
if #KEYS == 9 then indexService(KEYS[8], KEYS[9], ARGV[6], ARGV[10], ARGV[9], ARGV[11], ARGV[8]) end
redis.call('PUBLISH', KEYS[3], ARGV[7])
return 1`;

/** Re-sign a record made under the previous SECRET_KEY, unless it changed since it was verified. KEYS: record. ARGV: json, mac. */
const RESIGN_IF_UNCHANGED = `
if redis.call('HGET', KEYS[1], 'json') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'mac', ARGV[2])
return 1`;

const writeChangeScript = redisScript(WRITE_CHANGE);
const putRecordScript = redisScript(PUT_RECORD);
export const resignIfUnchanged = redisScript(RESIGN_IF_UNCHANGED);

/** The keys a write touches (`env`: the record's sealed env values, deleted when it ends). */
interface RecordKeys { record: string; active: string; channel: string; env: string; queued: string; pending: string }
/** The service index to add the record to (its own keys, passed only when it changes). */
export interface ServiceIndex { byService: string; services: string; serviceId: string; ownerId: string; score: number }
/** A record as it goes to Redis: its JSON and the MAC made over it in Node. */
export interface SignedRecord { id: string; json: string; mac: string; status: string; event: string }

type ChangeResult = 'written' | 'refused' | 'missing' | 'changed';
const CHANGE_RESULTS = new Map<unknown, ChangeResult>([[1, 'written'], [0, 'refused'], [-1, 'missing'], [-2, 'changed']]);

/**
 * Write a change over the stored JSON whose sha1 is `baseSha` (see WRITE_CHANGE). `soleOf`: the
 * record's by-service index, when the change may only be written while no other deployment is in it;
 * the others' ids come back instead (`{ others }`), nothing written.
 */
export async function writeChange(redis: Redis, keys: RecordKeys, rec: SignedRecord, o: {
  baseSha: string; onlyIfStatus: string | null; ttlMs: number; index: ServiceIndex | null; soleOf?: string | null;
}): Promise<ChangeResult | { others: string[] }> {
  const index = o.index ? [o.index.serviceId, o.index.score, o.index.ownerId] : [];
  const indexKeys = o.index ? [o.index.byService, o.index.services] : o.soleOf ? [o.soleOf] : [];
  if (o.index && o.soleOf && o.soleOf !== o.index.byService) throw new Error('the sole-of-service check names another service than the index');
  const result = await writeChangeScript(redis,
    [keys.record, keys.active, keys.channel, keys.env, keys.queued, keys.pending, ...indexKeys],
    [o.onlyIfStatus ?? '', o.baseSha, rec.json, rec.mac, rec.status, rec.id, rec.event, o.ttlMs, o.soleOf ? '1' : '', ...index]);
  if (Array.isArray(result)) return { others: result.map(String) };
  const known = CHANGE_RESULTS.get(result);
  if (!known) throw new Error(`unexpected answer from the record write script: ${String(result)}`);
  return known;
}

/** Write a whole record (see PUT_RECORD). Returns false when 'create' found the key taken. */
export async function putRecord(redis: Redis, keys: RecordKeys & { byUser: string }, rec: SignedRecord & { userId: number }, o: {
  mode: 'create' | 'replace'; ttlMs: number; score: number; index: ServiceIndex | null;
}): Promise<boolean> {
  // The by-service score is the record's creation time, as in the user's list (o.score).
  const index = o.index ? [o.index.serviceId, o.index.ownerId] : [];
  const result = await putRecordScript(redis,
    [keys.record, keys.active, keys.channel, keys.byUser, keys.env, keys.queued, keys.pending, ...(o.index ? [o.index.byService, o.index.services] : [])],
    [o.mode, rec.json, rec.mac, rec.status, rec.userId, rec.id, rec.event, o.ttlMs, o.score, ...index]);
  return result === 1;
}

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

/** A verified record's stored JSON: the base of a change, compared by the script through its sha1. */
export interface RecordBase { rec: DeploymentRecord; json: string; sha: string }
export const baseOf = (json: string, rec = JSON.parse(json) as DeploymentRecord): RecordBase => ({ rec, json, sha: sha1(json) });

/**
 * Records this process verified or wrote last, by id, as their stored JSON: the base of the next
 * change without reading it back. Bounded; an entry is only ever a guess that WRITE_CHANGE checks.
 * Kept as JSON so each use parses its own copy (callers may change the record they were handed).
 */
export function createKnownRecords(max = 5_000) {
  const known = new Map<string, string>();
  return {
    get(id: string): RecordBase | undefined {
      const json = known.get(id);
      return json === undefined ? undefined : baseOf(json);
    },
    set(id: string, json: string) {
      known.delete(id);
      if (known.size >= max) { const oldest = known.keys().next(); if (!oldest.done) known.delete(oldest.value); }
      known.set(id, json);
    },
    forget: (id: string) => { known.delete(id); },
  };
}

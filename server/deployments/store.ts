import type { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import { signIntegrity, verifyIntegrity, type Keyring } from '../crypto/keyring.js';
import { quarantinedRecord, recordMacInput, RecordTamperedError } from './integrity.js';
import { createKnownRecords, transitionScript } from './transition.js';
import { isTerminal, TERMINAL_STATUSES, type DeploymentRecord, type DeploymentStatus, type ReplacedBy, type TimelineEntry } from './types.js';

/** Render-style ids: prefix + 20 characters of [0-9a-z]. Never all digits, never a colon (BullMQ job ids). */
export function newDeploymentId(): string {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';
  const bytes = randomBytes(20);
  let out = 'dpl-';
  for (const b of bytes) out += alphabet[b % 36];
  return out;
}

export const DEPLOYMENT_ID = /^dpl-[0-9a-z]{20}$/;

// Re-sign a record made under the previous SECRET_KEY, unless it changed since it was verified.
const RESIGN_IF_UNCHANGED = `
if redis.call('HGET', KEYS[1], 'json') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'mac', ARGV[2])
return 1`;

// Write the record only while its status is still ARGV[4] (a compare-and-set for changes made after
// the end: live → deactivated, or a note on a finished record). Returns 1 when written.
const UPDATE_IF_STATUS = `
if redis.call('HGET', KEYS[1], 'status') ~= ARGV[4] then return 0 end
redis.call('HSET', KEYS[1], 'json', ARGV[1], 'mac', ARGV[2], 'status', ARGV[3])
return 1`;

export interface DeploymentPage { items: DeploymentRecord[]; nextCursor: string | null }

/** A record as stored: missing, verified (ours), or failing its MAC (with the user id it claims, if any). */
export type Inspection =
  | { state: 'missing' }
  | { state: 'valid'; record: DeploymentRecord }
  | { state: 'tampered'; claimedUserId: number | null; stored: unknown };

/**
 * Deployment records in Redis, keyed by the caller's GitHub id: a hash per record, a sorted set per
 * user (newest first), a set of the user's unfinished ones, and a pub/sub channel per user for live updates.
 */
export function createDeploymentStore(opts: { redis: Redis; prefix: string; clock: Clock; keyring: Keyring; retentionMs?: number }) {
  const { redis, prefix, clock, keyring } = opts;
  const retentionMs = opts.retentionMs ?? 30 * 24 * 3_600_000;
  const k = {
    record: (id: string) => `${prefix}:deployment:${id}`,
    byUser: (userId: number) => `${prefix}:user:${userId}:deployments`,
    active: (userId: number) => `${prefix}:user:${userId}:active`,
    channel: (userId: number) => `${prefix}:events:${userId}`,
    /** A user's deployments of one Render service (zset by creation time). */
    byService: (userId: number, serviceId: string) => `${prefix}:user:${userId}:service:${serviceId}`,
    /** The Render services a user's deployments point at: serviceId → workspace id. */
    services: (userId: number) => `${prefix}:user:${userId}:services`,
  };
  const iso = () => new Date(clock.now()).toISOString();
  const known = createKnownRecords();

  const signed = (rec: DeploymentRecord) => {
    const json = JSON.stringify(rec);
    return { json, mac: signIntegrity(recordMacInput(rec.id, json), keyring) };
  };

  /** Read and verify a record. One made under SECRET_KEY_PREVIOUS verifies and is re-signed with the current key. */
  async function inspect(id: string): Promise<Inspection> {
    if (!DEPLOYMENT_ID.test(id)) return { state: 'missing' };
    const [json, mac] = await redis.hmget(k.record(id), 'json', 'mac');
    if (!json) return { state: 'missing' };
    const which = verifyIntegrity(recordMacInput(id, json), mac, keyring);
    let stored: unknown = null;
    try { stored = JSON.parse(json); } catch { /* unreadable: tampered */ }
    const claimed = (stored as { userId?: unknown; id?: unknown } | null);
    if (!which || !stored || claimed?.id !== id) {
      const userId = typeof claimed?.userId === 'number' && Number.isSafeInteger(claimed.userId) && claimed.userId > 0 ? claimed.userId : null;
      return { state: 'tampered', claimedUserId: userId, stored };
    }
    if (which === 'previous') await redis.eval(RESIGN_IF_UNCHANGED, 1, k.record(id), json, signIntegrity(recordMacInput(id, json), keyring));
    return { state: 'valid', record: stored as DeploymentRecord };
  }

  /** A verified record, or null when it is missing or fails its MAC (never shown, never acted on). */
  async function get(id: string): Promise<DeploymentRecord | null> {
    const found = await inspect(id);
    return found.state === 'valid' ? found.record : null;
  }

  /** The current record for a change: throws when it fails its MAC, so no write launders a forgery. */
  async function current(id: string): Promise<DeploymentRecord | null> {
    const found = await inspect(id);
    if (found.state === 'tampered') throw new RecordTamperedError(id);
    return found.state === 'valid' ? found.record : null;
  }

  /** Remember which service a deployment is of (for deactivation and deleted-service reconciliation). */
  async function indexService(rec: DeploymentRecord): Promise<void> {
    await redis.multi()
      .zadd(k.byService(rec.userId, rec.serviceId!), Date.parse(rec.createdAt), rec.id)
      .pexpire(k.byService(rec.userId, rec.serviceId!), retentionMs)
      .hset(k.services(rec.userId), rec.serviceId!, rec.request.ownerId)
      .pexpire(k.services(rec.userId), retentionMs)
      .exec();
  }

  const eventOf = (rec: DeploymentRecord) => JSON.stringify({ type: 'deployment', id: rec.id, status: rec.status, updatedAt: rec.updatedAt });
  async function publish(rec: DeploymentRecord): Promise<void> {
    await redis.publish(k.channel(rec.userId), eventOf(rec));
  }

  /**
   * Write a change in one round trip (transition.ts), a late write never resurrecting a terminal
   * record. Based on `base` (verified or written here); when Redis no longer holds that exact JSON,
   * the record is read and verified again and the change re-applied to it, once.
   */
  async function applyChange(id: string, build: (before: DeploymentRecord, now: string) => DeploymentRecord): Promise<DeploymentRecord | null> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const guess = attempt === 0 ? known.get(id) : undefined;
      const before = guess?.rec ?? await current(id);
      if (!before || isTerminal(before.status)) { known.forget(id); return null; }
      const next = build(before, iso());
      const { json, mac } = signed(next);
      const terminal = isTerminal(next.status);
      const written = await transitionScript(redis, [k.record(id), k.active(next.userId), k.channel(next.userId)], [
        guess?.sha ?? '', json, mac, next.status, terminal ? '1' : '', id, eventOf(next), ...TERMINAL_STATUSES,
      ]);
      if (written === -2 && guess) { known.forget(id); continue; }
      if (written !== 1 || terminal) { known.forget(id); return written === 1 ? next : null; }
      known.set(id, json);
      return next;
    }
    return null;
  }

  return {
    keys: k,
    get,
    inspect,
    /** The record only if it belongs to userId: anyone else's id looks exactly like a missing one. */
    async getForUser(id: string, userId: number): Promise<DeploymentRecord | null> {
      const rec = await get(id);
      return rec && rec.userId === userId ? rec : null;
    },

    async create(rec: DeploymentRecord): Promise<void> {
      const score = Date.parse(rec.createdAt);
      const { json, mac } = signed(rec);
      const results = await redis.multi()
        .hset(k.record(rec.id), 'json', json, 'mac', mac, 'status', rec.status, 'userId', String(rec.userId))
        .pexpire(k.record(rec.id), retentionMs)
        .zadd(k.byUser(rec.userId), score, rec.id)
        .sadd(k.active(rec.userId), rec.id)
        .exec();
      // MULTI reports a failed command in its results, not by rejecting: a half-written record is an error.
      const failed = results?.find(([err]) => err);
      if (!results || failed) throw failed?.[0] ?? new Error('deployment record write was aborted');
      if (rec.serviceId) await indexService(rec);
      await publish(rec);
    },

    /** Undo create() for a request that failed before its job was queued: nobody ever saw its id. */
    async discard(id: string, userId: number): Promise<void> {
      await redis.multi().del(k.record(id)).zrem(k.byUser(userId), id).srem(k.active(userId), id).exec();
    },

    /**
     * Replace a tampered record of a real user with a failed one we signed (integrity.ts
     * quarantinedRecord), so the owner sees what happened and nothing can act on it.
     */
    async quarantine(id: string, userId: number, stored: unknown): Promise<DeploymentRecord> {
      const rec = quarantinedRecord(id, userId, stored, iso());
      const { json, mac } = signed(rec);
      await redis.multi().del(k.record(id))
        .hset(k.record(id), 'json', json, 'mac', mac, 'status', rec.status, 'userId', String(userId))
        .pexpire(k.record(id), retentionMs)
        .srem(k.active(userId), id)
        .exec();
      await publish(rec);
      return rec;
    },

    /**
     * During a SECRET_KEY rotation: re-sign every record still signed with the previous key (each
     * worker runs this once at start), so finished records nobody opens during the overlap still
     * verify once SECRET_KEY_PREVIOUS is removed. Returns how many were re-signed.
     */
    async resignStale(): Promise<number> {
      const previous = keyring.previous;
      if (!previous) return 0;
      let cursor = '0';
      let resigned = 0;
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:deployment:dpl-*`, 'COUNT', 500);
        cursor = next;
        for (const key of keys) {
          const id = key.slice(`${prefix}:deployment:`.length);
          if (!DEPLOYMENT_ID.test(id)) continue; // the sealed env values live next to the records
          const mac = await redis.hget(key, 'mac');
          if (mac?.split('.')[1] !== previous.kid) continue;
          if ((await inspect(id)).state === 'valid') resigned++;
        }
      } while (cursor !== '0');
      return resigned;
    },

    /** Is this id in the user's own list (a deployment of a real user, as opposed to a stray key)? */
    async listedFor(id: string, userId: number): Promise<boolean> {
      return (await redis.zscore(k.byUser(userId), id)) !== null;
    },

    /**
     * Apply a change (and, when the status changes, a timeline entry). Returns the new record, or null
     * when the record is gone or already terminal (the change is then dropped). Throws
     * RecordTamperedError when the stored record fails its MAC.
     */
    async update(id: string, change: Partial<DeploymentRecord>, timeline?: Omit<TimelineEntry, 'at'>): Promise<DeploymentRecord | null> {
      let serviceBefore: string | null | undefined;
      const next = await applyChange(id, (before, now) => {
        serviceBefore = before.serviceId;
        const rec: DeploymentRecord = { ...before, ...change, updatedAt: now };
        if (timeline) rec.timeline = [...before.timeline, { ...timeline, at: now }];
        if (isTerminal(rec.status)) rec.finishedAt = now;
        return rec;
      });
      if (next?.serviceId && next.serviceId !== serviceBefore) await indexService(next);
      return next;
    },

    /**
     * Record where a finished deployment's service ended up (a cancel that raced a creation): ids
     * only, the status stays as it is.
     */
    async noteAfterEnd(id: string, fields: Pick<Partial<DeploymentRecord>, 'serviceId' | 'dashboardUrl' | 'serviceUrl'>): Promise<void> {
      const before = await current(id);
      if (!before || before.serviceId) return;
      const next = { ...before, ...fields, updatedAt: iso() };
      const { json, mac } = signed(next);
      known.forget(id);
      await redis.hset(k.record(id), 'json', json, 'mac', mac);
      if (next.serviceId) await indexService(next);
      await publish(next);
    },

    /**
     * A newer deploy of the same service went live: this one, if still live, becomes Render's
     * `deactivated`, saying what replaced it. Returns the new record, or null when it was not live.
     */
    async markReplaced(id: string, replacedBy: ReplacedBy): Promise<DeploymentRecord | null> {
      const before = await get(id); // a record failing its MAC is left alone, never re-signed
      if (!before || before.status !== 'live') return null;
      const next: DeploymentRecord = {
        ...before, status: 'deactivated', replacedBy, updatedAt: iso(),
        timeline: [...before.timeline, { status: 'deactivated', at: replacedBy.at || iso(), source: 'render', note: 'Replaced by a newer deploy of this service' }],
      };
      const { json, mac } = signed(next);
      known.forget(id);
      if (await redis.eval(UPDATE_IF_STATUS, 1, k.record(id), json, mac, next.status, 'live') !== 1) return null;
      await publish(next);
      return next;
    },

    /** The service is gone from Render: every deployment of it says so (their statuses stay as they were). */
    async markServiceDeleted(userId: number, serviceId: string): Promise<number> {
      const ids = await redis.zrange(k.byService(userId, serviceId), '0', '-1');
      const at = iso();
      let marked = 0;
      for (const id of ids) {
        const before = await get(id); // a record failing its MAC is skipped, never re-signed
        if (!before || before.userId !== userId || before.serviceDeletedAt) continue;
        const next: DeploymentRecord = { ...before, serviceDeletedAt: at, updatedAt: at };
        const { json, mac } = signed(next);
        known.forget(id);
        if (await redis.eval(UPDATE_IF_STATUS, 1, k.record(id), json, mac, next.status, before.status) === 1) {
          marked++;
          await publish(next);
        }
      }
      await redis.hdel(k.services(userId), serviceId);
      return marked;
    },

    /** The user's deployments of one service, oldest first. */
    async idsOfService(userId: number, serviceId: string): Promise<string[]> {
      return redis.zrange(k.byService(userId, serviceId), '0', '-1');
    },

    /** The services the user's deployments point at, with their workspace ids. */
    async servicesOfUser(userId: number): Promise<Record<string, string>> {
      return redis.hgetall(k.services(userId));
    },

    /** Move to a status with a timeline entry (no-op when already there without a note). */
    async transition(id: string, status: DeploymentStatus, source: TimelineEntry['source'], extra: Partial<DeploymentRecord> = {}, note?: string) {
      return this.update(id, { ...extra, status }, { status, source, ...(note ? { note } : {}) });
    },

    async listForUser(userId: number, opts: { limit: number; cursor?: string | null }): Promise<DeploymentPage> {
      const key = k.byUser(userId);
      let entries: string[];
      let after: { score: number; id: string } | null = null;
      if (opts.cursor) {
        const m = /^(\d+)_(dpl-[0-9a-z]{20})$/.exec(opts.cursor);
        if (!m) return { items: [], nextCursor: null };
        after = { score: Number(m[1]), id: m[2]! };
        const sameScore = await redis.zcount(key, after.score, after.score);
        entries = await redis.zrevrangebyscore(key, after.score, '-inf', 'WITHSCORES', 'LIMIT', 0, opts.limit + sameScore + 1);
      } else {
        entries = await redis.zrevrangebyscore(key, '+inf', '-inf', 'WITHSCORES', 'LIMIT', 0, opts.limit + 1);
      }
      const pairs: Array<{ id: string; score: number }> = [];
      for (let i = 0; i < entries.length; i += 2) pairs.push({ id: entries[i]!, score: Number(entries[i + 1]) });
      // Equal scores come in reverse lexical order; skip everything up to and including the cursor.
      const rest = after ? pairs.filter((p) => p.score < after.score || (p.score === after.score && p.id < after.id)) : pairs;
      const page = rest.slice(0, opts.limit);
      const records = await Promise.all(page.map((p) => get(p.id)));
      const items = records.filter((r): r is DeploymentRecord => r !== null);
      const last = page[page.length - 1];
      return { items, nextCursor: rest.length > opts.limit && last ? `${last.score}_${last.id}` : null };
    },

    /** Unfinished deployments of a user (for credential revocation). */
    async activeIds(userId: number): Promise<string[]> {
      return redis.smembers(k.active(userId));
    },
  };
}

export type DeploymentStore = ReturnType<typeof createDeploymentStore>;

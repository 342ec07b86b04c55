import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { redisScript } from '../redisScript.js';
import { deleteIfOurs } from '../redisOwned.js';
import { forEachRecordPage } from './records.js';
import type { DeploymentKeys } from './storeKeys.js';
import type { DeploymentRecord } from './types.js';
import type { Clock } from '../clock.js';

/**
 * Claim up to ARGV[2] queued-index entries last looked at no later than ARGV[1]: each is marked looked
 * at ARGV[3] in the same step, so sweeps running at once take different ones, and one whose job is
 * merely waiting comes round again only a grace period later. KEYS: the queued index.
 */
const CLAIM_QUEUED = redisScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], 'XX', ARGV[3], id) end
return ids`);

/**
 * Index a record found still queued, unless it is indexed already or moved on meanwhile (the write
 * that moves it on drops it from the index, transition.ts: an entry added after that would linger).
 * KEYS: record, queued index. ARGV: id, score.
 */
const INDEX_IF_QUEUED = redisScript(`
if redis.call('HGET', KEYS[1], 'status') ~= 'queued' then return 0 end
return redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[1])`);

/** How long one worker holds the backfill before another may take it over (it died part way: the work is idempotent). */
const BACKFILL_LOCK_MS = 10 * 60_000;

/** A stored record's creation time (ms), unverified; null when it cannot be read. */
function createdAtOf(json: string | null | undefined): number | null {
  try {
    const at = Date.parse((JSON.parse(json ?? '') as { createdAt?: unknown }).createdAt as string);
    return Number.isFinite(at) ? at : null;
  } catch {
    return null;
  }
}

export interface DeploymentPage { items: DeploymentRecord[]; nextCursor: string | null }

/** Reading the per-user indexes: the user's list (newest first), unfinished set and per-service indexes. */
export function createDeploymentListing(o: { redis: Redis; keys: DeploymentKeys; get: (id: string) => Promise<DeploymentRecord | null>; clock: Clock; retentionMs: number }) {
  const { redis, keys, get } = o;
  return {
    /** A page of the user's deployments, newest first; the cursor is `<score>_<id>` of the last one shown. */
    async listForUser(userId: number, opts: { limit: number; cursor?: string | null }): Promise<DeploymentPage> {
      const key = keys.byUser(userId);
      // Ids of records past the retention (expired since the user's last deployment, which trims too) go first:
      // left, they paged as empty pages that still offered older ones. Sent with the read (one round trip).
      redis.zremrangebyscore(key, '-inf', `(${o.clock.now() - o.retentionMs}`).catch(() => undefined);
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

    /** Is this id in the user's own list (a deployment of a real user, as opposed to a stray key)? */
    async listedFor(id: string, userId: number): Promise<boolean> {
      return (await redis.zscore(keys.byUser(userId), id)) !== null;
    },

    /** Deployments still queued that nobody looked at since `lookedBefore` (at most `limit`), claimed for a look at `now` (orphan sweep). */
    claimQueued: async (lookedBefore: number, limit: number, now: number): Promise<string[]> =>
      ((await CLAIM_QUEUED(redis, [keys.queued], [lookedBefore, limit, now])) as unknown[]).map(String),

    /**
     * Once per Redis, not per worker: records still queued that were written before the queued index
     * existed (an older version: nothing indexed them) are added to it, by their creation time, so the
     * orphan sweep sees the ones whose job was lost meanwhile. SCAN in pages, never KEYS; one worker at
     * a time (a lock), and none after one finished (a mark). Returns how many it indexed, or null when
     * it was done before or another worker is doing it.
     */
    async backfillQueued(now: number): Promise<number | null> {
      const { done, lock } = keys.queuedBackfill;
      if (await redis.exists(done)) return null;
      const token = randomUUID();
      if (!await redis.set(lock, token, 'PX', BACKFILL_LOCK_MS, 'NX')) return null;
      try {
        let indexed = 0;
        await forEachRecordPage(redis, keys, async (ids) => {
          const read = await Promise.all(ids.map((id) => redis.hmget(keys.record(id), 'status', 'json')));
          const added = await Promise.all(ids.map(async (id, i) => {
            const [status, json] = read[i]!;
            if (status !== 'queued') return 0;
            // The creation time only places it in the sweep's order (a record younger than the grace
            // period is left to its request); the sweep verifies the record before it acts on it.
            return Number(await INDEX_IF_QUEUED(redis, [keys.record(id), keys.queued], [id, Math.min(createdAtOf(json) ?? now, now)]));
          }));
          indexed += added.reduce((a, b) => a + b, 0);
        });
        await redis.set(done, new Date(now).toISOString());
        return indexed;
      } finally {
        await deleteIfOurs(redis, lock, token).catch(() => false);
      }
    },

    /** Drop an id from the queued index (its record is gone, or no longer queued). */
    forgetQueued: async (id: string): Promise<void> => { await redis.zrem(keys.queued, id); },

    /** Unfinished deployments of a user (for credential revocation). */
    activeIds: (userId: number): Promise<string[]> => redis.smembers(keys.active(userId)),

    /** The user's deployments of one service, oldest first. */
    idsOfService: (userId: number, serviceId: string): Promise<string[]> => redis.zrange(keys.byService(userId, serviceId), '0', '-1'),

    /** The services the user's deployments point at, with their workspace ids. */
    servicesOfUser: (userId: number): Promise<Record<string, string>> => redis.hgetall(keys.services(userId)),
  };
}

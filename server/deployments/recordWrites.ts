import type { Redis } from 'ioredis';
import type { Clock } from '../clock.js';
import { quarantinedRecord } from './integrity.js';
import type { createRecordReader } from './records.js';
import type { DeploymentKeys } from './storeKeys.js';
import { putRecord, writeChange, type createKnownRecords, type ServiceIndex, type SignedRecord } from './transition.js';
import { isTerminal, type DeploymentRecord, type DeploymentStatus, type ReplacedBy, type TimelineEntry } from './types.js';

/** A change to write: the new record, the status the stored one must still have (null: any unfinished one), and whether its service is new to the indexes. */
interface Planned { next: DeploymentRecord; onlyIfStatus: DeploymentStatus | null; indexService: boolean }

/**
 * Called with the ids of the user's other deployments of the record's service, when there are any,
 * before the change is written (then written regardless of what it did): one script checks and writes
 * when there are none, instead of a read of the index before every such write. It may answer how the
 * record about to be written is to be written instead (`Amend`, made on the record as planned, and on
 * any plan made again after it): a live write of a deploy Render has replaced already is written
 * `deactivated` (workers/tasks/finishDeploy.ts).
 */
export type OthersOfService = (ids: string[]) => Promise<Amend | void>;
/** A change of the record as planned, decided from the other deployments of its service (OthersOfService). */
export type Amend = (planned: DeploymentRecord) => DeploymentRecord;

/**
 * The record as `deactivated`, replaced by `replacedBy` (markReplaced; or a live write whose deploy a
 * newer one had replaced on Render by the time the write was made): the timeline entry at `at`.
 */
export function asReplaced(rec: DeploymentRecord, replacedBy: ReplacedBy, at: string, note = 'Replaced by a newer deploy of this service'): DeploymentRecord {
  return { ...rec, status: 'deactivated', replacedBy, timeline: [...rec.timeline, { status: 'deactivated', at, source: 'render', note }] };
}

/**
 * Fields to change: given, or made from the record as stored when the change is planned (written only on that
 * exact record); null from the function drops the change (a step's write guarded by the status it moves from).
 */
type Fields = Partial<DeploymentRecord> | ((before: DeploymentRecord) => Partial<DeploymentRecord> | null);

/** One guess from `known`, then fresh verified reads while others keep writing the same record. */
const ATTEMPTS = 4;

/** A deploy claim outlives the watch's limit (3 h): by then its deployment has recorded the deploy or ended. */
export const DEPLOY_CLAIM_MS = 24 * 3_600_000;

/**
 * Every write of a deployment record: one Lua script per write (transition.ts) that checks, writes,
 * keeps the indexes and publishes the live update. The MAC is made here, over the exact JSON stored.
 */
export function createRecordWriter(o: {
  redis: Redis; keys: DeploymentKeys; clock: Clock; retentionMs: number;
  known: ReturnType<typeof createKnownRecords>; reader: ReturnType<typeof createRecordReader>;
}) {
  const { redis, keys, clock, retentionMs, known, reader } = o;
  const iso = () => new Date(clock.now()).toISOString();
  const keysOf = (rec: DeploymentRecord) => ({ record: keys.record(rec.id), active: keys.active(rec.userId), channel: keys.channel(rec.userId), env: keys.env(rec.id), queued: keys.queued, pending: keys.pending(rec.userId) });
  const serviceIndexOf = (rec: DeploymentRecord): ServiceIndex => ({
    byService: keys.byService(rec.userId, rec.serviceId!), services: keys.services(rec.userId),
    serviceId: rec.serviceId!, ownerId: rec.request.ownerId, score: Date.parse(rec.createdAt),
  });

  /**
   * Plan a change on the record this process verified or wrote last (`known`) or on a fresh verified
   * read, and write it as a compare-and-set on that exact JSON. When Redis holds something else the
   * record is read, verified (tampered: throw or skip) and the change planned again. A guess that
   * plans nothing is checked against a fresh read too (it may be older than the stored record).
   * Returns the record written, or null when there was nothing to change or the guard refused.
   */
  async function change(id: string, tampered: 'throw' | 'skip', plan: (before: DeploymentRecord, now: string) => Planned | null, othersOfService?: OthersOfService): Promise<DeploymentRecord | null> {
    let othersSeen = !othersOfService;
    // What the others made of the change (OthersOfService): applied to every plan after they were seen.
    let amend: Amend | undefined;
    // What this call last tried to write: found stored on the next read, that write landed and only its
    // answer was lost (a dropped connection; ioredis sent the script again once reconnected, and that run
    // found the record changed: by this very write).
    let attempted: { json: string; next: DeploymentRecord } | null = null;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const guess = attempt === 0 ? known.get(id) : undefined;
      const base = guess ?? await reader.readBase(id, tampered);
      if (!base) return null;
      if (attempted && base.json === attempted.json) { known.set(id, base.json); return attempted.next; }
      const fresh = plan(base.rec, iso());
      if (!fresh && guess) continue;
      if (!fresh) return null;
      let planned = amend ? { ...fresh, next: amend(fresh.next) } : fresh;
      let signed = reader.sign(planned.next);
      attempted = { json: signed.json, next: planned.next };
      const write = (p: Planned, sig: SignedRecord, soleOf: string | null) => writeChange(redis, keysOf(p.next), sig, {
        baseSha: base.sha, onlyIfStatus: p.onlyIfStatus, ttlMs: retentionMs,
        index: p.indexService ? serviceIndexOf(p.next) : null, soleOf,
      });
      let result = await write(planned, signed, !othersSeen && planned.next.serviceId ? keys.byService(planned.next.userId, planned.next.serviceId) : null);
      if (typeof result === 'object') {
        othersSeen = true;
        amend = (await othersOfService!(result.others)) ?? undefined;
        if (amend) {
          planned = { ...planned, next: amend(planned.next) };
          signed = reader.sign(planned.next);
          attempted = { json: signed.json, next: planned.next };
        }
        result = await write(planned, signed, null);
      }
      if (result === 'written') { known.set(id, signed.json); return planned.next; }
      known.forget(id);
      if (result !== 'changed') return null;
    }
    throw new Error(`deployment record ${id} kept changing while being written`);
  }

  /**
   * Apply a change (and, when the status changes, its timeline entries: timed now unless they carry
   * their own time). Returns the new record, or null when the record is gone or already terminal (the
   * change is then dropped). Throws RecordTamperedError when the stored record fails its MAC.
   *
   * A Render deploy the change names (a new `deployId`) is claimed for this deployment, whatever claimed
   * it before, and even when the change is dropped because the record ended meanwhile (a cancel while
   * the ask was on its way: the deploy Render made for it is still no one else's). No other deployment's
   * look for the deploy its own ask made (workers/tasks/ownDeploy.ts deployOfAsk), a teammate's in a
   * shared workspace included, then takes it: the deploy ids other users' records name are in no index
   * that look reads. The claim goes out beside the write (one round trip).
   */
  async function update(id: string, fields: Fields, timeline: Array<Omit<TimelineEntry, 'at'> & { at?: string }> = [], othersOfService?: OthersOfService): Promise<DeploymentRecord | null> {
    // Its failure is kept, not left unhandled while the write goes on (that would end the process), and
    // thrown only once the write succeeded: a write's own error (a tampered record) is the one to report.
    let claimed: Promise<{ failed: unknown } | null> | undefined;
    const claim = (deployId: string) => redis.set(keys.deployClaim(deployId), id, 'PX', DEPLOY_CLAIM_MS).then(() => null, (failed: unknown) => ({ failed }));
    const written = await change(id, 'throw', (before, now) => {
      const set = typeof fields === 'function' ? fields(before) : fields;
      if (set === null) return null;
      if (set.deployId && set.deployId !== before.deployId) claimed ??= claim(set.deployId);
      if (isTerminal(before.status)) return null;
      const next: DeploymentRecord = { ...before, ...set, updatedAt: now };
      if (timeline.length) next.timeline = [...before.timeline, ...timeline.map((e) => ({ ...e, at: e.at ?? now }))];
      if (isTerminal(next.status)) next.finishedAt = now;
      return { next, onlyIfStatus: null, indexService: !!next.serviceId && next.serviceId !== before.serviceId };
    }, othersOfService);
    const refused = await claimed;
    if (refused) throw refused.failed;
    return written;
  }

  return {
    async create(rec: DeploymentRecord): Promise<void> {
      const signed = reader.sign(rec);
      const created = await putRecord(redis, { ...keysOf(rec), byUser: keys.byUser(rec.userId) }, { ...signed, userId: rec.userId }, {
        mode: 'create', ttlMs: retentionMs, score: Date.parse(rec.createdAt), index: rec.serviceId ? serviceIndexOf(rec) : null,
      });
      // Already there: written by this very call when its answer was lost and ioredis sent it again (a
      // dropped connection), or by another (an id is never made twice: newDeploymentId is random).
      if (!created && (await reader.readBase(rec.id, 'skip').catch(() => null))?.json !== signed.json) throw new Error(`deployment record ${rec.id} already exists`);
      known.set(rec.id, signed.json);
    },

    /** Undo create() for a request that failed before its job was queued: nobody ever saw its id. */
    async discard(id: string, userId: number): Promise<void> {
      known.forget(id);
      await redis.multi().del(keys.record(id)).zrem(keys.byUser(userId), id).srem(keys.active(userId), id).zrem(keys.queued, id).exec();
    },

    /**
     * Replace a tampered record of a real user with a failed one we signed (integrity.ts
     * quarantinedRecord), so the owner sees what happened and nothing can act on it.
     */
    async quarantine(id: string, userId: number, stored: unknown): Promise<DeploymentRecord> {
      const rec = quarantinedRecord(id, userId, stored, iso());
      const signed = reader.sign(rec);
      await putRecord(redis, { ...keysOf(rec), byUser: keys.byUser(userId) }, { ...signed, userId }, {
        mode: 'replace', ttlMs: retentionMs, score: Date.parse(rec.createdAt), index: null,
      });
      known.set(id, signed.json);
      return rec;
    },

    update,

    /**
     * Move to a status with a timeline entry. `passed`: steps this process went through on the way
     * without writing them, each with its own time, recorded in the same write (one script, one live
     * update, instead of one per step). `othersOfService`: see OthersOfService.
     */
    transition(id: string, status: DeploymentStatus, source: TimelineEntry['source'], extra: Fields = {}, note?: string, passed: TimelineEntry[] = [], othersOfService?: OthersOfService) {
      const fields = (before: DeploymentRecord) => {
        const set = typeof extra === 'function' ? extra(before) : extra;
        return set && { ...set, status };
      };
      return update(id, fields, [...passed, { status, source, ...(note ? { note } : {}) }], othersOfService);
    },

    /**
     * Record where a finished deployment's service ended up (a cancel that raced a creation): ids
     * only, the status stays as it is. Throws RecordTamperedError when the stored record fails its MAC.
     */
    async noteAfterEnd(id: string, fields: Pick<Partial<DeploymentRecord>, 'serviceId' | 'dashboardUrl' | 'serviceUrl'>): Promise<void> {
      await change(id, 'throw', (before, now) => (before.serviceId ? null : {
        next: { ...before, ...fields, updatedAt: now }, onlyIfStatus: before.status, indexService: !!fields.serviceId,
      }));
    },

    /**
     * Say why a canceled deployment's deploy may still run on Render (its cancel there could not be
     * made: workers/tasks/canceledAsk.ts): the reason only, the status stays canceled. Null when the
     * record is not canceled. Throws RecordTamperedError when the stored record fails its MAC.
     */
    amendCanceled(id: string, failure: NonNullable<DeploymentRecord['failure']>): Promise<DeploymentRecord | null> {
      return change(id, 'throw', (before, now) => (before.status !== 'canceled' ? null : {
        next: { ...before, failure, updatedAt: now }, onlyIfStatus: 'canceled', indexService: false,
      }));
    },

    /**
     * A newer deploy of the same service went live: this one, if still live, becomes Render's
     * `deactivated`, saying what replaced it. Returns the new record, or null when it was not live.
     * A record failing its MAC is left alone, never re-signed.
     */
    markReplaced(id: string, replacedBy: ReplacedBy): Promise<DeploymentRecord | null> {
      return change(id, 'skip', (before, now) => (before.status !== 'live' ? null : {
        next: { ...asReplaced(before, replacedBy, replacedBy.at || now), updatedAt: now },
        onlyIfStatus: 'live', indexService: false,
      }));
    },

    /** The service is gone from Render: every deployment of it says so (their statuses stay as they were). */
    async markServiceDeleted(userId: number, serviceId: string): Promise<number> {
      const ids = await redis.zrange(keys.byService(userId, serviceId), '0', '-1');
      const at = iso();
      let marked = 0;
      for (const id of ids) {
        // A record failing its MAC is skipped, never re-signed.
        const next = await change(id, 'skip', (before) => (before.userId !== userId || before.serviceDeletedAt ? null : {
          next: { ...before, serviceDeletedAt: at, updatedAt: at }, onlyIfStatus: before.status, indexService: false,
        }));
        if (next) marked++;
      }
      await redis.hdel(keys.services(userId), serviceId);
      return marked;
    },
  };
}

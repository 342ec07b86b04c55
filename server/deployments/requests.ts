import { createHash } from 'node:crypto';
import type { Queue } from 'bullmq';
import { requestFingerprints, type Keyring } from '../crypto/keyring.js';
import { RecordTamperedError, signRequest } from './integrity.js';
import type { Redis } from 'ioredis';
import type { Clock } from '../clock.js';
import { removeDeployJob, type FairEnqueuer, type DeployJobData } from '../queues/deployQueue.js';
import type { DeploymentStore } from './store.js';
import type { EnvVault, EnvVarInput } from './envVars.js';
import { newDeploymentId } from './store.js';
import { errors } from '../errors.js';
import type { DeploymentKind, DeploymentRecord, DeploymentRequest } from './types.js';
import type { Service } from '../render/types.js';
import { deleteIfOurs } from '../redisOwned.js';
import { redisScript } from '../redisScript.js';
import { MAX_MOVE_HOPS, sessionKeys } from '../sessions/records.js';
import { revokedFailure, type RevokedBy } from './revocation.js';
import { dashboardUrlOf, githubRepoOf, withoutUserInfo } from '../render/serviceNames.js';
import { SERVICE_TYPES, type ServiceTypeName } from '../stacks/serviceTypes.js';
import { RenderKeyWithdrawn } from '../render/errors.js';

/**
 * Whether the session a deployment was asked in still holds the key it was asked with: 'held', else why
 * not: 'ended' (signed out, or another user signed in over it), 'cleared', 'replaced' (another key).
 */
export type KeyConsent = 'held' | 'ended' | 'cleared' | 'replaced';

/** Who asks for a deployment: the record's owner, session and key (render/forRequest.ts deployRequester). */
export interface Requester {
  userId: number; sessionRef: string; keyFingerprint: string;
  /**
   * The session's key now, read once the record is stored (start): through the session cache, whose
   * ends are fenced, so no round trip on a hit. Every route that makes a deployment passes it; only a
   * caller with no request behind it (the bench's seeding, bench/lib/tenants.ts) has none to ask.
   */
  consent?(): Promise<KeyConsent>;
}

/**
 * A deployment's record was stored after the key it was asked with left its session (start): it was
 * ended (credentials_revoked) and its job never added. A RenderKeyWithdrawn, answered by the routes as
 * a key withdrawn while the request was at Render is (render/forRequest.ts answerWithdrawn).
 */
class StoredAfterWithdrawal extends RenderKeyWithdrawn {
  readonly consent: Exclude<KeyConsent, 'held'>;
  constructor(consent: Exclude<KeyConsent, 'held'>) {
    super();
    this.consent = consent;
  }
}

/** What a redeploy or rollback record takes from the service it deploys again. */
export interface ServiceToDeploy {
  id: string; name: string; ownerId: string; repo: string | null; branch: string | null; dashboardUrl: string | null; serviceUrl: string | null;
  /** Render's type, when one we know: the page shows a static site's redeploy without a Deploy step (Render has none). */
  type: ServiceTypeName | null;
  /** Render's `suspended`: Render deploys no suspended service, so none is asked of it (service_suspended). */
  suspended: boolean;
}

export function serviceToDeploy(svc: Service): ServiceToDeploy {
  // The service's public URL, as the first deploy's record has it: a redeploy's page links the live site too.
  const url = (svc.serviceDetails as { url?: unknown } | undefined)?.url;
  return {
    id: svc.id, name: svc.name, ownerId: svc.ownerId, repo: svc.repo ?? null, branch: svc.branch ?? null,
    dashboardUrl: dashboardUrlOf(svc.dashboardUrl), serviceUrl: typeof url === 'string' && url ? url : null,
    type: (SERVICE_TYPES as readonly string[]).includes(svc.type) ? svc.type : null,
    suspended: svc.suspended === 'suspended',
  };
}

/** How long an Idempotency-Key names the deployment it made. */
const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;

/**
 * A claim whose deployment still has no record this long after it was made was left by a request that
 * died between the two (nobody will write that record): a retry takes it over. Far past a record write.
 */
export const IDEMPOTENCY_ABANDONED_MS = 2 * 60_000;

/** Replaces a claim only while it is the one read. KEYS: claim. ARGV: value read, new value, ttl ms. */
const TAKE_OVER_CLAIM = redisScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end return 0`);

/** An Idempotency-Key's claim as stored: `<deployment id>:<request fingerprint>:<claimed at>` (the last two may be missing in old ones). */
function claimOf(value: string): { deploymentId: string; fingerprint: string | undefined; claimedAt: string | undefined } {
  const [deploymentId, fingerprint, claimedAt] = value.split(':');
  return { deploymentId: deploymentId!, fingerprint, claimedAt };
}

/**
 * A redeploy's or rollback's ask as its Idempotency-Key knows it. What makes two asks the same one: the
 * service, the kind and its target (a deploy's body never has this shape). The commit only when named, so
 * keys claimed before commit_sha existed still replay. One function for the claim and for the replay
 * looked up before the service is read (replayedServiceDeploy), so the two never disagree.
 */
function serviceAsk(kind: 'redeploy' | 'rollback', serviceId: string, rollbackToDeployId: string | undefined, opts: { clearCache?: boolean; commitSha?: string }) {
  const clearCache = Boolean(opts.clearCache && kind === 'redeploy');
  const commitSha = kind === 'redeploy' ? opts.commitSha : undefined;
  const fingerprinted = JSON.stringify({ service: { kind, serviceId, rollbackToDeployId: rollbackToDeployId ?? null, clearCache, ...(commitSha ? { commitSha } : {}) } });
  return { clearCache, commitSha, fingerprinted };
}

/**
 * Render deploys no suspended service: the refusal of a redeploy or rollback of one, by the route
 * (requestServiceDeploy) or by the worker when the service was suspended after the route's 202
 * (workers/tasks/renderDeploy.ts refusedAsSuspended).
 */
export function suspendedRefusal(kind: DeploymentKind): string {
  return `This service is suspended on Render, and a suspended service cannot be deployed. Resume it first, then ${kind === 'rollback' ? 'roll back' : 'redeploy'}.`;
}

/**
 * Creating deployments and stopping them: the one place that writes a new record, seals its env
 * values, honours Idempotency-Key, and enqueues the job (ids only).
 */
export function createDeployRequests(opts: {
  redis: Redis; prefix: string; clock: Clock; keyring: Keyring; deployments: DeploymentStore; envVault: EnvVault; enqueuer: FairEnqueuer; queue: Queue<DeployJobData>;
  /**
   * Ask for the commit's final status of a deployment this process ended (server/queues/commitStatusQueue.ts):
   * its job, removed, asks nothing, and the commit would say "pending" for ever. Never throws.
   */
  finalCommitStatus: (rec: DeploymentRecord) => Promise<void>;
}) {
  const { redis, prefix, clock, keyring, deployments, envVault, enqueuer, queue } = opts;
  const { movedTo } = sessionKeys(prefix);
  const idemKey = (userId: number, key: string) => `${prefix}:user:${userId}:idem:${createHash('sha256').update(key).digest('hex')}`;

  function blankRecord(id: string, who: Requester, kind: DeploymentKind, request: DeploymentRequest): DeploymentRecord {
    const now = new Date(clock.now()).toISOString();
    return {
      id, userId: who.userId, kind, request, status: 'queued',
      timeline: [{ status: 'queued', at: now, source: 'orchestrator' }],
      stack: null, commitSha: null, serviceId: null, deployId: null, deployRequestedAt: null, rollbackToDeployId: null,
      dashboardUrl: null, serviceUrl: null, failure: null,
      sessionRef: who.sessionRef, keyFingerprint: who.keyFingerprint, requestMac: '', watchChecks: 0,
      createdAt: now, updatedAt: now, finishedAt: null,
    };
  }

  /**
   * A deployment's end when the key it was made with is withdrawn (revokeForSession; start): the record
   * becomes credentials_revoked, its sealed env values going with that write, or null when it was no longer
   * one to end (finished, or ended by the other side of the race). `by`: what the reason says happened. A record
   * altered since it was read (its MAC fails) is not rewritten; its env values go.
   */
  async function revokeRecord(id: string, by: RevokedBy): Promise<DeploymentRecord | null> {
    // The reason is made from the record as written: a step may have reached Render since our read.
    return deployments.transition(id, 'credentials_revoked', 'orchestrator', (now) => ({ failure: revokedFailure(now, by) })).catch(async (err: unknown) => {
      // Altered between our read and our write: signing out goes on. Its job goes (revokeForSession), or
      // was never added (start), so no worker refuses it (which would drop its env values): they go here.
      if (!(err instanceof RecordTamperedError)) throw err;
      await envVault.drop(id);
      return null;
    });
  }

  /**
   * Sign, store and enqueue. A failure anywhere undoes what was written (sealed env values, the
   * record, its pending entry), so the request changes nothing and can simply be retried.
   *
   * Once the record is stored, and before its job is added, the session is asked whether it still holds
   * the key the record was made with (`who.consent`). A sign-out, clear or key change made while the
   * request was at Render (a redeploy's service read) stopped only the records that existed then
   * (revokeForSession, after the key's removal and the fence); this record was written after that walk,
   * so it is seen here: the key's removal was written before the walk, the record before this read, and
   * one side always sees the other. Withdrawn, the record ends as revokeForSession would end it (same
   * reason, env values dropped, the commit's final status asked for unless signed out), no job is ever
   * added, and the request is refused with StoredAfterWithdrawal (a RenderKeyWithdrawn): without this, the
   * same key connected again later passed the worker's check (same fingerprint) and the deploy ran.
   */
  async function start(rec: DeploymentRecord, envVars: EnvVarInput[], who: Requester) {
    rec.requestMac = signRequest(rec, keyring);
    try {
      // Sealed values, record and the user's pending count go out together (one round trip on the
      // auto-pipelined connection); the job is added only once the record and values are stored, and the
      // key is still the session's (a cache hit on the happy path: no round trip).
      const stored = Promise.all([envVault.put(rec.id, envVars), deployments.create(rec)]).then(async () => {
        const consent = who.consent ? await who.consent() : 'held';
        if (consent !== 'held') throw new StoredAfterWithdrawal(consent);
      });
      await enqueuer.enqueue({ deploymentId: rec.id, userId: rec.userId, requestMac: rec.requestMac }, { after: stored });
    } catch (err) {
      // Ended as a revocation, not discarded: the clear's walk may have ended it too, and either way the
      // user's list says why (the record write that ends it also takes its pending entry).
      if (err instanceof StoredAfterWithdrawal && await endWithdrawn(rec, err.consent)) throw err;
      // Any part may have been written (a failed script or MULTI too): all of it goes.
      await Promise.allSettled([
        envVault.drop(rec.id),
        deployments.discard(rec.id, rec.userId),
        enqueuer.started({ deploymentId: rec.id, userId: rec.userId }),
      ]);
      throw err;
    }
    return rec;
  }

  /** start's end of a record stored after its key was withdrawn; false when it could not be written (start then discards it). */
  async function endWithdrawn(rec: DeploymentRecord, consent: Exclude<KeyConsent, 'held'>): Promise<boolean> {
    try {
      const done = await revokeRecord(rec.id, consent === 'replaced' ? 'requestKeyChanged' : 'request');
      // As revokeForSession: a cleared or replaced key leaves the GitHub token; after a sign-out none can be posted.
      if (done && consent !== 'ended') await opts.finalCommitStatus(done);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The key claimed for deployment `id` (`<id>:<fingerprint>:<claimed at>`), or the deployment the same
   * request already made with it. A claim with no record after IDEMPOTENCY_ABANDONED_MS is taken over
   * (one written before claims carried their time never is).
   *
   * The claim in the way may be given back at any moment (its request failed: `idempotent` releases it)
   * or replaced (taken over, or claimed anew after that): every round reads it again, and a key found free
   * is claimed here, so a request that loses the race to a request that then fails is made here, not
   * refused. (A free key used to be read as an empty claim, idempotency_key_reused, when the other gave it
   * back between our SET NX and our GET; and a claim given back while we waited for its record, a 409
   * idempotency_in_progress after a second of waiting.)
   */
  async function claimIdempotencyKey(who: Requester, idempotencyKey: string, id: string, body: string): Promise<{ claim: { key: string; value: string } } | { replay: DeploymentRecord }> {
    // An HMAC under a derived key: the body holds env values, and a bare hash would let a Redis reader confirm guesses.
    const fingerprints = requestFingerprints(body, keyring);
    const key = idemKey(who.userId, idempotencyKey);
    const value = `${id}:${fingerprints[0]}:${clock.now()}`;
    // The first request may still be writing its record: give it a moment (40 rounds, about a second).
    for (let round = 0; round < 40; round++) {
      if (await redis.set(key, value, 'PX', IDEMPOTENCY_TTL_MS, 'NX')) return { claim: { key, value } };
      const existing = await redis.get(key);
      // Given back between the two: claim it again.
      if (existing === null) continue;
      const { deploymentId: existingId, fingerprint: existingFp, claimedAt } = claimOf(existing);
      if (!existingFp || !fingerprints.includes(existingFp)) throw errors.conflict('idempotency_key_reused', 'This Idempotency-Key was already used with a different request.');
      const rec = await deployments.getForUser(existingId, who.userId);
      if (rec) return { replay: rec };
      if (claimedAt && clock.now() - Number(claimedAt) >= IDEMPOTENCY_ABANDONED_MS) {
        // Lost with its request. A retry taking it over at the same time, or its request giving it back,
        // leaves this one to read the key again.
        if (Number(await TAKE_OVER_CLAIM(redis, [key], [existing, value, IDEMPOTENCY_TTL_MS])) === 1) return { claim: { key, value } };
        continue;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    throw errors.conflict('idempotency_in_progress', 'A request with this Idempotency-Key is still being processed. Retry shortly.', undefined, { 'Retry-After': '1' });
  }

  /**
   * The deployment `make` writes under a fresh id, or with an Idempotency-Key the one that key already
   * made for the same request (`body`, fingerprinted) — never a second job. A reused key with another
   * request is a 409.
   */
  async function idempotent(who: Requester, idempotencyKey: string | undefined, body: string, make: (id: string) => Promise<DeploymentRecord>): Promise<{ record: DeploymentRecord; replayed: boolean }> {
    const id = newDeploymentId();
    let claim: { key: string; value: string } | null = null;
    if (idempotencyKey) {
      const claimed = await claimIdempotencyKey(who, idempotencyKey, id, body);
      if ('replay' in claimed) return { record: claimed.replay, replayed: true };
      claim = claimed.claim;
    }
    try {
      return { record: await make(id), replayed: false };
    } catch (err) {
      // Nothing was made: release the key, or every retry would answer 409 for 24 hours.
      // Only while the claim still names our deployment.
      if (claim) await deleteIfOurs(redis, claim.key, claim.value).catch(() => false);
      throw err;
    }
  }

  return {
    /** New deployment of a repository, or with an Idempotency-Key the one that key already made (same body). */
    async requestDeploy(who: Requester, request: DeploymentRequest, envVars: EnvVarInput[], idempotencyKey?: string): Promise<{ record: DeploymentRecord; replayed: boolean }> {
      return idempotent(who, idempotencyKey, JSON.stringify({ request, envVars }), (id) => start(blankRecord(id, who, 'deploy', request), envVars, who));
    },

    /**
     * Redeploy or roll back a service the caller owns: a deployment that starts at the trigger step. With
     * an Idempotency-Key, the one that key already made for the same service, kind and target.
     */
    async requestServiceDeploy(who: Requester, kind: 'redeploy' | 'rollback', service: ServiceToDeploy, rollbackToDeployId?: string, opts: { clearCache?: boolean; idempotencyKey?: string; commitSha?: string } = {}): Promise<{ record: DeploymentRecord; replayed: boolean }> {
      const { clearCache, commitSha, fingerprinted } = serviceAsk(kind, service.id, rollbackToDeployId, opts);
      const request: DeploymentRequest = {
        githubRepo: githubRepoOf(service.repo) ?? withoutUserInfo(service.repo ?? ''), serviceName: service.name, branch: service.branch,
        ownerId: service.ownerId, region: '', plan: '', envVarKeys: [], buildCommand: null, startCommand: null,
        ...(clearCache ? { clearCache: true as const } : {}),
        ...(commitSha ? { commitSha } : {}),
        ...(service.type ? { serviceType: service.type } : {}),
      };
      return idempotent(who, opts.idempotencyKey, fingerprinted, async (id) => {
        // Render refuses to deploy a suspended service: its deployment would only fail in the worker. Refused
        // here, after the key's claim, so an ask made before the suspension still replays what it made, and
        // a refused one gives its key back (nothing is made).
        if (service.suspended) throw errors.conflict('service_suspended', suspendedRefusal(kind));
        const rec = blankRecord(id, who, kind, request);
        rec.serviceId = service.id;
        rec.dashboardUrl = service.dashboardUrl;
        rec.serviceUrl = service.serviceUrl;
        rec.rollbackToDeployId = rollbackToDeployId ?? null;
        return start(rec, [], who);
      });
    },

    /**
     * The deployment an earlier redeploy or rollback of this user made with this Idempotency-Key, when this
     * ask is the same one (the fingerprint requestServiceDeploy claims the key with), else null. Asked
     * before the service is read on Render (server/routes/services.ts): a client whose answer was lost,
     * asking again after the service was deleted or left the key's sight, gets that deployment, not a 404.
     * Only a claim whose record exists is answered here; anything else (no key, a free key, another
     * request's, one still being made) is null, and the ask goes on as one with no replay, whose claim
     * (claimIdempotencyKey) then decides as before: 409 idempotency_key_reused, a wait for the first
     * request's record, a take-over.
     */
    async replayedServiceDeploy(userId: number, kind: 'redeploy' | 'rollback', serviceId: string, rollbackToDeployId?: string, opts: { clearCache?: boolean; idempotencyKey?: string; commitSha?: string } = {}): Promise<DeploymentRecord | null> {
      if (!opts.idempotencyKey) return null;
      const existing = await redis.get(idemKey(userId, opts.idempotencyKey));
      if (existing === null) return null;
      const { deploymentId, fingerprint } = claimOf(existing);
      if (!fingerprint || !requestFingerprints(serviceAsk(kind, serviceId, rollbackToDeployId, opts).fingerprinted, keyring).includes(fingerprint)) return null;
      return deployments.getForUser(deploymentId, userId);
    },

    /**
     * Stop a user's unfinished deployments that belong to a session (logout, cleared key): the record
     * becomes credentials_revoked (its sealed env values go with that write; its reason says whether
     * Render may still run a deploy of it, which is not canceled there: revocation.ts) and its job is removed
     * (one running right now once its step ends: that step sees the terminal record, or the missing
     * key, at its next write and stops there). A cleared or replaced key leaves the session, and its
     * GitHub token: the commit's final status is asked for (after a sign-out none can be posted).
     * Only those made with `onlyKeyFingerprint`, when given (a cleared or replaced key); `by`: what the
     * reason says happened (a sign-out or cleared key, another key connected, the session expired, ...). A record
     * its request stores after this walk read the active ones is ended by that request (start), which finds the
     * key gone.
     */
    async revokeForSession(userId: number, sessionRefs: string | readonly string[], onlyKeyFingerprint?: string, by: RevokedBy = 'request'): Promise<number> {
      let stopped = 0;
      const jobs: string[] = [];
      const statuses: DeploymentRecord[] = [];
      // A record names its session by the ref it was asked under; a SECRET_KEY rotation since moved the
      // session to another ref (back and forth during a rolling deploy) and left a pointer from the old
      // one (sessions/records.ts moveFromPrevious). The session's names (the end's, and those its record
      // kept), else where the pointers from the record's ref lead (a session moved by an older version
      // kept no names), a bounded number of hops.
      const names = new Set(typeof sessionRefs === 'string' ? [sessionRefs] : sessionRefs);
      const isThisSession = async (ref: string) => {
        for (let at: string | null = ref, hops = 0; at !== null && hops <= MAX_MOVE_HOPS; at = await redis.get(movedTo(at)), hops++) {
          if (names.has(at)) return true;
        }
        return false;
      };
      for (const id of await deployments.activeIds(userId)) {
        const rec = await deployments.get(id);
        if (!rec || !(await isThisSession(rec.sessionRef))) continue;
        if (onlyKeyFingerprint !== undefined && rec.keyFingerprint !== onlyKeyFingerprint) continue;
        const done = await revokeRecord(id, by);
        if (done) stopped++;
        if (done && onlyKeyFingerprint !== undefined) statuses.push(done);
        jobs.push(id);
      }
      // Queued and delayed jobs go at once; one a worker is running goes as soon as its step ends.
      await Promise.all([...jobs.map((id) => removeDeployJob(queue, id)), ...statuses.map((rec) => opts.finalCommitStatus(rec))]);
      return stopped;
    },

    async markCanceled(id: string) {
      return deployments.transition(id, 'canceled', 'orchestrator', { failure: { code: 'canceled', message: 'You canceled this deploy.' } });
    },
  };
}

/** Requests for new deployments (deploy, redeploy, rollback) and stopping them: `deps.deployRequests`. */
export type DeployRequests = ReturnType<typeof createDeployRequests>;

import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Clock } from '../server/clock.js';
import type { Logger } from '../server/logger.js';
import type { DeploymentStore } from '../server/deployments/store.js';
import type { DeployJobData, FairEnqueuer } from '../server/queues/deployQueue.js';
import { isTerminal, type DeploymentRecord } from '../server/deployments/types.js';
import { cancelOwedOnRender, lostCreationMayExist } from '../server/deployments/cancel.js';
import { jobDeploymentId } from './tasks/verifyJob.js';

// A deploy request writes its record, then adds its job (server/deployments/requests.ts); should Redis
// drop in between, and the rollback of the record fail with it, a record says `queued` that no job
// will ever run. The sweep finds such records in the queued index (storeKeys.ts `queued`: every
// record still queued, kept by the record write scripts) and enqueues their job again. Again, not
// failed: a job's run reloads and verifies the record, ends it credentials_revoked when its session or
// key is gone by now, and otherwise starts it exactly as the lost job would have (runDeployJob resumes
// whatever it finds; a queued record is a first run): the user asked, and was answered 202.

export interface OrphanSweepOptions {
  /** A queued record younger than this still has its request adding the job (default 2 min). */
  graceMs?: number;
  /** How often each worker sweeps, after the sweep at start (default 1 min; 0: only at start). */
  everyMs?: number;
  /** Records looked at per sweep (default 100). */
  limit?: number;
}

const DEFAULTS = { graceMs: 2 * 60_000, everyMs: 60_000, limit: 100 };

/**
 * What one sweep did: how many queued records it looked at and how many jobs it added back; and how
 * many failed deploy jobs of unfinished deployments it ran again (sweepFailedDeployJobs).
 */
export interface SweepResult { looked: number; requeued: number; retried: number }

/**
 * One sweep: the queued records nobody looked at for a grace period (claimed, so two workers sweeping
 * at once take different ones; BullMQ's job id, the deployment id, makes a second add a no-op anyway).
 * A record with a job in the queue, in any state, is left to it and looked at again a grace period on.
 */
export async function sweepQueuedOrphans(o: {
  deployments: DeploymentStore; queue: Queue<DeployJobData>; enqueuer: FairEnqueuer; clock: Clock; logger: Logger;
}, opts: OrphanSweepOptions = {}): Promise<Omit<SweepResult, 'retried'>> {
  const { graceMs, limit } = { ...DEFAULTS, ...opts };
  const now = o.clock.now();
  const ids = await o.deployments.claimQueued(now - graceMs, limit, now);
  let requeued = 0;
  for (const id of ids) {
    if (await o.queue.getJob(id)) continue;
    // Read after the job was found missing: a record that moved on meanwhile had its job after all.
    const found = await o.deployments.inspect(id);
    if (found.state === 'missing' || (found.state === 'valid' && found.record.status !== 'queued')) {
      await o.deployments.forgetQueued(id);
      continue;
    }
    if (found.state === 'valid') {
      const rec = found.record;
      await o.enqueuer.enqueue({ deploymentId: rec.id, userId: rec.userId, requestMac: rec.requestMac });
    } else {
      // Fails its MAC: a job all the same, whose run refuses it as any other (verifyJob.ts: a real
      // user's record is quarantined, a security event raised); its data is never trusted there.
      await o.queue.add('deploy', { deploymentId: id, userId: found.claimedUserId ?? 0, requestMac: '' }, { jobId: id });
    }
    requeued++;
    o.logger.warn({ deploymentId: id }, 'queued deployment had no job (its request lost it): job added again');
  }
  return { looked: ids.length, requeued };
}

/**
 * A deploy job fails for good in BullMQ only when its runs threw before they could count a failure
 * themselves (deployTask.ts: Redis failing under the record's read or the count), `attempts` times over
 * the job's whole life, which is hours of watching. Its deployment is not over for that: its record
 * still says queued or building, and counted as in flight it refused CI's redeploys of the same commit.
 * So a failed job of a deployment that has not ended (or ended with a follow-up owed: nothingLeftFor) is
 * run again with its attempts reset; it resumes from the record as any run does. Not without end: a job
 * failing for another reason (a bug) would be run again every sweep for ever, the deployment never over.
 * Past MAX_RERUNS of a deployment's job (counted in Redis, across workers), its deployment is given up
 * (`giveUp`: ended `failed`, its commit status and result sent as at any end) and the job removed. One
 * whose deployment ended or vanished has nothing left to do, and is removed, which keeps this look at the
 * few jobs that need it.
 */
export const MAX_RERUNS = 3;
const RERUNS_TTL_SEC = 24 * 3600;

export interface FailedJobSweepDeps {
  deployments: DeploymentStore; queue: Queue<DeployJobData>; logger: Logger; redis: Redis; prefix: string;
  /** End a deployment whose job was run again MAX_RERUNS times and failed for good once more. */
  giveUp(rec: DeploymentRecord): Promise<void>;
}

export async function sweepFailedDeployJobs(o: FailedJobSweepDeps, opts: OrphanSweepOptions = {}): Promise<number> {
  const { limit } = { ...DEFAULTS, ...opts };
  let retried = 0;
  for (const job of await o.queue.getFailed(0, limit - 1)) {
    const id = jobDeploymentId(job);
    const found = await o.deployments.inspect(id);
    if (found.state === 'missing' || (found.state === 'valid' && await nothingLeftFor(o.deployments, found.record))) {
      await job.remove().catch(() => undefined);
      continue;
    }
    // Read before retry(), which resets them on the job object too.
    const why = { deploymentId: id, attemptsMade: job.attemptsMade, failedReason: job.failedReason };
    const rerunsKey = `${o.prefix}:deployment:${id}:job-reruns`;
    const [[, reruns]] = (await o.redis.multi().incr(rerunsKey).expire(rerunsKey, RERUNS_TTL_SEC).exec()) as [[unknown, number]];
    if (reruns > MAX_RERUNS && found.state === 'valid') {
      o.logger.error({ ...why, reruns: reruns - 1 }, 'deploy job kept failing for good after being run again: its deployment is given up');
      await o.giveUp(found.record);
      await job.remove().catch(() => undefined);
      continue;
    }
    // A record that fails its MAC too: its run refuses it (verifyJob.ts), as the queued sweep's job's does.
    // Another worker's sweep may have run it again meanwhile: it is then not failed, and left to that.
    const again = await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true }).then(() => true, () => false);
    if (!again) { await o.redis.decr(rerunsKey).catch(() => 0); continue; }
    retried++;
    o.logger.warn({ ...why, reruns }, 'deploy job had failed for good before its deployment ended: run again');
  }
  return retried;
}

/**
 * An ended deployment whose job has nothing more to do. A canceled one may still owe a cancel on Render
 * (its deploy was on its way when the user canceled) or a look for a service its lost creation made: its
 * job follows those up (deployTask.ts), so it is run again like an unfinished one.
 */
async function nothingLeftFor(deployments: DeploymentStore, rec: DeploymentRecord): Promise<boolean> {
  return isTerminal(rec.status) && !cancelOwedOnRender(rec) && !(await lostCreationMayExist(deployments, rec));
}

/**
 * A worker's sweeps: one at start, then every `everyMs` (cheap: one script call, plus a job lookup per
 * record older than the grace period). `sweep()` runs one now (after any still running); `stop()` ends them.
 */
export function startOrphanSweeps(deps: Parameters<typeof sweepQueuedOrphans>[0] & FailedJobSweepDeps, opts: OrphanSweepOptions = {}) {
  const { everyMs } = { ...DEFAULTS, ...opts };
  // Records queued before the index existed (an upgrade from an older version) are indexed once, before the first sweep.
  let last: Promise<unknown> = deps.deployments.backfillQueued(deps.clock.now()).then(
    (indexed) => { if (indexed) deps.logger.info({ indexed }, 'queued deployments written before the queued index were indexed'); },
    (err: unknown) => deps.logger.warn({ err: { message: (err as Error).message } }, 'indexing queued deployments written before the queued index failed; the next worker start tries again'),
  );
  const sweep = () => {
    const next = last.catch(() => null).then(async (): Promise<SweepResult> => {
      const queued = await sweepQueuedOrphans(deps, opts);
      return { ...queued, retried: await sweepFailedDeployJobs(deps, opts) };
    });
    next.catch((err: unknown) => deps.logger.warn({ err: { message: (err as Error).message } }, 'orphan sweep failed; the next one tries again'));
    last = next;
    return next;
  };
  const first = sweep();
  const timer = everyMs > 0 ? setInterval(() => void sweep(), everyMs) : null;
  timer?.unref();
  return {
    /** The sweep at start (tests wait on it). */
    first,
    sweep,
    async stop() {
      if (timer) clearInterval(timer);
      await last.catch(() => undefined);
    },
  };
}

export type OrphanSweeps = ReturnType<typeof startOrphanSweeps>;

import type { Worker } from 'bullmq';
import { LastJobWorker } from './lastJobWorker.js';
import type { Redis } from 'ioredis';
import { queuePrefix } from '../server/queues/deployQueue.js';
import { COMMIT_STATUS_QUEUE, type CommitStatusJobData } from '../server/queues/commitStatusQueue.js';
import { commitStatusJobFailed, runCommitStatusJob, sweepFailedCommitStatusJobs } from './tasks/commitStatus.js';
import { createWritePacer } from './tasks/writePacer.js';
import { createScopeCache } from './tasks/scopeCache.js';
import { WRITE_SPACING_MS } from '../server/github/pacing.js';
import type { WorkerContext } from './context.js';

export interface CommitStatusWorkerOptions {
  /** Status posts in flight per process (each is two short GitHub calls; pacing waits as delayed jobs). */
  concurrency?: number;
  /** Time from the end of one user's status write to the start of the next (GitHub: about a second). 0 turns this pacing off. */
  writeIntervalMs?: number;
}

/** How long a token's scopes are taken as known (workers/tasks/scopeCache.ts): a deploy's reads and its statuses share one answer. */
const SCOPES_TTL_MS = 60_000;

/** The process's scope cache (WorkerContext.tokenScopes). */
export const createTokenScopes = () => createScopeCache({ ttlMs: SCOPES_TTL_MS, now: () => Date.now() });

/** Time between one user's status writes: the option, else GitHub's spacing when the GitHub client paces (GITHUB_RETRIES; the test harness turns it off). */
export function statusWriteIntervalMs(config: WorkerContext['config'], opts: CommitStatusWorkerOptions = {}): number {
  return opts.writeIntervalMs ?? (config.github.retries ? WRITE_SPACING_MS : 0);
}

/**
 * The worker for GitHub commit statuses, apart from the deploy worker so that its slots, and not the
 * deploy slots, are what GitHub's pacing takes up (workers/tasks/commitStatus.ts). Give it its own
 * connection (maxRetriesPerRequest: null).
 */
export function createCommitStatusWorker(ctx: WorkerContext, connection: Redis, opts: CommitStatusWorkerOptions = {}): Worker<CommitStatusJobData> {
  const intervalMs = statusWriteIntervalMs(ctx.config, opts);
  const run = {
    pacer: intervalMs > 0 ? createWritePacer({ intervalMs, now: () => Date.now() }) : null,
    scopes: ctx.tokenScopes ?? createTokenScopes(),
  };
  const worker = new LastJobWorker<CommitStatusJobData>(COMMIT_STATUS_QUEUE, (job, token) => runCommitStatusJob(ctx, job, token, run), {
    connection,
    prefix: queuePrefix(ctx.config.redisPrefix),
    concurrency: opts.concurrency ?? 20,
    lockDuration: 30_000,
    stalledInterval: 30_000,
    maxStalledCount: 2,
  });
  // Only a job that failed for good has finishedOn set (one that will be retried has not).
  worker.on('failed', (job) => {
    // Handled here: a rejection left to the process would end it (every tenant's jobs in flight with it).
    if (job?.finishedOn) void commitStatusJobFailed(ctx, job).catch((err: unknown) => ctx.logger.warn({ jobId: job.id, err: { message: (err as Error).message } }, 'commit status job failed for good: not handled'));
  });
  worker.on('error', (err) => ctx.logger.error({ err: { message: err.message } }, 'commit status worker error'));
  // The same for jobs whose failing process died before that handler ran.
  void sweepFailedCommitStatusJobs(ctx).catch((err: unknown) => ctx.logger.warn({ err: { message: (err as Error).message } }, 'failed commit status jobs not swept'));
  return worker;
}

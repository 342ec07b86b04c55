import type { Job, Worker } from 'bullmq';
import { LastJobWorker } from './lastJobWorker.js';
import type { Redis } from 'ioredis';
import { DEPLOY_QUEUE, queuePrefix, type DeployJobData } from '../server/queues/deployQueue.js';
import { runDeployJob } from './tasks/deployTask.js';
import { jobDeploymentId } from './tasks/verifyJob.js';
import type { WorkerContext } from './context.js';
import { createRunAligner } from './runAligner.js';

/** Runs following each other this closely start together (runAligner.ts): the most a run waits. */
export const DEPLOY_RUN_WINDOW_MS = 100;

export interface DeployWorkerOptions {
  /** Jobs in flight per process. Steps are short I/O; waiting is delayed jobs, so this can be high. */
  concurrency?: number;
  /** How long a job lock lives without renewal; a killed worker's job is picked up after this. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** Runs that follow each other within this many ms start together (runAligner.ts); 0: each at once. */
  runWindowMs?: number;
}

/**
 * The BullMQ worker for deployments. Give it its own connection (maxRetriesPerRequest: null).
 * A job stalls when its worker died mid-step. Every step is safe to repeat, so a stalled job is simply
 * run again: maxStalledCount is high on purpose (a deploy must not be lost to a few crashes). A job
 * that crashes every worker that takes it would be retried that often too; the logs show it.
 */
export function createDeployWorker(ctx: WorkerContext, connection: Redis, opts: DeployWorkerOptions = {}): Worker<DeployJobData> {
  const align = createRunAligner(opts.runWindowMs ?? DEPLOY_RUN_WINDOW_MS);
  const run = async (job: Job<DeployJobData>, token: string | undefined) => {
    await align();
    return runDeployJob(ctx, job, token);
  };
  const worker = new LastJobWorker<DeployJobData>(DEPLOY_QUEUE, run, {
    connection,
    prefix: queuePrefix(ctx.config.redisPrefix),
    concurrency: opts.concurrency ?? ctx.config.workerConcurrency,
    lockDuration: opts.lockDurationMs ?? 30_000,
    stalledInterval: opts.stalledIntervalMs ?? 30_000,
    maxStalledCount: 1_000,
    autorun: true,
  });
  worker.on('failed', (job, err) => {
    if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) ctx.logger.warn({ deploymentId: jobDeploymentId(job), err: err.message }, 'deploy job gave up');
  });
  worker.on('error', (err) => ctx.logger.error({ err: { message: err.message } }, 'worker error'));
  return worker;
}

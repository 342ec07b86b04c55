import { DelayedError, type Job } from 'bullmq';

/**
 * Wait without holding a worker slot: the job goes back to the queue as a delayed job and runs again
 * after `ms` (its processor must rethrow the DelayedError this throws, as BullMQ requires).
 */
export async function delayJob(job: Job, token: string | undefined, ms: number): Promise<never> {
  await job.moveToDelayed(Date.now() + Math.max(1, Math.round(ms)), token);
  throw new DelayedError();
}

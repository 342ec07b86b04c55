import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { queuePrefix } from './deployQueue.js';
import { quietQueue } from '../redis.js';

export const COMMIT_STATUS_QUEUE = 'commit-statuses';

/** Which status a job posts: `pending` once the commit is checked, `final` when the deploy ended. */
export type CommitStatusPhase = 'pending' | 'final';

/**
 * Job data: ids only, like a deploy job's, plus the record's requestMac (not a secret) tying the job
 * to its record. The job's name is its phase; the worker reloads the record and the session's token.
 */
export interface CommitStatusJobData {
  deploymentId: string;
  userId: number;
  requestMac: string;
}

/** One job per deployment and phase (BullMQ refuses ':' in custom ids). */
export const commitStatusJobId = (deploymentId: string, phase: CommitStatusPhase) => `${deploymentId}-${phase}`;

/**
 * Commit statuses have their own queue so that a deploy step never waits on GitHub: GitHub wants
 * writes for one user spaced a second apart, and a tenant's burst of deploys would otherwise hold every
 * deploy slot while its statuses queued (workers/tasks/commitStatus.ts). A status is best effort: a
 * few retries for GitHub hiccups, and nothing is kept once it is done.
 */
export function createCommitStatusQueue(connection: Redis, redisPrefix: string): Queue<CommitStatusJobData> {
  return quietQueue(new Queue<CommitStatusJobData>(COMMIT_STATUS_QUEUE, {
    connection,
    prefix: queuePrefix(redisPrefix),
    defaultJobOptions: {
      attempts: 4,
      backoff: { type: 'exponential', delay: 2_000, jitter: 0.5 },
      removeOnComplete: true,
      removeOnFail: { age: 24 * 3_600 },
    },
  }));
}

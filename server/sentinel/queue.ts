import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { queuePrefix } from '../queues/deployQueue.js';

export const SENTINEL_QUEUE = 'sentinel';
/** Job data: the user id only. The key is read from the session the settings name, each round. */
export interface SentinelJobData { userId: number }

export const schedulerId = (userId: number) => `watch:${userId}`;

export function createSentinelQueue(connection: Redis, redisPrefix: string): Queue<SentinelJobData> {
  return new Queue<SentinelJobData>(SENTINEL_QUEUE, {
    connection,
    prefix: queuePrefix(redisPrefix),
    defaultJobOptions: { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { age: 24 * 3600, count: 1_000 } },
  });
}

/** One repeatable job per watching user (BullMQ job scheduler); re-scheduling replaces the interval. */
export async function scheduleWatch(queue: Queue<SentinelJobData>, userId: number, everyMs: number): Promise<void> {
  await queue.upsertJobScheduler(schedulerId(userId), { every: everyMs }, { name: 'watch', data: { userId } });
}

export async function unscheduleWatch(queue: Queue<SentinelJobData>, userId: number): Promise<void> {
  await queue.removeJobScheduler(schedulerId(userId));
}

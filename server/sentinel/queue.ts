import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { queuePrefix } from '../queues/deployQueue.js';
import { scheduleKeys } from './schedule.js';

/**
 * The `sentinel` BullMQ queue of the old design: one job scheduler per watching user (id `watch:<id>`,
 * data `{userId}`). Rounds are now claimed from a sorted set (schedule.ts); this is kept to move what
 * the old design left in Redis onto the schedule when a worker starts.
 */
export const SENTINEL_QUEUE = 'sentinel';
export interface SentinelJobData { userId: number }

export const schedulerId = (userId: number) => `watch:${userId}`;

export function createSentinelQueue(connection: Redis, redisPrefix: string): Queue<SentinelJobData> {
  return new Queue<SentinelJobData>(SENTINEL_QUEUE, { connection, prefix: queuePrefix(redisPrefix) });
}

/**
 * Each old scheduler becomes an entry of the schedule (due when its next job was, unless the user is
 * scheduled already) and is removed; then the queue's jobs and keys go (obliterate: waiting, delayed,
 * and jobs left active by a process that died). Safe to run from several workers at once. Returns how
 * many watches were moved.
 */
export async function migrateOldSchedulers(o: { redis: Redis; queueConnection: Redis; prefix: string; nowMs: number; defaultEveryMs: number }): Promise<number> {
  const queue = createSentinelQueue(o.queueConnection, o.prefix);
  const keys = scheduleKeys(o.prefix);
  let moved = 0;
  try {
    if (await queue.getJobSchedulersCount() === 0 && (await queue.getJobCountByTypes('waiting', 'delayed', 'active', 'prioritized', 'waiting-children', 'completed', 'failed')) === 0) return 0;
    for (;;) {
      const batch = await queue.getJobSchedulers(0, 199);
      if (batch.length === 0) break;
      for (const s of batch) {
        const userId = s.key.startsWith('watch:') ? Number(s.key.slice('watch:'.length)) : NaN;
        if (Number.isSafeInteger(userId) && userId > 0) {
          await o.redis.multi()
            .zadd(keys.due, 'NX', s.next ?? o.nowMs, userId)
            .hsetnx(keys.intervals, String(userId), s.every ?? o.defaultEveryMs)
            .exec();
          moved += 1;
        }
        await queue.removeJobScheduler(s.key);
      }
    }
    await queue.obliterate({ force: true });
    return moved;
  } finally {
    await queue.close();
  }
}

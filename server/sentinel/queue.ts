import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { queuePrefix } from '../queues/deployQueue.js';
import { quietQueue } from '../redis.js';
import { scheduleKeys } from './schedule.js';

/**
 * The `sentinel` BullMQ queue of the old design: one job scheduler per watching user (id `watch:<id>`,
 * data `{userId}`). Rounds are now claimed from a sorted set (schedule.ts); this is kept to move what
 * the old design left in Redis onto the schedule when a worker starts, and what an old web process
 * still adds during a rolling upgrade.
 */
export const SENTINEL_QUEUE = 'sentinel';
export interface SentinelJobData { userId: number }

export const schedulerId = (userId: number) => `watch:${userId}`;

export function createSentinelQueue(connection: Redis, redisPrefix: string): Queue<SentinelJobData> {
  return quietQueue(new Queue<SentinelJobData>(SENTINEL_QUEUE, { connection, prefix: queuePrefix(redisPrefix) }));
}

interface MoveOptions { redis: Redis; prefix: string; defaultEveryMs: number; now: () => number }

/**
 * Each old scheduler becomes an entry of the schedule (due when its next job was, unless the user is
 * scheduled already) and is removed with its next job. Safe to run from several workers at once.
 * Returns how many watches were moved.
 */
async function moveSchedulers(queue: Queue<SentinelJobData>, o: MoveOptions): Promise<number> {
  const keys = scheduleKeys(o.prefix);
  let moved = 0;
  for (;;) {
    const batch = await queue.getJobSchedulers(0, 199);
    if (batch.length === 0) return moved;
    for (const s of batch) {
      const userId = s.key.startsWith('watch:') ? Number(s.key.slice('watch:'.length)) : NaN;
      if (Number.isSafeInteger(userId) && userId > 0) {
        await o.redis.multi()
          .zadd(keys.due, 'NX', s.next ?? o.now(), userId)
          .hsetnx(keys.intervals, String(userId), s.every ?? o.defaultEveryMs)
          .exec();
        moved += 1;
      }
      await queue.removeJobScheduler(s.key);
    }
  }
}

/**
 * At a worker's start: the old schedulers are moved, then the queue's jobs and keys go (obliterate:
 * waiting, delayed, and jobs left active by a process that died).
 */
async function migrateAtStart(queue: Queue<SentinelJobData>, o: MoveOptions): Promise<number> {
  if (await queue.getJobSchedulersCount() === 0 && (await queue.getJobCountByTypes('waiting', 'delayed', 'active', 'prioritized', 'waiting-children', 'completed', 'failed')) === 0) return 0;
  const moved = await moveSchedulers(queue, o);
  await queue.obliterate({ force: true });
  return moved;
}

/**
 * Moves the old design's schedulers onto the schedule when a worker starts (resolved once that first
 * move is done), then every `everyMs`: during a rolling upgrade an old web process still adds a
 * per-user scheduler when a user turns the watch on, and nothing else would run that watch until the
 * next worker start. The later moves cost one ZCARD while there is nothing to move, never overlap,
 * and leave the rest of the queue (a moved scheduler's first job, which only an old worker would run,
 * under the round's lock) to the next start: an obliterate also deletes a scheduler added while it
 * runs, a narrow window once at a start, but every minute of an upgrade it would lose watches. A move
 * that fails is logged, not fatal: the schedulers stay where they are for the next one.
 */
export async function startOldSchedulerMoves(o: MoveOptions & { queueConnection: Redis; logger: Logger; everyMs: number }) {
  const queue = createSentinelQueue(o.queueConnection, o.prefix);
  let running: Promise<void> | null = null;
  let closed = false;
  const run = (atStart: boolean): Promise<void> => {
    if (running || closed) return running ?? Promise.resolve();
    const move = atStart ? migrateAtStart(queue, o)
      : queue.getJobSchedulersCount().then((count) => (count === 0 ? 0 : moveSchedulers(queue, o)));
    running = move.then(
      (moved) => { if (moved > 0) o.logger.info({ moved }, 'sentinel: per-user job schedulers of the old design moved onto the schedule'); },
      (err: Error) => o.logger.error({ err: { message: err.message } }, 'sentinel: moving the old job schedulers failed'),
    ).finally(() => { running = null; });
    return running;
  };
  await run(true);
  const timer = setInterval(() => { void run(false); }, o.everyMs);
  return {
    /** No more moves; the one running finishes first unless `force`. */
    async close(force = false) {
      closed = true;
      clearInterval(timer);
      if (!force && running) await running;
      await queue.close().catch(() => {});
    },
  };
}

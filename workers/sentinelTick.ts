import type { Redis } from 'ioredis';
import type { Logger } from '../server/logger.js';
import { claimDue, type Claim } from '../server/sentinel/schedule.js';
import type { LastRound } from './tasks/sentinelTask.js';

export interface SentinelTickOptions {
  redis: Redis;
  prefix: string;
  logger: Logger;
  now: () => number;
  /** How often the process looks for users due. */
  tickMs: number;
  /** Rounds in flight in this process at most. */
  concurrency: number;
  defaultEveryMs: number;
  minLeaseMs?: number;
  runRound(claim: Claim): Promise<void>;
  /** What runRound remembers per user: entries of watches no longer run here are forgotten. */
  lastRound: Map<number, LastRound>;
}

/** A user whose last round here is this many intervals old is run elsewhere, or stopped. */
const FORGET_AFTER_INTERVALS = 3;

/**
 * The batched tick: every tickMs this process claims as many due users as it has free round slots (one
 * script call for all of them, server/sentinel/schedule.ts) and runs their rounds; while a claim came
 * back full, the rounds' ends claim again (a quarter of the slots at a time) rather than waiting for the tick. One claim per tick
 * replaces a BullMQ job cycle per user per round (issue 17).
 */
export function startSentinelTick(o: SentinelTickOptions) {
  const inFlight = new Set<Promise<void>>();
  // While users wait, slots are refilled a quarter at a time: one claim and one start write for several
  // users, rather than one each as every round ends.
  const refillAt = Math.max(1, Math.ceil(o.concurrency / 4));
  let claiming = false;
  let backlog = false;
  let closed = false;

  let claimed: Promise<void> = Promise.resolve();
  function pump(): Promise<void> {
    if (closed || claiming) return claimed;
    const free = o.concurrency - inFlight.size;
    if (free <= 0) { backlog = true; return claimed; }
    claiming = true;
    claimed = claim(free);
    return claimed;
  }

  // Users claimed are run even when close() came meanwhile: they are leased to this process.
  async function claim(free: number): Promise<void> {
    try {
      const claims = await claimDue(o.redis, o.prefix, { nowMs: o.now(), max: free, defaultEveryMs: o.defaultEveryMs, minLeaseMs: o.minLeaseMs });
      backlog = claims.length === free;
      for (const claim of claims) start(claim);
    } catch (err) {
      o.logger.error({ err: { message: (err as Error).message } }, 'sentinel: claiming due users failed');
    } finally {
      claiming = false;
    }
  }

  function start(claim: Claim) {
    const round: Promise<void> = o.runRound(claim)
      .catch((err: Error) => o.logger.error({ userId: claim.userId, err: { message: err.message } }, 'sentinel round failed'))
      .finally(() => {
        inFlight.delete(round);
        if (backlog && o.concurrency - inFlight.size >= refillAt) void pump();
      });
    inFlight.add(round);
  }

  // The leak this fixes: a watch stopped in another process (or by the route) left its entry here for good.
  function forgetOld() {
    const now = o.now();
    for (const [userId, last] of o.lastRound) if (now - last.atMs > FORGET_AFTER_INTERVALS * last.everyMs) o.lastRound.delete(userId);
  }

  const timer = setInterval(() => { forgetOld(); void pump(); }, o.tickMs);
  void pump();
  return {
    /** Rounds running in this process now. */
    get running() { return inFlight.size; },
    /** Claim no more; rounds in flight finish unless `force`. */
    async close(force = false) {
      closed = true;
      clearInterval(timer);
      if (force) return;
      await claimed;
      await Promise.all([...inFlight]);
    },
  };
}

export type SentinelTick = ReturnType<typeof startSentinelTick>;

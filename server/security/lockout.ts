import type { Redis } from 'ioredis';
import { createLimiter, retryAfterSec } from './rateLimits.js';
import type { SecurityLimits } from './options.js';

/**
 * Lock-out after repeated invalid Render keys, per user. Invalid attempts are counted in a window;
 * the attempt that reaches the maximum blocks the key for lockSec (rate-limiter-flexible's block
 * marks it as over the limit in Redis with that TTL, so every web process sees the lock).
 */
export function createKeyLockout(redis: Redis, prefix: string, rule: SecurityLimits['invalidKeys']) {
  const counter = createLimiter(redis, prefix, 'invalid-key', { points: rule.maxInvalid, durationSec: rule.windowSec });
  const keyOf = (userId: number) => `user:${userId}`;

  return {
    /** Seconds left on the user's lock, or 0 when not locked. */
    async lockedFor(userId: number): Promise<number> {
      const res = await counter.get(keyOf(userId));
      return res && res.consumedPoints > rule.maxInvalid ? retryAfterSec(res) : 0;
    },
    /** Record one invalid key; returns the attempt count and, when this one locked the user, the lock length. */
    async recordInvalid(userId: number): Promise<{ count: number; lockedForSec: number }> {
      const res = await counter.penalty(keyOf(userId), 1);
      if (res.consumedPoints < rule.maxInvalid) return { count: res.consumedPoints, lockedForSec: 0 };
      await counter.block(keyOf(userId), rule.lockSec);
      return { count: res.consumedPoints, lockedForSec: rule.lockSec };
    },
  };
}

export type KeyLockout = ReturnType<typeof createKeyLockout>;

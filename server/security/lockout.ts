import type { Redis } from 'ioredis';
import type { RateLimiterRedis } from 'rate-limiter-flexible';
import { createLimiter, retryAfterSec } from './rateLimits.js';
import type { SecurityLimits } from './options.js';

interface InvalidKeyOutcome {
  /** Invalid attempts with this key (by this user) in the window. */
  count: number;
  /** How many more invalid attempts before a lock (the smaller of the per-key and per-user allowance). */
  triesLeft: number;
  /** > 0 when this attempt locked key setup (for this key, or for the user). */
  lockedForSec: number;
  scope: 'user' | 'key';
}

/**
 * Lock-out after invalid Render keys, counted per (user, key fingerprint) and per user:
 * - the same wrong key maxInvalid times locks that key for the user (a typo retried);
 * - maxInvalidPerUser wrong keys of any kind lock key setup for the user (guessing).
 * A key Render accepts clears both counts. A correct key is therefore not refused because of a few
 * earlier typos of other keys; only a guessing-sized run of failures blocks every key.
 * Locks are rate-limiter-flexible blocks in Redis, so every web process sees them.
 */
export function createKeyLockout(redis: Redis, prefix: string, rule: SecurityLimits['invalidKeys']) {
  const perUserMax = rule.maxInvalidPerUser ?? rule.maxInvalid * 4;
  const perKey = createLimiter(redis, prefix, 'invalid-key-fp', { points: rule.maxInvalid, durationSec: rule.windowSec });
  const perUser = createLimiter(redis, prefix, 'invalid-key', { points: perUserMax, durationSec: rule.windowSec });
  const userKey = (userId: number) => `user:${userId}`;
  const keyKey = (userId: number, fp: string) => `user:${userId}:${fp}`;

  const lockLeft = async (limiter: RateLimiterRedis, key: string, max: number) => {
    const res = await limiter.get(key);
    return res && res.consumedPoints > max ? retryAfterSec(res) : 0;
  };

  return {
    /** Seconds left on a lock covering this user (or this key, when its fingerprint is known); 0 when none. */
    async lockedFor(userId: number, fp: string | null): Promise<{ seconds: number; scope: 'user' | 'key' }> {
      const [u, k] = await Promise.all([
        lockLeft(perUser, userKey(userId), perUserMax),
        fp ? lockLeft(perKey, keyKey(userId, fp), rule.maxInvalid) : Promise.resolve(0),
      ]);
      return u > 0 ? { seconds: u, scope: 'user' } : { seconds: k, scope: 'key' };
    },
    /** Record one invalid key. */
    async recordInvalid(userId: number, fp: string): Promise<InvalidKeyOutcome> {
      const [k, u] = await Promise.all([perKey.penalty(keyKey(userId, fp), 1), perUser.penalty(userKey(userId), 1)]);
      const triesLeft = Math.max(0, Math.min(rule.maxInvalid - k.consumedPoints, perUserMax - u.consumedPoints));
      if (k.consumedPoints >= rule.maxInvalid) await perKey.block(keyKey(userId, fp), rule.lockSec);
      if (u.consumedPoints >= perUserMax) await perUser.block(userKey(userId), rule.lockSec);
      const scope: 'user' | 'key' = u.consumedPoints >= perUserMax ? 'user' : 'key';
      const locked = k.consumedPoints >= rule.maxInvalid || u.consumedPoints >= perUserMax;
      return { count: k.consumedPoints, triesLeft, lockedForSec: locked ? rule.lockSec : 0, scope };
    },
    /** A key Render accepted: the user starts again with a clean count. */
    async clear(userId: number, fp: string): Promise<void> {
      await Promise.all([perKey.delete(keyKey(userId, fp)), perUser.delete(userKey(userId))]);
    },
  };
}

export type KeyLockout = ReturnType<typeof createKeyLockout>;

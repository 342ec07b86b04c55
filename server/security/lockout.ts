import type { Redis } from 'ioredis';
import { createLimiter, retryAfterSec } from './rateLimits.js';
import type { SecurityLimits } from './options.js';
import { redisScript } from '../redisScript.js';

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
 * A claimed try given back (KEYS: the per-key and per-user counts of rate-limiter-flexible, ARGV: their
 * allowances), read and lowered in one step: unless either count is over its allowance (a lock sets it
 * past), and never below nothing (a count cleared or lapsed meanwhile is not written again as -1, a try
 * in credit). Returns 1 when given back.
 */
const GIVE_BACK = redisScript(`
local k = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local u = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
if k > tonumber(ARGV[1]) or u > tonumber(ARGV[2]) then return 0 end
if k > 0 then redis.call('DECR', KEYS[1]) end
if u > 0 then redis.call('DECR', KEYS[2]) end
return 1`);

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
  // A key Render accepted lately: its requests need no claim (they are not guessing), so a CI
  // sending it on many requests at once is not refused for having more tries in flight than allowed.
  const acceptedKey = (userId: number, fp: string) => `${prefix}:rl:key-accepted:user:${userId}:${fp}`;
  const lockLeft = async (limiter: typeof perKey, key: string, max: number) => {
    const res = await limiter.get(key);
    return res && res.consumedPoints > max ? retryAfterSec(res) : 0;
  };

  return {
    /**
     * Claim one try before a key is sent to Render: the try counts as an invalid one from now on,
     * until Render accepts the key (clear) or could not judge it (release). Counted first, checked
     * after, in one step each, so requests sent at once cannot all pass a check that none of them
     * has been counted against yet (a burst would send Render as many keys as it has requests in
     * flight). Refused while the tries claimed (in flight or rejected) exceed an allowance.
     */
    async claim(userId: number, fp: string): Promise<{ seconds: number; scope: 'user' | 'key'; claimed: boolean }> {
      if (await redis.exists(acceptedKey(userId, fp))) {
        // Accepted lately: only a lock refuses it (one set since, by other keys' rejections).
        const [us, ks] = await Promise.all([lockLeft(perUser, userKey(userId), perUserMax), lockLeft(perKey, keyKey(userId, fp), rule.maxInvalid)]);
        return us > 0 ? { seconds: us, scope: 'user', claimed: false } : { seconds: ks, scope: 'key', claimed: false };
      }
      const [k, u] = await Promise.all([perKey.penalty(keyKey(userId, fp), 1), perUser.penalty(userKey(userId), 1)]);
      const [overUser, overKey] = [u.consumedPoints > perUserMax, k.consumedPoints > rule.maxInvalid];
      if (!overUser && !overKey) return { seconds: 0, scope: 'key', claimed: true };
      // Not tried: the claim is given back where it did not go over. A count over its allowance keeps
      // it: a lock sets the count (past the allowance), so a give-back landing after that would bring
      // the count under and let a try through; the extra point changes nothing, the count lapses with
      // its lock or window all the same.
      await Promise.all([overKey ? null : perKey.reward(keyKey(userId, fp), 1), overUser ? null : perUser.reward(userKey(userId), 1)]);
      return overUser ? { seconds: retryAfterSec(u), scope: 'user', claimed: false } : { seconds: retryAfterSec(k), scope: 'key', claimed: false };
    },
    /**
     * Render could not judge a claimed key (unavailable, rate limited): the try is given back, unless
     * a lock holds. One script (GIVE_BACK): read, then lowered in two steps, give-backs racing a lock
     * another process set between them lowered that lock, and as many tries went through it.
     */
    async release(userId: number, fp: string, claimed: boolean): Promise<void> {
      if (!claimed) return;
      await GIVE_BACK(redis, [perKey.getKey(keyKey(userId, fp)), perUser.getKey(userKey(userId))], [rule.maxInvalid, perUserMax]);
    },
    /** Render rejected a key (a claimed one's try is already counted, else it is counted now): lock when an allowance is used up. */
    async recordInvalid(userId: number, fp: string, claimed: boolean): Promise<InvalidKeyOutcome> {
      const firstSinceAccepted = (await redis.del(acceptedKey(userId, fp))) === 1;
      // An unclaimed try (its key was accepted lately) is one more for the user only if it is the key's first
      // rejection since: a burst sent on that mark (CI's parallel jobs, the key just revoked on Render) is one
      // wrong key, not guesses; each counted for the user, it locked key setup for the new, correct key.
      const countUser = !claimed && firstSinceAccepted;
      const [k, u] = claimed
        ? await Promise.all([perKey.get(keyKey(userId, fp)), perUser.get(userKey(userId))])
        : await Promise.all([perKey.penalty(keyKey(userId, fp), 1), countUser ? perUser.penalty(userKey(userId), 1) : perUser.get(userKey(userId))]);
      const [kc, uc] = [k?.consumedPoints ?? 1, u?.consumedPoints ?? (claimed || countUser ? 1 : 0)];
      const triesLeft = Math.max(0, Math.min(rule.maxInvalid - kc, perUserMax - uc));
      if (kc >= rule.maxInvalid) await perKey.block(keyKey(userId, fp), rule.lockSec);
      if (uc >= perUserMax) await perUser.block(userKey(userId), rule.lockSec);
      const scope: 'user' | 'key' = uc >= perUserMax ? 'user' : 'key';
      const locked = kc >= rule.maxInvalid || uc >= perUserMax;
      return { count: Math.min(kc, rule.maxInvalid), triesLeft, lockedForSec: locked ? rule.lockSec : 0, scope };
    },
    /** A key Render accepted: the user starts again with a clean count. */
    async clear(userId: number, fp: string): Promise<void> {
      await Promise.all([perKey.delete(keyKey(userId, fp)), perUser.delete(userKey(userId)), redis.set(acceptedKey(userId, fp), '1', 'EX', rule.windowSec)]);
    },
  };
}

export type KeyLockout = ReturnType<typeof createKeyLockout>;

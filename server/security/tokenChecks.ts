import type Koa from 'koa';
import type { Redis } from 'ioredis';
import { errors } from '../errors.js';
import { redisScript } from '../redisScript.js';
import { createLimiter, retryAfterSec } from './rateLimits.js';
import type { SecurityLimits } from './options.js';
import { networkKey } from './clientNetwork.js';

/** A claimed try given back (KEYS: the address's count), never below nothing: a count that lapsed meanwhile is not written again as -1, a try in credit. */
const GIVE_BACK = redisScript(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if n > 0 then redis.call('DECR', KEYS[1]) end
return 1`);

const TOO_MANY = 'Too many GitHub tokens from your network were refused by GitHub. Wait a few minutes, then try again with a valid token.';

/**
 * Bearer tokens GitHub refused, counted per IP: a limit of their own, apart from the browser's sign-in
 * limit, which a token vouched for (re-checked every window all day) must not spend. A token not known
 * to be good (none GitHub vouched for lately) claims a try before it is sent to GitHub, given back when
 * GitHub vouches for it or could not judge it: claimed first, so a burst of made-up tokens cannot all
 * be in flight past the allowance. A vouched-for token claims nothing; GitHub refusing it is counted.
 */
export function createTokenChecks(redis: Redis, prefix: string, rule: SecurityLimits['invalidTokens']) {
  const limiter = createLimiter(redis, prefix, 'invalid-token', { points: rule.maxInvalid, durationSec: rule.windowSec });
  return {
    /** Before an unknown token goes to GitHub: one try claimed, or 429 rate_limited while the address's are used up (over-claims are kept: the count lapses with its window). */
    async claim(ctx: Koa.Context): Promise<void> {
      const res = await limiter.penalty(networkKey(ctx), 1);
      if (res.consumedPoints > rule.maxInvalid) throw errors.rateLimited(retryAfterSec(res), TOO_MANY);
    },
    /** GitHub vouched for a claimed token, or could not judge it. */
    async giveBack(ctx: Koa.Context): Promise<void> {
      await GIVE_BACK(redis, [limiter.getKey(networkKey(ctx))], []);
    },
    /** GitHub refused a token that claimed nothing (one it had vouched for: revoked or expired since). */
    async countRefused(ctx: Koa.Context): Promise<void> {
      await limiter.penalty(networkKey(ctx), 1);
    },
  };
}

export type TokenChecks = ReturnType<typeof createTokenChecks>;

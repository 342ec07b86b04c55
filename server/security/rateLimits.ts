import type Koa from 'koa';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { errors } from '../errors.js';
import { getSession } from '../sessions/middleware.js';
import type { LimitRule } from './options.js';
import { networkKey } from './clientNetwork.js';

/**
 * A limiter in Redis (shared by every web process) with an in-memory insurance limiter: if Redis
 * does not answer, each process keeps limiting on its own instead of letting everything through.
 */
export function createLimiter(redis: Redis, prefix: string, name: string, rule: LimitRule): RateLimiterRedis {
  return new RateLimiterRedis({
    storeClient: redis,
    keyPrefix: `${prefix}:rl:${name}`,
    points: rule.points,
    duration: rule.durationSec,
    rejectIfRedisNotReady: true,
    insuranceLimiter: new RateLimiterMemory({ keyPrefix: `${prefix}:rl:${name}`, points: rule.points, duration: rule.durationSec }),
  });
}

export type KeyOf = (ctx: Koa.Context) => string | null;

/** Per client network: an IPv4 address or an IPv6 /64 (clientNetwork.ts). */
export const byIp: KeyOf = networkKey;
export const byUser: KeyOf = (ctx) => {
  const id = getSession(ctx)?.user?.id;
  return typeof id === 'number' ? `user:${id}` : null;
};

/** Seconds until a rejected key may try again (at least 1). */
export function retryAfterSec(res: RateLimiterRes): number {
  return Math.max(1, Math.ceil(res.msBeforeNext / 1000));
}

/**
 * Middleware: one point per request under keyOf(ctx); over the limit → 429 rate_limited with
 * Retry-After. Requests without a key (no signed-in user for a per-user limit) pass: the route
 * itself answers them 401.
 */
export function limitRequests(limiter: RateLimiterRedis, keyOf: KeyOf, message: string): Koa.Middleware {
  return async (ctx, next) => {
    const key = keyOf(ctx);
    if (key) {
      try {
        await limiter.consume(key);
      } catch (err) {
        if (err instanceof RateLimiterRes) throw errors.rateLimited(retryAfterSec(err), message);
        throw err;
      }
    }
    await next();
  };
}

/** Count an occurrence; resolves to how many there have been in the current window. */
export async function countOccurrence(limiter: RateLimiterRedis, key: string): Promise<number> {
  const res = await limiter.penalty(key, 1);
  return res.consumedPoints;
}

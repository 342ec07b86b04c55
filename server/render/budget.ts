import type { Redis } from 'ioredis';
import type { RenderCallInfo } from './transport.js';
import { redisScript } from '../redisScript.js';

/**
 * Render's documented limits (docs/render-api.md §9) per API key, deploy-type actions per service.
 * We spend a little less than Render allows, so latency between our clock and Render's never tips a
 * request over: a sliding window of N calls guarantees at most N in any of Render's fixed windows.
 */
interface BucketLimit { limit: number; windowMs: number }
export interface RenderLimits {
  createService: BucketLimit;
  deploy: BucketLimit;
  write: BucketLimit;
  read: BucketLimit;
  logs: BucketLimit;
}

const perMinute = (limit: number): BucketLimit => ({ limit, windowMs: 60_000 });
export const RENDER_DOCUMENTED_LIMITS: RenderLimits = {
  createService: { limit: 20, windowMs: 3_600_000 },
  deploy: perMinute(10), write: perMinute(30), read: perMinute(400), logs: perMinute(30),
};

/** What we allow ourselves: 90% of each limit (at least 1) over a window one second longer. */
export function budgetFrom(limits: RenderLimits, margin = 0.9, extraWindowMs = 1_000): RenderLimits {
  const shrink = (b: BucketLimit): BucketLimit => ({ limit: Math.max(1, Math.floor(b.limit * margin)), windowMs: b.windowMs + extraWindowMs });
  return { createService: shrink(limits.createService), deploy: shrink(limits.deploy), write: shrink(limits.write), read: shrink(limits.read), logs: shrink(limits.logs) };
}

const DEPLOY_ROUTES = new Set(['/services/{serviceId}', '/services/{serviceId}/deploys', '/services/{serviceId}/resume', '/services/{serviceId}/suspend']);

/** Which bucket a call spends from. */
export function bucketOf(call: Pick<RenderCallInfo, 'method' | 'route'> & { serviceId?: string }): { name: keyof RenderLimits; scope: string } {
  if (call.method === 'GET') return call.route === '/logs' ? { name: 'logs', scope: 'key' } : { name: 'read', scope: 'key' };
  if (call.method === 'POST' && call.route === '/services') return { name: 'createService', scope: 'key' };
  if ((call.method === 'POST' || call.method === 'PATCH') && DEPLOY_ROUTES.has(call.route) && call.serviceId) {
    if (call.method === 'PATCH' || call.route !== '/services/{serviceId}') return { name: 'deploy', scope: call.serviceId };
  }
  return { name: 'write', scope: 'key' };
}

/** No capacity now: try again after retryAfterMs. Workers turn this into a delayed job, the web into 429. */
export class BudgetExhausted extends Error {
  readonly retryAfterMs: number;
  readonly bucket: string;
  constructor(retryAfterMs: number, bucket: string) {
    super(`Render budget for ${bucket} is spent; retry in ${Math.ceil(retryAfterMs / 1000)} s`);
    this.retryAfterMs = retryAfterMs;
    this.bucket = bucket;
    this.name = 'BudgetExhausted';
  }
}

// Sliding-window log: one sorted set per key and bucket, scored by Redis' own clock so every process agrees.
// Returns 0 when a slot was taken, else milliseconds until the oldest call leaves the window.
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)`;

// A background share (Sentinel): take a slot in the shared bucket (KEYS[1]) only while the share's own
// log (KEYS[2]) holds fewer than ARGV[4] calls AND the shared bucket keeps ARGV[5] slots free for
// deploys. Returns 0 when taken, else ms until a retry could succeed.
const TAKE_SHARE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
local shared = redis.call('ZCARD', KEYS[1])
local mine = redis.call('ZCARD', KEYS[2])
if mine < tonumber(ARGV[4]) and shared + tonumber(ARGV[5]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('ZADD', KEYS[2], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  redis.call('PEXPIRE', KEYS[2], window)
  return 0
end
local oldest = redis.call('ZRANGE', mine < tonumber(ARGV[4]) and KEYS[1] or KEYS[2], 0, 0, 'WITHSCORES')
if not oldest[2] then return window end
return math.max(1, tonumber(oldest[2]) + window - now)`;

// By EVALSHA: a script's text crosses the connection once per process, not before every Render call.
const takeScript = redisScript(TAKE);
const takeShareScript = redisScript(TAKE_SHARE);

/**
 * One budget per Render key (identified by its fingerprint, never the key), in Redis, shared by every
 * worker and web process, so bursts wait here instead of drawing 429s from Render.
 */
export function createRenderBudget(opts: { redis: Redis; prefix: string; limits?: RenderLimits; onWait?: (bucket: string, ms: number) => void }) {
  const limits = opts.limits ?? budgetFrom(RENDER_DOCUMENTED_LIMITS);
  let seq = 0;
  const token = () => `${process.pid}-${Date.now()}-${seq++}-${Math.random().toString(36).slice(2, 8)}`;

  async function take(keyId: string, call: RenderCallInfo & { serviceId?: string }): Promise<{ bucket: string; waitMs: number }> {
    const { name, scope } = bucketOf(call);
    const bucket = scope === 'key' ? name : `${name}:${scope}`;
    const { limit, windowMs } = limits[name];
    const waitMs = Number(await takeScript(opts.redis, [`${opts.prefix}:budget:${keyId}:${bucket}`], [limit, windowMs, token()]));
    return { bucket, waitMs };
  }

  return {
    limits,
    /**
     * Background work (Sentinel): at most `share` of a bucket per window, and only while the bucket
     * keeps the same share free, so deploys always come first. Throws BudgetExhausted at once.
     */
    async acquireShare(keyId: string, call: RenderCallInfo & { serviceId?: string }, share: number, label = 'background'): Promise<void> {
      const { name, scope } = bucketOf(call);
      const bucket = scope === 'key' ? name : `${name}:${scope}`;
      const { limit, windowMs } = limits[name];
      const slots = Math.max(1, Math.floor(limit * share));
      const reserve = Math.max(1, Math.ceil(limit * share));
      const waitMs = Number(await takeShareScript(opts.redis, [`${opts.prefix}:budget:${keyId}:${bucket}`, `${opts.prefix}:budget:${keyId}:${label}:${bucket}`], [limit, windowMs, token(), slots, reserve]));
      if (waitMs > 0) throw new BudgetExhausted(waitMs, `${label}:${bucket}`);
    },
    /** Take a slot or throw BudgetExhausted at once (workers: the job is delayed, no slot held). */
    async acquireOrThrow(keyId: string, call: RenderCallInfo & { serviceId?: string }): Promise<void> {
      const { bucket, waitMs } = await take(keyId, call);
      if (waitMs > 0) { opts.onWait?.(bucket, waitMs); throw new BudgetExhausted(waitMs, bucket); }
    },
    /** Take a slot, waiting up to maxWaitMs for one (web requests); then BudgetExhausted. */
    async acquire(keyId: string, call: RenderCallInfo & { serviceId?: string }, maxWaitMs = 2_000): Promise<void> {
      const deadline = Date.now() + maxWaitMs;
      for (;;) {
        const { bucket, waitMs } = await take(keyId, call);
        if (waitMs === 0) return;
        opts.onWait?.(bucket, waitMs);
        if (Date.now() + waitMs > deadline) throw new BudgetExhausted(waitMs, bucket);
        await new Promise((r) => setTimeout(r, waitMs));
      }
    },
  };
}

export type RenderBudget = ReturnType<typeof createRenderBudget>;

import type { RateLimitBucket, RateLimitConfig, RenderSimOptions } from './types.js';

/**
 * Fixed-window rate limits per API key as docs/render-api.md §9 documents them: service creation
 * 20/hour, deploy-type actions 10/min per service, other writes 30/min, GETs 400/min.
 */

export const DEFAULT_RATE_LIMITS: RateLimitConfig = {
  createService: { limit: 20, windowMs: 60 * 60 * 1000 },
  deploy: { limit: 10, windowMs: 60 * 1000 },
  write: { limit: 30, windowMs: 60 * 1000 },
  read: { limit: 400, windowMs: 60 * 1000 },
};

export function resolveRateLimits(overrides: RenderSimOptions['rateLimits'] = {}): RateLimitConfig {
  const out = { ...DEFAULT_RATE_LIMITS };
  for (const bucket of Object.keys(out) as RateLimitBucket[]) {
    out[bucket] = { ...DEFAULT_RATE_LIMITS[bucket], ...(overrides[bucket] ?? {}) };
  }
  return out;
}

const DEPLOY_TYPE = new Set([
  'PATCH /services/{serviceId}',
  'POST /services/{serviceId}/deploys',
  'POST /services/{serviceId}/suspend',
  'POST /services/{serviceId}/resume',
  // A rollback creates a deploy, so it is counted with them.
  'POST /services/{serviceId}/rollback',
]);

/** Which bucket a request counts against, and its scope (the service id for deploy-type actions). */
export function classify(method: string, route: string, params: Record<string, string>): { bucket: RateLimitBucket; scope: string } {
  if (method === 'POST' && route === '/services') return { bucket: 'createService', scope: '' };
  if (DEPLOY_TYPE.has(`${method} ${route}`)) return { bucket: 'deploy', scope: params.serviceId ?? '' };
  if (method === 'GET' || method === 'HEAD') return { bucket: 'read', scope: '' };
  return { bucket: 'write', scope: '' };
}

export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the window resets (what Render's Ratelimit-Reset carries in practice). */
  resetSeconds: number;
}

export interface RateLimiter {
  /** Counts one request (when allowed) and reports the window. */
  consume(identity: string, bucket: RateLimitBucket, scope: string): RateLimitDecision;
  /** Reports the window without counting. */
  peek(identity: string, bucket: RateLimitBucket, scope: string): RateLimitDecision;
  reset(): void;
}

export function createRateLimiter(config: RateLimitConfig, now: () => number): RateLimiter {
  const windows = new Map<string, { start: number; count: number }>();
  const current = (identity: string, bucket: RateLimitBucket, scope: string) => {
    const key = `${bucket}\u0000${scope}\u0000${identity}`;
    const { windowMs } = config[bucket];
    const t = now();
    let w = windows.get(key);
    if (!w || t >= w.start + windowMs) {
      w = { start: t, count: 0 };
      windows.set(key, w);
    }
    return w;
  };
  const decision = (w: { start: number; count: number }, bucket: RateLimitBucket, allowed: boolean): RateLimitDecision => {
    const { limit, windowMs } = config[bucket];
    return {
      allowed,
      limit,
      remaining: Math.max(0, limit - w.count),
      resetSeconds: Math.max(0, Math.ceil((w.start + windowMs - now()) / 1000)),
    };
  };
  return {
    consume(identity, bucket, scope) {
      const w = current(identity, bucket, scope);
      if (w.count >= config[bucket].limit) return decision(w, bucket, false);
      w.count += 1;
      return decision(w, bucket, true);
    },
    peek(identity, bucket, scope) {
      return decision(current(identity, bucket, scope), bucket, true);
    },
    reset() {
      windows.clear();
    },
  };
}

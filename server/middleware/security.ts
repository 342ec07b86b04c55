import type { Middleware } from 'koa';
import { errors } from '../errors.js';
import { safeEqual } from '../crypto/keyring.js';
import { bearerSessionId, getSession } from '../sessions/middleware.js';
import { tagged } from '../openapi/describe.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Same-origin check for state-changing requests: a present Origin must be ours (or an allowed CORS
 * origin), and Fetch Metadata must not say cross-site. Koa 3's ctx.origin echoes the request's Origin,
 * so the comparison is against configuration only.
 */
export function sameOrigin(allowed: string[]): Middleware {
  const origins = new Set(allowed);
  return async (ctx, next) => {
    if (!SAFE_METHODS.has(ctx.method)) {
      const origin = ctx.get('origin');
      if (origin && !origins.has(origin)) throw errors.originRejected();
      if (ctx.get('sec-fetch-site') === 'cross-site') throw errors.originRejected();
    }
    await next();
  };
}

/** 401 unless signed in. */
export function requireUser(): Middleware {
  return tagged(async (ctx, next) => {
    const s = getSession(ctx);
    if (!s?.user) throw errors.unauthenticated();
    await next();
  }, { kind: 'user' });
}

/**
 * Synchronizer token: X-CSRF-Token header (or _csrf form field) must equal the session's token.
 * Bearer requests need none: they read no cookie, so a browser cannot be made to send one.
 */
export function requireCsrf(): Middleware {
  return tagged(async (ctx, next) => {
    if (!SAFE_METHODS.has(ctx.method) && !bearerSessionId(ctx)) {
      const expected = getSession(ctx)?.csrfToken;
      const body = ctx.request.body as Record<string, unknown> | undefined;
      const given = ctx.get('x-csrf-token') || (typeof body?._csrf === 'string' ? body._csrf : '');
      if (!expected || !given || !safeEqual(given, expected)) throw errors.csrfFailed();
    }
    await next();
  }, { kind: 'csrf' });
}

/** API responses are per-user: never cache them anywhere. */
export function noStore(): Middleware {
  return async (ctx, next) => {
    // Set before next(): error responses must carry it too.
    if (ctx.path.startsWith('/api/')) ctx.set('Cache-Control', 'no-store');
    await next();
  };
}

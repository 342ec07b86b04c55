import type { Context, Middleware } from 'koa';
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

// requireUser lives with the typed request context it fills (ctx.state.user, .session, .sessionId).
export { requireUser } from './context.js';

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

type HeaderValue = number | string | readonly string[];
type HeaderOp = { set: string; value: HeaderValue } | { remove: string };

/**
 * Headers that do not depend on the request, set without running the middleware that makes them:
 * `headers` (helmet, with our options: fixed directives, no per-request nonces) runs once, on the
 * first request, against a response that records what it sets and removes; every response then gets
 * the same operations directly. koa-helmet runs helmet's chain of a dozen middleware through a
 * promise on every request, a few µs of an authenticated GET (see bench/).
 */
export function fixedHeaders(headers: Middleware): Middleware {
  let recorded: Promise<HeaderOp[]> | undefined;
  const record = async (ctx: Context): Promise<HeaderOp[]> => {
    const ops: HeaderOp[] = [];
    const res = {
      setHeader(name: string, value: HeaderValue) { ops.push({ set: name, value }); return res; },
      removeHeader(name: string) { ops.push({ remove: name }); },
    };
    await headers({ req: ctx.req, res } as unknown as Context, async () => {});
    return ops;
  };
  return async (ctx, next) => {
    recorded ??= record(ctx).catch((err: unknown) => { recorded = undefined; throw err; });
    for (const op of await recorded) {
      if ('set' in op) ctx.res.setHeader(op.set, op.value);
      else ctx.res.removeHeader(op.remove);
    }
    await next();
  };
}

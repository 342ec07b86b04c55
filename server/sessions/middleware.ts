import type Koa from 'koa';
import session from 'koa-session';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { AppSession } from './types.js';
import type { SessionStore } from './store.js';

export const SESSION_COOKIE_SECURE = '__Host-sid';
export const SESSION_COOKIE_PLAIN = 'sid';

/**
 * koa-session wired to the Redis store only: there is no code path that keeps session data in the
 * cookie. The cookie holds a random 256-bit id, signed (HMAC-SHA256, keys from SECRET_KEY).
 * It is a browser-session cookie (no Expires); expiry is enforced server-side by the store.
 */
export function sessionMiddleware(app: Koa, opts: { store: SessionStore; secure: boolean }): Koa.Middleware {
  if (!opts.store) throw new Error('refusing to start: sessions need the Redis store');
  const key = opts.secure ? SESSION_COOKIE_SECURE : SESSION_COOKIE_PLAIN;
  const cookie = { httpOnly: true, secure: opts.secure, sameSite: 'lax' as const, signed: true, overwrite: true };
  return session(
    {
      key,
      // A bearer request (server/auth/bearer.ts) names its token session itself and never gets a cookie.
      externalKey: {
        get: (ctx: Koa.Context) => bearerSessionId(ctx) ?? ctx.cookies.get(key, { signed: true }) ?? '',
        set: (ctx: Koa.Context, value: string) => { if (!bearerSessionId(ctx)) ctx.cookies.set(key, value, cookie); },
      },
      // A token session is never reachable through a cookie, nor a cookie session through a token.
      valid: (ctx: Koa.Context, data: AppSession) => Boolean(bearerSessionId(ctx)) === Boolean(data.bearer),
      maxAge: 'session',
      rolling: false,
      renew: false,
      httpOnly: true,
      secure: opts.secure,
      sameSite: 'lax', // not strict: the OAuth callback is a cross-site top-level navigation
      signed: true,
      overwrite: true,
      store: opts.store,
      genid: () => randomBytes(32).toString('base64url'),
    },
    app,
  );
}

/** The token session this request runs on (set by the bearer middleware), or undefined for cookie requests. */
export function bearerSessionId(ctx: Koa.Context): string | undefined {
  const sid: unknown = ctx.state.bearerSid;
  return typeof sid === 'string' ? sid : undefined;
}

/** Typed access to the session. */
export function getSession(ctx: Koa.Context): AppSession {
  return ctx.session;
}

/**
 * Slide the idle window: update lastSeenAt at most once per `touchMs` so an active user stays signed
 * in without a Redis write on every request.
 */
export function touchSession(clock: Clock, touchMs: number): Koa.Middleware {
  return async (ctx, next) => {
    const s = ctx.session as unknown as AppSession | null;
    if (s?.user) {
      const now = clock.now();
      if (typeof s.lastSeenAt !== 'number' || now - s.lastSeenAt >= touchMs) s.lastSeenAt = now;
      ctx.state.userId = s.user.id;
    }
    await next();
  };
}

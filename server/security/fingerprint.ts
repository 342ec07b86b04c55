import type Koa from 'koa';
import { errors } from '../errors.js';
import { clientHash } from '../routes/auth.js';
import { getSession } from '../sessions/middleware.js';

export interface ClientChange {
  userId: number;
  login: string;
  /** The session's ref (HMAC of its id), to stop its unfinished deploys. */
  sessionRef: string;
}

/**
 * Changed-client check on every signed-in request: the session remembers a hash of the user agent
 * it signed in with (session.clientHash, set at login). A different one means the cookie is being
 * replayed from another client (stolen from a backup, a proxy log, malware), so the session is
 * ended on the spot and the request gets 401: the cost to a real user whose browser updated itself
 * mid-session is one sign-in, the cost of letting a stolen cookie through is their Render account.
 * The user agent is only a weak fingerprint (an attacker can copy it), but it is free and catches
 * the careless replay; the IP is deliberately not used since it legitimately changes (mobile, VPN).
 */
export function clientFingerprintGuard(opts: {
  refOf: (ctx: Koa.Context) => string;
  onChanged: (ctx: Koa.Context, change: ClientChange) => Promise<void>;
}): Koa.Middleware {
  return async (ctx, next) => {
    const sess = getSession(ctx);
    const expected = sess?.user ? sess.clientHash : undefined;
    // Sessions created before fingerprints existed carry none: nothing to compare against.
    if (sess?.user && expected && expected !== clientHash(ctx)) {
      const change = { userId: sess.user.id, login: sess.user.login, sessionRef: opts.refOf(ctx) };
      ctx.session = null; // koa-session destroys the record when the request ends (also on errors)
      ctx.state.userId = undefined;
      await opts.onChanged(ctx, change);
      throw errors.unauthenticated('This session was used from a different browser or app, so it was ended to protect your account. Sign in again.');
    }
    await next();
  };
}

import type Koa from 'koa';
import type { AppDeps } from '../deps.js';
import { errors } from '../errors.js';
import { clientHash } from './clientHash.js';
import { requestDetail } from '../audit/fromRequest.js';
import { getSession } from '../sessions/middleware.js';
import { sessionIdOf } from '../middleware/context.js';

/**
 * Changed-client check on every signed-in request: the session remembers a hash of the user agent
 * it signed in with (session.clientHash, set at login). A different one means the cookie is being
 * replayed from another client (stolen from a backup, a proxy log, malware), so the session is
 * ended on the spot and the request gets 401: the cost to a real user whose browser updated itself
 * mid-session is one sign-in, the cost of letting a stolen cookie through is their Render account.
 * The user agent is only a weak fingerprint (an attacker can copy it), but it is free and catches
 * the careless replay; the IP is deliberately not used since it legitimately changes (mobile, VPN).
 * Ending it is the session-ending use case (server/sessions/endSession.ts): destroyed, its deploys
 * stopped, its streams closed, and the `client_changed` security event raised.
 */
export function clientFingerprintGuard(deps: Pick<AppDeps, 'sessions' | 'sessionEnding'>): Koa.Middleware {
  async function endReplayed(ctx: Koa.Context, user: { id: number; login: string }): Promise<never> {
    const ref = deps.sessions.refOf(sessionIdOf(ctx) ?? '');
    ctx.session = null; // the session middleware clears the cookie (the record is already gone: nothing to destroy)
    ctx.state.userId = undefined;
    await deps.sessionEnding.end(ref, user.id, 'client_changed', { login: user.login, detail: requestDetail(ctx) });
    throw errors.unauthenticated('This session was used from a different browser or app, so it was ended to protect your account. Sign in again.');
  }
  // Not an async function: a request from the same client hands next()'s promise on (no await of its own).
  return (ctx, next) => {
    const sess = getSession(ctx);
    const expected = sess?.user ? sess.clientHash : undefined;
    // Sessions created before fingerprints existed carry none: nothing to compare against.
    if (sess?.user && expected && expected !== clientHash(ctx)) return endReplayed(ctx, sess.user);
    return next();
  };
}

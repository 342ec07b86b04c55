import type Koa from 'koa';
import type { AppDeps } from '../deps.js';
import { AppError } from '../errors.js';
import { GitHubError } from '../github/errors.js';
import { getSession } from './middleware.js';
import { sessionIdOf } from '../middleware/context.js';
import { openGithubToken } from './credentials.js';
import { createTokenSessions } from '../bearer/tokenSessions.js';

/** GitHub refused the session's own token (revoked, expired), or it no longer opens: what a request fails with then. */
const refusedToken = (err: unknown) => (err instanceof GitHubError && err.kind === 'unauthorized') || (err instanceof AppError && err.code === 'github_token_invalid');

/**
 * A browser session whose GitHub token GitHub refuses is over, as a bearer token's is (server/bearer/tokenSessions.ts):
 * ended as at sign-out (destroyed, its deploys stopped, its streams closed, reason `token_revoked`) and its cookie
 * cleared, before the 401 `github_token_invalid` that tells the user to sign in again. Before, the page showed the sign-in
 * screen while the session, Render key included, stayed live behind the cookie: a reload (the next person at a shared
 * computer) was signed in again, and the user's other tabs went on.
 *
 * A bearer request's token is ended the same way its own check ends it on GitHub's refusal (server/bearer/tokenSessions.ts
 * `refused`: its entry dropped, its session ended). Left to that check, the entry went on vouching for the token the
 * server had just answered 401 for, and the next request was served on it for up to BEARER_RECHECK_SECONDS.
 */
export function endSessionOnGitHubRefusal(deps: Pick<AppDeps, 'sessions' | 'sessionEnding' | 'logger'>): (ctx: Koa.Context, err: unknown) => Promise<void> {
  return async (ctx, err) => {
    if (!refusedToken(err)) return;
    const user = getSession(ctx)?.user;
    if (ctx.state.auth === 'bearer') {
      // No cookie to clear: the next request with the token is checked with GitHub again, and refused.
      await ctx.state.bearerTokenRefused?.().catch((endErr: unknown) => {
        (ctx.state.log ?? deps.logger).warn({ err: { message: (endErr as Error).message } }, 'could not end the token session whose GitHub token was refused');
      });
    } else if (user) {
      const ref = deps.sessions.refOf(sessionIdOf(ctx) ?? '');
      const ended = await deps.sessionEnding.end(ref, user.id, 'token_revoked').catch((endErr: unknown) => {
        (ctx.state.log ?? deps.logger).warn({ err: { message: (endErr as Error).message } }, 'could not end the session whose GitHub token was refused');
        return false;
      });
      // The cookie is cleared only by the request that ended the session: one answered after the session
      // had ended otherwise (a sign-in over it) would clear the newer sign-in's cookie.
      if (ended) ctx.session = null;
    }
  };
}

/**
 * GitHub refused a session's token on a call made outside a request (a worker's deploy step or commit status, which
 * read the token from the session `ref`): the session ends as a route's refusal ends it (above). A browser session
 * as at sign-out, reason `token_revoked`; a bearer token's entry and session as its own check's refusal ends them
 * (server/bearer/tokenSessions.ts). Only while the session still holds that token for that user: a session that
 * ended or holds another token since is not this refusal's. Never throws (the caller is ending a deployment).
 */
export function createOutsideRequestRefusal(deps: AppDeps): (ref: string, userId: number, token: string) => Promise<void> {
  const tokens = createTokenSessions(deps);
  return async (ref, userId, token) => {
    try {
      const sess = await deps.sessions.loadByRef(ref);
      if (!sess?.user || sess.user.id !== userId || openGithubToken(sess, deps.keyring) !== token) return;
      if (sess.bearer) await tokens.refusedOutsideRequest(token, ref, userId);
      else await deps.sessionEnding.end(ref, userId, 'token_revoked');
    } catch (err) {
      deps.logger.warn({ err: { message: (err as Error).message } }, 'could not end the session whose GitHub token was refused');
    }
  };
}

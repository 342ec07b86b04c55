import type Router from '@koa/router';
import type Koa from 'koa';
import grantModule from 'grant';
import type { AppDeps } from '../deps.js';
import { randomToken, safeEqual } from '../crypto/keyring.js';
import { getSession } from '../sessions/middleware.js';
import { sealGithubToken } from '../sessions/credentials.js';
import type { AppSession } from '../sessions/types.js';
import { GitHubError } from '../github/client.js';
import { requireCsrf, requireUser } from '../middleware/security.js';
import { requireLastingSession, sessionIdOf } from '../middleware/context.js';
import { z } from 'zod';
import { documented, view } from '../openapi/describe.js';
import { requestDetail } from '../audit/fromRequest.js';
import { refuseBody } from '../middleware/noBody.js';
import { clientHash } from '../security/clientHash.js';
import { errors } from '../errors.js';

const SignedOutView = view('SignedOut', z.object({ signedOut: z.literal(true) }));
type SignedOutView = z.infer<typeof SignedOutView>;

// grant ships `export default` types over a CommonJS module; under nodenext the default import is module.exports.
const grant = grantModule as unknown as typeof grantModule.default;

const AUTH_PREFIX = '/api/auth';

interface GrantResponse { access_token?: string; error?: unknown }

/** grant's answer (ctx.state.grant.response), checked field by field: grant is untyped. */
function grantResponse(grant: unknown): GrantResponse | undefined {
  if (!grant || typeof grant !== 'object' || !('response' in grant)) return undefined;
  const r = grant.response;
  if (!r || typeof r !== 'object') return undefined;
  return { access_token: 'access_token' in r && typeof r.access_token === 'string' ? r.access_token : undefined, error: 'error' in r ? r.error : undefined };
}

/** The state grant keeps in the pre-auth session for the sign-in it started ('' when none). */
function oauthStateOf(grant: unknown): string {
  return grant && typeof grant === 'object' && 'state' in grant && typeof grant.state === 'string' ? grant.state : '';
}

/**
 * GitHub sign-in through grant: `state` and PKCE on, transport 'state' so the token is handed to our
 * callback in memory and never appears in a URL. The profile comes from GITHUB_API_URL (server/github/client.ts).
 */
export function authRoutes(router: Router, deps: AppDeps) {
  const { config, keyring, clock } = deps;
  const grantMiddleware = grant.koa()({
    defaults: { origin: config.baseUrl, prefix: AUTH_PREFIX, transport: 'state', state: true },
    github: {
      key: config.github.clientId,
      secret: config.github.clientSecret,
      scope: ['read:user', 'repo'],
      authorize_url: `${config.github.oauthUrl}/login/oauth/authorize`,
      access_url: `${config.github.oauthUrl}/login/oauth/access_token`,
      pkce: true,
      response: ['tokens'],
    },
  }) as Koa.Middleware;

  /**
   * What a failed return does to the session it came with. 'end' (a return this sign-in cannot use):
   * the pre-auth session and its OAuth state go. A signed-in session only ever loses the OAuth state: a
   * stray or forged callback (any cross-site link, as the cookie is SameSite=Lax) must not sign people out.
   * 'spend' (this session's state and a code, refused at GitHub: a code already spent, the profile not
   * read): only the state goes, as another return of the same sign-in (the callback reloaded: GitHub
   * takes the code once) may be signing in with the pre-auth session right now, and needs it
   * (consumePreAuth) and the cookie. 'keep' (no state, or one that is not this session's: a sign-in
   * started again in another tab replaced it): nothing changes, for the return that carries the state it holds
   * (or for the return that signs in with the pre-auth session or has already set the newer cookie).
   */
  const failed = async (ctx: Koa.Context, reason: string, effect: 'end' | 'spend' | 'keep' = 'end') => {
    const sess = getSession(ctx);
    if (effect !== 'keep') {
      if (sess?.user || effect === 'spend') delete sess.grant;
      else ctx.session = null;
    }
    await deps.security.signInFailed(ctx, reason);
    ctx.redirect(`/?auth_error=${encodeURIComponent(reason)}`);
  };

  // Already signed in: leave the session alone. A cross-site top-level GET (any link) must not end a
  // signed-in session and its deploys; switching accounts is sign out, then sign in.
  const unlessSignedIn: Koa.Middleware = async (ctx, next) => {
    if (getSession(ctx)?.user) return ctx.redirect('/');
    await next();
  };

  // A start is a new OAuth round trip: the pre-auth window (records.ts deadlineOf) counts from it, not
  // from an earlier start in the same browser (grant puts the new state into the same pre-auth session),
  // which left a second start only what remained of the first one's ten minutes.
  const newRoundTrip: Koa.Middleware = async (ctx, next) => {
    const session = ctx.session;
    if (session && !session.user && session.createdAt !== undefined) session.lastSeenAt = clock.now();
    await next();
  };

  // Sign-in start and GitHub's return are page loads the browser makes at the top level (a link, a
  // redirect). Fetch Metadata saying otherwise (an <img> or <iframe> on another site's page) is refused
  // before the per-network limits count it: sixty such loads from one visitor's page used up everyone's
  // sign-in allowance behind that address (an office's NAT), and each failed callback was reported as a
  // failed sign-in. Read from Sec-Fetch-Dest, which browsers send with every request ('image', 'iframe',
  // 'empty' for fetch()): clients that send none (older browsers, scripts; Node's fetch sends a mode of
  // 'cors' and no destination) are not refused.
  const pageLoadsOnly: Koa.Middleware = async (ctx, next) => {
    const dest = ctx.get('sec-fetch-dest');
    if (dest && dest !== 'document') {
      throw errors.badRequest('Sign-in pages open in the browser itself (the Sign in with GitHub link), not inside another page.');
    }
    await next();
  };

  router.get('/api/auth/github/login', documented({
    summary: 'Start GitHub sign-in (browser)', tag: 'auth',
    responses: { 302: { redirect: 'To GitHub\'s authorize page (or to / when already signed in).' } },
  }), pageLoadsOnly, deps.rateLimits.guard('signInStart'), unlessSignedIn, newRoundTrip, grantMiddleware);

  // Checked here, before grant sees the return: without the pre-auth session there is no state to
  // check against (grant would redirect with its own error text); and grant checks the state only beside
  // a code, taking a return without one for the provider's answer, an `access_token` in the query
  // included (login CSRF with the attacker's token). So a return must carry this session's state, and
  // only one with a code can sign in (GitHub's denial comes back with the state and an error, no code).
  const requireOAuthReturn: Koa.Middleware = async (ctx, next) => {
    const expected = oauthStateOf(getSession(ctx)?.grant);
    const { state, code, error } = ctx.query;
    // No state: no session came (its cookie names one already used or gone: clearing it would clear the newer
    // cookie a return of the same sign-in just set, signing the browser out), or a pre-auth one whose state a
    // refused return spent while another return of it may still be signing in with it ('spend'). Left alone:
    // a pre-auth session ends on its own within its window.
    if (!expected) return failed(ctx, 'github_login_failed', 'keep');
    if (typeof state !== 'string' || !safeEqual(state, expected)) return failed(ctx, 'github_login_failed', 'keep');
    if (typeof code !== 'string' || !code) return failed(ctx, error === 'access_denied' ? 'access_denied' : 'github_login_failed');
    await next();
  };

  // grant's exchange throws on some answers it cannot read (GitHub's token endpoint answering a JSON `null`:
  // grant reads `.error` of it), which the error middleware answered 500 with the pre-auth session left as it
  // was. A failed exchange like any other instead; what the handler after it throws is its own.
  const tokenExchange: Koa.Middleware = async (ctx, next) => {
    let exchanged = false;
    try {
      await grantMiddleware(ctx, async () => { exchanged = true; await next(); });
    } catch (err) {
      if (exchanged) throw err;
      ctx.state.log?.warn({ err: { message: (err as Error).message } }, 'GitHub token exchange answer unreadable');
      return failed(ctx, 'github_login_failed', 'spend');
    }
  };

  router.get('/api/auth/github/callback', documented({
    summary: 'GitHub sign-in callback (browser)', tag: 'auth',
    description: 'GitHub\'s redirect back, in the browser that started the sign-in: its query is GitHub\'s (`code` and `state`, or `error` when the user denied), checked against that browser\'s sign-in state; not a route for API clients.',
    responses: { 302: { redirect: 'To / (signed in), or /?auth_error=<reason>.' } },
  }), pageLoadsOnly, deps.rateLimits.guard('signInCallback'), requireOAuthReturn, tokenExchange, async (ctx) => {
    const response = grantResponse(ctx.state.grant);
    // A denial has no code and was answered by requireOAuthReturn: what fails here is grant's exchange.
    if (!response || response.error || !response.access_token) return failed(ctx, 'github_login_failed', 'spend');
    const token = response.access_token;
    let viewer;
    try {
      viewer = await deps.upstream.github(token).getViewer();
    } catch (err) {
      ctx.state.log.warn({ kind: err instanceof GitHubError ? err.kind : 'unknown' }, 'GitHub profile lookup failed');
      return failed(ctx, 'github_profile_failed', 'spend');
    }
    // The signed-in session is built from nothing: of the session this request came with (pre-auth,
    // or somebody else's) no key, workspace, CSRF token or id survives. A signed-in previous session
    // ends exactly as at sign-out (destroyed, its deploys stopped, its streams closed).
    const previous = getSession(ctx);
    const previousRef = deps.sessions.refOf(sessionIdOf(ctx) ?? '');
    if (previous.user) await deps.sessionEnding.end(previousRef, previous.user.id, 'signed_in_again', { login: previous.user.login, detail: requestDetail(ctx) });
    else if (!(await deps.sessions.consumePreAuth(sessionIdOf(ctx) ?? ''))) {
      // Another return of this sign-in (Authorize clicked twice: two codes, one state) used the pre-auth
      // session while this one talked to GitHub: that one signs the browser in. This one makes no second
      // session and leaves the cookie alone (its token is dropped unstored).
      ctx.state.log.info('sign-in return after another return of the same sign-in');
      return ctx.redirect('/');
    }
    const now = clock.now();
    const user = { id: viewer.id, login: viewer.login, name: viewer.name, avatarUrl: viewer.avatarUrl };
    const fresh: AppSession = {
      createdAt: now,
      lastSeenAt: now,
      user,
      githubTokenSealed: sealGithubToken(viewer.id, token, keyring),
      csrfToken: randomToken(),
      clientHash: clientHash(ctx),
    };
    const session = ctx.session;
    if (!session) throw new Error('sign-in needs the session middleware mounted before the auth routes');
    for (const field of Object.keys(session.toJSON())) Reflect.deleteProperty(session, field);
    Object.assign(session, fresh);
    // New session id: the old one is destroyed server-side (session fixation), the fresh record saved under a new id.
    await session.regenerate();
    ctx.state.userId = viewer.id;
    await deps.security.recordAudit(ctx, { userId: user.id, action: 'sign_in', outcome: 'success', detail: { login: user.login } });
    ctx.redirect('/');
  });

  router.post('/api/auth/logout', documented({ summary: 'Sign out: ends this session, its deploys and streams', tag: 'auth', responses: { 200: SignedOutView } }), requireUser(), requireLastingSession(), requireCsrf(), deps.rateLimits.guard('signOut'), async (ctx) => {
    refuseBody(ctx.request.body);
    const { user } = ctx.state;
    const ref = deps.sessions.refOf(ctx.state.sessionId);
    // Destroyed now (and tombstoned: a request still in flight cannot write it back), deploys stopped, streams closed, audited.
    await deps.sessionEnding.end(ref, user.id, 'signed_out', { login: user.login, detail: requestDetail(ctx) });
    ctx.session = null; // the session middleware clears the cookie
    ctx.set('Clear-Site-Data', '"cookies", "storage"');
    ctx.body = { signedOut: true } satisfies SignedOutView;
  });
}

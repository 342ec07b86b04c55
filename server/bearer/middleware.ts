import type Koa from 'koa';
import { randomBytes } from 'node:crypto';
import { Stream } from 'node:stream';
import type { AppDeps } from '../deps.js';
import { AppError, errors } from '../errors.js';
import { RenderApiKey } from '../routes/renderKey.js';
import { checkRenderKeyUnderLockout } from '../render/verifyKey.js';
import { sealGithubToken, sealRenderCredentials } from '../sessions/credentials.js';
import { preloadSession, SESSION_COOKIE_PLAIN, SESSION_COOKIE_SECURE } from '../sessions/middleware.js';
import { createTokenSessions, type VerifiedToken } from './tokenSessions.js';
import { KEY_SESSION_OPEN_MS, keySessionOpenKey } from './keySessions.js';
import { gateRefusal } from '../telemetry/middleware.js';
import type { ErrorCode } from '../openapi/errorCodes.js';
import { isMcpPath } from '../mcp/path.js';

declare module 'koa' {
  interface DefaultState {
    /**
     * A bearer request's token refused by GitHub on a route's own call: ends the token's entry and session as
     * the token check's refusal does (set by bearerAuth, called by server/sessions/githubRefusal.ts).
     */
    bearerTokenRefused?: () => Promise<void>;
  }
}

/** Where bearer tokens are accepted (/metrics has its own token and is not a user route). */
export const bearerCovers = (path: string) => path.startsWith('/api/') || isMcpPath(path);

/**
 * What bearerAuth may answer on any path it covers, before the route runs (GET /api/openapi.json lists
 * them there): two Authorization headers (400), a token GitHub refuses or that is not one (401), with a session cookie (400), GitHub down
 * (503) or its address's allowance of refused tokens used up (429) while it is checked; an X-Render-Api-Key without a token or sent twice (400),
 * malformed (400), rejected (400), locked out (429), or Render down or pacing us (503, 429).
 */
export const BEARER_REFUSALS: ErrorCode[] = [
  'github_token_invalid', 'bearer_with_cookie', 'github_unavailable', 'rate_limited',
  'bad_request', 'validation_failed', 'render_key_invalid', 'locked_out', 'render_unavailable', 'render_rate_limited',
];

/** The token from `Authorization: Bearer <token>`, or null when the request does not use that scheme. */
export function bearerToken(ctx: Koa.Context): string | null {
  const header = ctx.get('authorization');
  if (header.length < 7 || header.slice(0, 7).toLowerCase() !== 'bearer ') return null;
  return header.slice(7).trim();
}

/** How many times a request carries a header (`name` lowercase): Node joins or drops repeats in `headers`. */
function headerCount(rawHeaders: string[], name: string): number {
  let n = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === name) n += 1;
  return n;
}

/**
 * Bearer authentication, mounted before the session middleware: a request with `Authorization: Bearer` runs on
 * its token session (server/bearer/tokenSessions.ts), which the session middleware then loads by id instead of a
 * cookie (sessions/middleware.ts). No cookie is read or set on such a request, so it needs no CSRF
 * token; one that carries a session cookie as well is refused, so a token can never drive a browser
 * session.
 *
 * `X-Render-Api-Key` (stateless CI): the key is checked with Render and sealed into a session record
 * of its own for this request only; if the request started a deploy, the record lives until that
 * deploy ends (the worker discards it), else it is deleted when the request ends. Such a key is under
 * the same invalid-key lock-out and security events as key setup (deps.security).
 */
export function bearerAuth(deps: AppDeps): Koa.Middleware {
  const tokens = createTokenSessions(deps);
  // Key setup's per-network allowance, for keys Render has not accepted lately: without it one address
  // could have Render judge keys through this header across many GitHub accounts (each under its own
  // lock-out), the oracle that allowance closes on POST /api/render/setup. A CI run's accepted key is not counted again.
  const keySetupAllowance = deps.rateLimits.guard('keySetup');

  async function perRequestKey(ctx: Koa.Context, verified: VerifiedToken, token: string, raw: string): Promise<string> {
    const parsed = RenderApiKey.safeParse(raw);
    if (!parsed.success) throw errors.validation(`X-Render-Api-Key: ${parsed.error.issues[0]?.message ?? 'not a Render API key'}`);
    const apiKey = parsed.data;
    const { user } = verified;
    const owners = await checkRenderKeyUnderLockout(deps, ctx, user, apiKey, 'The key in X-Render-Api-Key has no workspaces it can use.',
      async () => { await keySetupAllowance(ctx, async () => {}); });
    const sid = randomBytes(32).toString('base64url');
    const openMark = keySessionOpenKey(deps.config.redisPrefix, deps.sessions.refOf(sid));
    // While this request runs, a deploy of it that ends does not take the key from its other calls.
    // Marked before the session exists: a mark Redis refuses fails the request with nothing made, where
    // a session made first would keep the sealed key until its idle expiry, with no one to discard it.
    await deps.redis.set(openMark, '1', 'PX', KEY_SESSION_OPEN_MS);
    let created = false;
    try {
      created = await deps.sessions.create(sid, {
        user, bearer: true, ephemeral: true,
        githubTokenSealed: sealGithubToken(user.id, token, deps.keyring),
        render: sealRenderCredentials(user.id, apiKey, owners, deps.clock.now(), deps.keyring),
      });
    } finally {
      if (!created) await deps.redis.del(openMark).catch(() => {}); // a mark of no session (it expires anyway)
    }
    if (!created) throw errors.githubTokenInvalid('Could not start a session for this token. Try again.');
    return sid;
  }

  /** Keep a per-request key session only while a deploy it started is unfinished. */
  async function discardUnlessDeploying(sid: string, userId: number): Promise<void> {
    const ref = deps.sessions.refOf(sid);
    // Dropped before the deploys are read: a deploy ending from now on finds no mark and looks itself (keySessions.ts).
    await deps.redis.del(keySessionOpenKey(deps.config.redisPrefix, ref));
    for (const id of await deps.deployments.activeIds(userId)) {
      if ((await deps.deployments.get(id))?.sessionRef === ref) return;
    }
    await deps.sessions.discard(ref, userId);
  }

  // Not an async function: a request without a token hands next()'s promise on (no await of its own).
  return (ctx, next) => {
    // Node keeps only the first of repeated Authorization headers: which credential was meant is then
    // ambiguous (a Basic one could hide a Bearer and let a cookie through), so none is read.
    if (ctx.req.headers.authorization !== undefined && bearerCovers(ctx.path) && headerCount(ctx.req.rawHeaders, 'authorization') > 1) {
      throw errors.badRequest('Send one Authorization header, not several.');
    }
    const token = bearerCovers(ctx.path) ? bearerToken(ctx) : null;
    if (token !== null) return withToken(ctx, next, token);
    if (ctx.get('x-render-api-key') && bearerCovers(ctx.path)) throw errors.badRequest('X-Render-Api-Key is accepted only with Authorization: Bearer <GitHub token>.');
    return next();
  };

  async function withToken(ctx: Koa.Context, next: Koa.Next, token: string): Promise<void> {
    const withCookie = ctx.req.headers.cookie !== undefined && (ctx.cookies.get(SESSION_COOKIE_PLAIN) !== undefined || ctx.cookies.get(SESSION_COOKIE_SECURE) !== undefined);
    if (withCookie) throw errors.bearerWithCookie();
    // Node joins repeated X-Render-Api-Key headers into "k1, k2", which the key's schema refused as a
    // badly copied key: say what is wrong, and send neither to Render.
    if (ctx.req.headers['x-render-api-key'] !== undefined && headerCount(ctx.req.rawHeaders, 'x-render-api-key') > 1) {
      throw errors.badRequest('Send one X-Render-Api-Key header, not several.');
    }
    const verified = await tokens.resolve(ctx, token);
    ctx.state.auth = 'bearer';
    ctx.state.userId = verified.user.id;
    const rawKey = ctx.get('x-render-api-key');
    // A request the anomaly gate refuses (server/telemetry/middleware.ts, after the session) gets that
    // refusal there, as decided now: its key is not checked with Render, sealed or counted as invalid. It
    // runs on no session: the token session's stored key is not the one it sent.
    const refusal = rawKey !== '' && deps.config.telemetry.enabled ? await gateRefusal(deps.telemetry, deps.clock.now(), ctx.path, verified.user.id) : null;
    if (refusal) ctx.state.gateRefusal = refusal;
    const ephemeralSid = rawKey && !refusal ? await perRequestKey(ctx, verified, token, rawKey) : null;
    if (!refusal) ctx.state.bearerSid = ephemeralSid ?? verified.sid;
    // For a request that outlives the re-check window (a live update stream): GitHub's word on the token is
    // asked for again as a new request would (past the window only); its refusal ends the token session.
    ctx.state.bearerStillValid = async () => {
      try {
        return await tokens.vouches(ctx, token, verified.user.id);
      } catch (err) {
        if (err instanceof AppError && err.code === 'github_token_invalid') return false;
        throw err; // GitHub down, or the refused-token limit: not a refusal of the token
      }
    };
    // This request's token, as it resolved (not whatever the session or user id would name): the refusal of
    // one token must not end the user's other tokens or cookie sessions.
    ctx.state.bearerTokenRefused = () => tokens.refused(token, verified);
    if (!ephemeralSid && !refusal && verified.loaded) preloadSession(ctx, verified.sid, verified.loaded);
    try {
      await next();
    } finally {
      // the session middleware's removal path sets an expired cookie; a bearer response carries no cookie at all.
      if (!ctx.res.headersSent) ctx.res.removeHeader('Set-Cookie'); // /mcp writes its own response
      if (ephemeralSid) {
        const discard = () => discardUnlessDeploying(ephemeralSid, verified.user.id).catch((err: unknown) => {
          ctx.state.log?.warn({ err: { message: (err as Error).message } }, 'could not discard a per-request key session (it expires on its own)');
        });
        // A streamed answer (a live update stream) goes on after its handler returned, on this session
        // (it re-checks it at each keepalive; a log tail it follows reads with its key): kept until it closes.
        // (A client already gone has closed it: discarded now.)
        if (ctx.body instanceof Stream && !ctx.res.closed) ctx.res.once('close', () => { void discard(); });
        else await discard();
      }
    }
  }
}

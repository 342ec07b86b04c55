import type Koa from 'koa';
import type { Middleware } from 'koa';
import type { Logger } from '../logger.js';
import type { AppSession, SessionRenderCredentials, SessionUser } from '../sessions/types.js';
import type { RequestSession } from '../sessions/requestSession.js';
import { errors, type AppError } from '../errors.js';
import { tagged } from '../openapi/describe.js';

/**
 * The typed request context. Koa types `ctx.state` as `any`; here each thing the app puts on a
 * request gets its type, and each guard in a route's chain says what it adds. @koa/router infers a chain's state from its guards (each one's state extends the previous
 * one's: signed in ⊂ with a Render key ⊂ with the caller's service) and its context from
 * `validate({...})` (server/middleware/validate.ts), so a handler reads `ctx.state.user` and
 * `ctx.input.body` typed, without casts:
 *
 *   router.post(path, documented({...}), requireUser(), requireCsrf(), validate({ body: Schema }),
 *     async (ctx) => { ctx.state.user.id; ctx.input.body.field; })
 *
 * Pitfall: @koa/router gives a chain ONE state type and ONE context type, inferred from all its
 * middleware. Guards typed with unrelated states (say `{ a }` and `{ b }`) do not add up: TypeScript
 * picks one and the chain fails to compile. So a new guard's state extends the one it follows
 * (like OwnServiceState extends RenderKeyState), and only validate() contributes to the context.
 * Plain `Koa.Middleware` (limits, CSRF, documented) contributes nothing and fits anywhere.
 * A guard typed as @koa/router's `RouterMiddleware` with the default context does contribute (Koa's
 * DefaultContext, whose index signature is `any`): tsc still types the handler, but type-aware lint
 * resolves the chain lazily and sees `ctx.input` as `any` when a file is linted alone. So guards that
 * add nothing are plain `Koa.Middleware` (see pathParam in validate.ts).
 */
declare module 'koa' {
  interface DefaultState {
    /** This request's child logger (server/middleware/requestContext.ts). */
    log: Logger;
    requestId: string;
    /** The token session a bearer request runs on (server/bearer/middleware.ts). */
    bearerSid?: string;
    /** A bearer request's token still vouched for by GitHub (asked again past the re-check window): for streams. */
    bearerStillValid?: () => Promise<boolean>;
    /** The anomaly gate's refusal of this request, decided by bearer auth before its X-Render-Api-Key was checked (server/telemetry/middleware.ts gateRefusal). */
    gateRefusal?: AppError;
    /** 'bearer' when the request authenticated with Authorization: Bearer. */
    auth?: 'bearer';
    /** The signed-in user's id, for the access log (set by the session middleware). */
    userId?: number;
    /** grant's OAuth state and answer (server/routes/auth.ts reads it with checks: grant is untyped). */
    grant?: unknown;
    /** An /mcp request's tool calls so far, those that ran their route in-process and those that reached none (server/telemetry/middleware.ts; shared with the routes by server/mcp/dispatch.ts). */
    mcpRouteCalls?: { count: number };
  }
}

/** What requireUser() adds: the signed-in user, their session and its id. */
export interface SignedInState {
  user: SessionUser;
  session: AppSession;
  /** The session id: `deps.sessions.refOf(sessionId)` is the ref records and jobs carry. */
  sessionId: string;
}

/** What requireRenderKey() adds: the session's verified Render key (its sealed form, owners, fingerprint). */
export interface RenderKeyState extends SignedInState {
  render: SessionRenderCredentials;
}

/** The request's session (server/sessions/middleware.ts), or null when it has none (e.g. after sign-out). */
function sessionOf(ctx: Koa.Context): RequestSession | null {
  return ctx.session;
}

/** The session's id (the cookie's value, or a bearer token session's id). */
export function sessionIdOf(ctx: Koa.Context): string | undefined {
  return ctx.session?.externalKey || undefined;
}

/** The signed-in caller, or a 401. */
function signedIn(ctx: Koa.Context): SignedInState {
  const session = sessionOf(ctx);
  const sessionId = sessionIdOf(ctx);
  if (!session?.user || !sessionId) throw errors.unauthenticated();
  return { user: session.user, session, sessionId };
}

/** 401 unless signed in; then `ctx.state.user`, `.session` and `.sessionId` are set and typed. */
export function requireUser(): Middleware<Koa.DefaultState & SignedInState> {
  // Guards hand next()'s promise on (no await of their own): nothing of theirs runs after the route.
  return tagged((ctx, next) => {
    Object.assign(ctx.state, signedIn(ctx));
    return next();
  }, { kind: 'user' });
}

/**
 * For a route that acts on the caller's session itself (sign out, store or clear its Render key): a
 * request with X-Render-Api-Key runs on a key session of its own that ends with it
 * (server/bearer/middleware.ts), so acting on that one would answer 200 and leave the token session,
 * and the key stored in it, as they were. 400 bad_request, nothing changed: resend without the header.
 */
export function requireLastingSession(): Koa.Middleware {
  return tagged((ctx, next) => {
    if (ctx.session?.ephemeral) throw errors.badRequest(`X-Render-Api-Key is for one request's Render calls; send ${ctx.method} ${ctx.path} without it to act on your token's session.`);
    return next();
  }, { kind: 'lastingSession' });
}

/** The caller with their Render key, for a route that needs it only sometimes; else 400 render_key_missing. */
export function withRenderKey(caller: SignedInState): RenderKeyState {
  if (!caller.session.render) throw errors.renderKeyMissing();
  return { ...caller, render: caller.session.render };
}

/** 400 render_key_missing unless the session holds a verified Render key; then `ctx.state.render` is set. */
export function requireRenderKey(): Middleware<Koa.DefaultState & RenderKeyState> {
  return tagged((ctx, next) => {
    Object.assign(ctx.state, withRenderKey(signedIn(ctx)));
    return next();
  }, { kind: 'renderKey' });
}

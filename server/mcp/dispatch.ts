import { IncomingMessage, ServerResponse } from 'node:http';
import type Koa from 'koa';

/** A REST request a tool stands for: ids in the path, the rest as query or JSON body; an argument the route reads as a header, as that header. */
export interface RouteCall { method: 'GET' | 'POST'; path: string; query?: Record<string, unknown>; body?: Record<string, unknown>; headers?: { 'idempotency-key'?: string } }
/** `retryAfterSeconds`: the route's Retry-After header (a 429, a 409 idempotency_in_progress), which a tool result has no header for. */
export interface RouteAnswer { status: number; body: unknown; retryAfterSeconds?: number }
/** Runs a route of this app for the caller of `outer` (a request that passed auth and the session). */
export type RouteCaller = (outer: Koa.Context, call: RouteCall) => Promise<RouteAnswer>;

/**
 * Routes called in-process (issue 17: over loopback HTTP a tool call cost ~8× its REST route, two
 * passes through the whole stack plus an HTTP client). The call is a Koa context of its own, built
 * on a request object that never touches a socket, run through `chain()` — what app.ts mounts after
 * the session (the error middleware, telemetry, GitHub's refusal of the token, the router) — so the route's own guards apply as to
 * any request: requireUser, its named rate limit, lock-out, validation, scoping (someone else's id is
 * a 404), its audit entries and presenters. What the outer request already did for this same caller
 * is shared, not repeated: the bearer check and the session (ctx.session is the outer one, so a
 * token revoked or signed out is refused at the next POST /mcp), the changed-client check, the
 * access-log line. The caller's address, user agent and host are the outer request's (audit, per-IP
 * limits); no other header of the outer request is forwarded, only those the tool's call names.
 */
export function inProcessRoutes(app: Koa, chain: () => Koa.Middleware[]): RouteCaller {
  let run: ((ctx: Koa.Context) => Promise<void>) | undefined;
  return async (outer, call) => {
    run ??= composed(chain()); // built on first use: the router is complete by then
    const ctx = contextFor(app, outer, call);
    await run(ctx);
    const retryAfter = Number(ctx.response.get('Retry-After') || NaN);
    return { status: ctx.status, body: ctx.body, ...(Number.isInteger(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}) };
  };
}

function composed(middleware: Koa.Middleware[]): (ctx: Koa.Context) => Promise<void> {
  return (ctx) => {
    const step = async (i: number): Promise<void> => { if (i < middleware.length) await middleware[i]!(ctx, () => step(i + 1)); };
    return step(0);
  };
}

function contextFor(app: Koa, outer: Koa.Context, call: RouteCall): Koa.Context {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(call.query ?? {})) if (v !== undefined && v !== null) params.set(k, typeof v === 'string' ? v : JSON.stringify(v));
  const qs = params.toString();
  // The outer socket only for what Koa reads from it (remote address, TLS); nothing is written to it.
  const req = new IncomingMessage(outer.req.socket);
  req.method = call.method;
  req.url = qs ? `${call.path}?${qs}` : call.path;
  req.headers = { ...call.headers, host: outer.get('host'), authorization: outer.get('authorization'), 'user-agent': outer.get('user-agent') || 'mcp' };
  if (call.body !== undefined) req.headers['content-type'] = 'application/json';
  const ctx = app.createContext(req, new ServerResponse(req));
  ctx.request.ip = outer.ip; // as the outer request resolved it (X-Forwarded-For only with TRUST_PROXY)
  (ctx.request as { body?: unknown }).body = call.body; // what the body parser would have produced
  ctx.state = stateOf(outer.state);
  Object.defineProperty(ctx, 'session', { get: () => outer.session, set: (v: Koa.Context['session']) => { outer.session = v; } });
  return ctx;
}

/** The outer request's identity fields only: what guards add (user, own service, input) stays per call. */
function stateOf(outer: Koa.DefaultState): Koa.DefaultState {
  const state = {
    requestId: outer.requestId, bearerSid: outer.bearerSid, auth: outer.auth, userId: outer.userId, mcpRouteCalls: outer.mcpRouteCalls,
    bearerTokenRefused: outer.bearerTokenRefused,
  } as Koa.DefaultState;
  let log: Koa.DefaultState['log'] | undefined;
  // Lazy like the outer one: most calls never log, and a child logger costs a few µs to build.
  Object.defineProperty(state, 'log', { get: () => (log ??= outer.log), set: (v: Koa.DefaultState['log']) => { log = v; }, enumerable: true });
  return state;
}

import type Koa from 'koa';
import { AppError, errors } from '../errors.js';
import { utcMinuteAtOrAfter, type Clock } from '../clock.js';
import { getSession } from '../sessions/middleware.js';
import type { Telemetry } from './telemetry.js';
import type { GuardEntry } from './guards.js';
import { methodLabel, routeLabel } from '../metrics/labels.js';
import type { ErrorCode } from '../openapi/errorCodes.js';
import { isMcpPath } from '../mcp/path.js';
import type { RouteAnswer } from '../mcp/dispatch.js';

/** Routes that count as deploy requests (the deploy-rate signal): POSTs to these templates. */
const DEPLOY_ROUTES = new Set(['/api/render/deploy', '/api/render/services/:id/redeploy', '/api/render/services/:id/rollback', '/api/render/services/:id/deploys']);
const MAX_TARGET = 200;

/**
 * The user a request acts for: a browser session or a bearer token alike resolve to a GitHub user
 * id (ctx.state.userId, set by the session middleware and by token auth), else the session's user.
 */
function userIdOf(ctx: Koa.Context): number | null {
  const fromState = ctx.state.userId;
  if (typeof fromState === 'number') return fromState;
  const id = getSession(ctx)?.user?.id;
  return typeof id === 'number' ? id : null;
}

/** The API surface: the UI's static files and health probes are neither recorded nor refused. */
const isApi = (path: string) => path.startsWith('/api/') || path === '/mcp' || path.startsWith('/mcp/');

/** Signing in or out stays possible while blocked: it can only shorten what a token or cookie holder can do. */
const isAuth = (path: string) => path.startsWith('/api/auth/');

/** The paths the gate below may refuse, and with what (a block; a throttle's allowance spent): GET /api/openapi.json lists them. */
export const gateCovers = (path: string) => isApi(path) && !isAuth(path);
export const GATE_REFUSALS: ErrorCode[] = ['account_temporarily_blocked', 'rate_limited'];

/**
 * The refusal the gate below answers this user's request with now (blocked, or throttled with this
 * minute's allowance spent), or null. Bearer auth asks before it checks an X-Render-Api-Key with Render,
 * so a request the gate refuses costs no Render call, no session write and no invalid-key count; that
 * request then gets this refusal (ctx.state.gateRefusal), not a second decision: taken again later (the
 * minute over, a throttle lifted) it let the request through on the token session's stored key, not the
 * key it sent.
 */
export async function gateRefusal(t: Telemetry, now: number, path: string, userId: number): Promise<AppError | null> {
  if (!gateCovers(path)) return null;
  const entry = t.guards.lookup(userId, now);
  if (!entry) return null;
  if (entry.state === 'blocked') return blockedError(entry, now);
  const minute = Math.floor(now / 60_000);
  return (await t.throttleSpent(userId, minute)) >= t.settings.throttlePerMinute ? throttledError(t, entry, minute, now) : null;
}

function statusOf(err: unknown): number {
  if (err instanceof AppError) return err.status;
  const s = (err as { status?: unknown })?.status;
  return typeof s === 'number' && s >= 400 && s < 600 ? s : 500;
}

const repoTarget = (fullName: string) => `r:${fullName}`.slice(0, MAX_TARGET).toLowerCase();

/** Targets routes named themselves (a body the URL does not show), per request. */
const statedTargets = new WeakMap<Koa.Context, string>();

/**
 * A route states what its request acts on when the URL does not say it (the deploy form names its
 * repository in the body): called after validation, so only well-formed names are counted.
 */
export function noteTelemetryTarget(ctx: Koa.Context, target: { repo: string }): void {
  statedTargets.set(ctx, repoTarget(target.repo));
}

/** What a request names that the distinct-targets signal counts: a repository or a service. */
function targetOf(ctx: Koa.Context, route: string): string | null {
  const stated = statedTargets.get(ctx);
  if (stated) return stated;
  const p = ctx.params as Record<string, string | undefined> | undefined;
  if (p?.owner && p.repo) return repoTarget(`${p.owner}/${p.repo}`);
  if (p?.id && route.startsWith('/api/render/services/:id')) return `s:${p.id}`.slice(0, MAX_TARGET);
  return null;
}

function blockedError(entry: GuardEntry, now: number): AppError {
  const seconds = Math.max(1, Math.ceil((entry.until - now) / 1000));
  const minutes = Math.ceil(seconds / 60);
  return errors.accountTemporarilyBlocked(seconds,
    `Your account is temporarily blocked because its traffic jumped far above its usual level (${entry.signal}). ` +
    `Requests are refused until ${utcMinuteAtOrAfter(entry.until)} UTC (in ${minutes} minute${minutes === 1 ? '' : 's'}). Deploys already running continue. ` +
    // Only what the app and the user's accounts offer: there is no "sign out everywhere" here (a sign-out
    // ends the session it is sent on), so each device's session is ended where it is.
    'If this was not you, sign out on each device, revoke your GitHub token and replace your Render API key; ' +
    'otherwise wait until then, or ask the operator to lift it.');
}

/** Each POST /mcp this middleware saw, with what its tool calls that reach no route are counted by. */
const mcpRequests = new WeakMap<Koa.Context, { t: Telemetry; clock: Clock }>();

/**
 * A tool call of this POST /mcp that reaches no route (an unknown tool, arguments the tool's schema
 * refuses) is one request of the user's all the same, as one that runs its route is (the middleware
 * below, passed again for the route): numbered with those (the /mcp request's throttle point pays
 * for its first call of either kind), refused while blocked or once a throttle's allowance is spent
 * (the refusal is then its answer), and recorded as `/mcp` with its status. Only routes were counted,
 * and the batch once: a POST of 100 calls the schema refuses was one request to the detector and the
 * throttle, so one token could send thousands a minute unseen. `answer` is the tool's own refusal;
 * returned as it is when telemetry is off (no middleware saw the request).
 */
export async function mcpCallOutsideRoute(ctx: Koa.Context, answer: RouteAnswer): Promise<RouteAnswer> {
  const seen = mcpRequests.get(ctx);
  if (!seen) return answer;
  const mcp = ctx.state.mcpRouteCalls;
  const userId = userIdOf(ctx);
  if (!mcp || userId === null) return answer;
  const { t, clock } = seen;
  const started = performance.now();
  const call = ++mcp.count;
  let res = answer;
  try {
    const entry = t.guards.lookup(userId, clock.now());
    if (entry) await refuseOrThrottle(t, entry, userId, clock.now(), call !== 1);
  } catch (err) {
    if (err instanceof AppError) {
      const retryAfter = Number(err.headers['Retry-After']);
      res = { status: err.status, body: { error: { code: err.code, message: err.message } }, ...(retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}) };
    } else {
      // The throttle's count out of reach (Redis): the call keeps its own refusal, which costs nothing.
      ctx.state.log?.warn({ err: { message: (err as Error).message } }, 'telemetry: a tool call outside a route was not checked');
    }
  }
  t.recorder.record({
    userId, login: getSession(ctx)?.user?.login ?? null, loginAt: getSession(ctx)?.createdAt, method: methodLabel(ctx.method), route: routeLabel((ctx as { _matchedRoute?: unknown })._matchedRoute),
    status: res.status, ms: performance.now() - started, at: clock.now(), target: null, deploy: false,
  });
  return res;
}

/**
 * Mounted after the session: refuses blocked users (429 account_temporarily_blocked), slows throttled
 * ones (a tight per-user limit, 429 rate_limited), then records the finished request (user id,
 * method, route template, status, latency) into the in-memory aggregate. Refused requests are
 * recorded too: a script that keeps hammering through 429s is what turns a throttle into a block.
 */
export function telemetryMiddleware(t: Telemetry, clock: Clock): Koa.Middleware {
  return async (ctx, next) => {
    if (!isApi(ctx.path)) { await next(); return; }
    const started = performance.now();
    let status = 0;
    // An MCP tool call is one request of the user's, though it passes here twice: as POST /mcp, then as
    // the route its tool runs in-process (server/mcp/dispatch.ts), whose context shares this counter.
    // The route is what is recorded (its status, template, target); the /mcp request's throttle point
    // pays for its first tool call. A tool call that reaches no route is counted by mcpCallOutsideRoute.
    const mcp = ctx.state.mcpRouteCalls;
    const routeCall = mcp ? ++mcp.count : 0;
    if (!mcp && isMcpPath(ctx.path)) {
      ctx.state.mcpRouteCalls = { count: 0 };
      mcpRequests.set(ctx, { t, clock });
    }
    try {
      // Decided by bearer auth (gateRefusal above): refused here, so it is recorded as any refusal.
      const decided = ctx.state.gateRefusal;
      if (decided) {
        t.metrics?.onRefused?.(decided.code === 'account_temporarily_blocked' ? 'blocked' : 'throttled');
        throw decided;
      }
      const userId = userIdOf(ctx);
      if (userId !== null && !isAuth(ctx.path)) {
        const entry = t.guards.lookup(userId, clock.now());
        if (entry) await refuseOrThrottle(t, entry, userId, clock.now(), routeCall !== 1);
      }
      await next();
      status = ctx.status;
    } catch (err) {
      status = statusOf(err);
      throw err;
    } finally {
      const userId = userIdOf(ctx);
      if (userId !== null && !(routeCall === 0 && ctx.state.mcpRouteCalls?.count)) {
        // The metrics' label rules (server/metrics/labels.ts): a fixed method set, and bounded template names.
        const template = routeLabel((ctx as { _matchedRoute?: unknown })._matchedRoute);
        t.recorder.record({
          userId, login: getSession(ctx)?.user?.login ?? null, loginAt: getSession(ctx)?.createdAt, method: methodLabel(ctx.method), route: template,
          status, ms: performance.now() - started, at: clock.now(),
          target: template === 'unmatched' ? null : targetOf(ctx, template), deploy: ctx.method === 'POST' && DEPLOY_ROUTES.has(template),
        });
      }
    }
  };
}

async function refuseOrThrottle(t: Telemetry, entry: GuardEntry, userId: number, now: number, counts: boolean): Promise<void> {
  if (entry.state === 'blocked') {
    t.metrics?.onRefused?.('blocked');
    throw blockedError(entry, now);
  }
  if (!counts) return;
  const minute = Math.floor(now / 60_000);
  if ((await t.throttleCount(userId, minute)) > t.settings.throttlePerMinute) {
    t.metrics?.onRefused?.('throttled');
    throw throttledError(t, entry, minute, now);
  }
}

function throttledError(t: Telemetry, entry: GuardEntry, minute: number, now: number): AppError {
  return errors.rateLimited(Math.ceil(((minute + 1) * 60_000 - now) / 1000),
    `Your account's traffic is far above its usual level, so it is slowed down until ${utcMinuteAtOrAfter(entry.until)} UTC: ` +
    `at most ${t.settings.throttlePerMinute} requests a minute. Wait a moment, then try again.`);
}

import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { newRequestId, parseTimeUs, type SimClock } from './clock.js';
import { ApiError, unauthorized } from './errors.js';
import type { FaultSet } from './faults.js';
import type { RequestHolds } from './request-holds.js';
import { bearerToken, readBody, securityHeaders, send, sendText, type Sleeper } from './http.js';
import { classify, type RateLimitDecision, type RateLimiter } from './rate-limits.js';
import type { Router } from './router.js';
import type { AccountRec, SimState } from './state.js';
import type { FaultRule, SimCall } from './types.js';

/**
 * The /v1 request pipeline: route → faults → base latency → a test's hold → auth (401) → rate limit (429) →
 * handler. Every answer carries the Ratelimit-* headers, Render-Request-Id, a Date by the simulator's
 * clock and the security headers; every request is recorded in `calls` (with the account id, never the key).
 */

interface ApiHandlerDeps {
  state: SimState;
  clock: SimClock;
  router: Router;
  faults: FaultSet;
  holds: RequestHolds;
  limiter: RateLimiter;
  sleeper: Sleeper;
  latencyMs: number;
  calls: SimCall[];
  maxCalls: number;
  counters: { requests: number; rateLimited: number; seq: number; byRoute: Map<string, number> };
  /** Responses held open by 'timeout' faults; closed by reset()/close(). */
  hung: Set<ServerResponse>;
}

export function createApiHandler(deps: ApiHandlerDeps) {
  const { state, clock, router, faults, holds, limiter, sleeper, calls, counters, hung } = deps;

  const rateHeaders = (d: RateLimitDecision): Record<string, string> => ({
    'Ratelimit-Limit': String(d.limit),
    'Ratelimit-Remaining': String(d.remaining),
    'Ratelimit-Reset': String(d.resetSeconds),
  });

  const accountFor = (key: string | null): AccountRec | undefined => {
    if (!key || state.revokedKeys.has(key)) return undefined;
    const id = state.keys.get(key);
    return id ? state.accounts.get(id) : undefined;
  };

  return async function handleApi(req: IncomingMessage, res: ServerResponse, subPath: string, query: URLSearchParams): Promise<void> {
    counters.seq += 1;
    counters.requests += 1;
    const requestId = newRequestId(counters.seq);
    const method = (req.method ?? 'GET').toUpperCase();
    const call: SimCall = { method, path: subPath, query: query.toString(), route: '(unknown)', accountId: null, status: 0, at: clock.nowMs() };
    calls.push(call);
    // Long-running sandbox mode must not grow without bound: drop the oldest calls in batches.
    if (calls.length > deps.maxCalls) calls.splice(0, calls.length - Math.floor(deps.maxCalls * 0.9));
    // A 'date' fault (decided below, before any answer): the answer's Date that far off the simulator's clock.
    let dateOffMs = 0;
    const reply = (status: number, body: unknown, headers: Record<string, string>) => {
      call.status = status;
      // Date by the simulator's clock, as Render's by its own (Node's would be the machine's): a test can skew it.
      send(res, status, body, { ...securityHeaders(requestId), Date: new Date(clock.nowMs() + dateOffMs).toUTCString(), ...headers });
    };

    const match = router.match(method === 'HEAD' ? 'GET' : method, subPath);
    const params = match && 'def' in match ? match.params : {};
    call.route = match ? ('def' in match ? match.def.route : match.route) : '(unknown)';
    const routeKey = `${method} ${call.route}`;
    counters.byRoute.set(routeKey, (counters.byRoute.get(routeKey) ?? 0) + 1);
    const apiKey = bearerToken(req.headers.authorization);
    const account = accountFor(apiKey);
    call.accountId = account?.id ?? null;
    const { bucket, scope } = classify(method, call.route, params);
    const identity = account && apiKey ? apiKey : `anonymous:${req.socket.remoteAddress ?? ''}`;

    const rawBody = await readBody(req);

    const plan = faults.plan(method, call.route, apiKey, query);
    await sleeper.sleep(deps.latencyMs + plan.delayMs);
    await holds.wait(method, call.route, apiKey);
    if (res.destroyed) return;
    // 'without', 'emptyPage', 'lost' and 'date' faults change the answer of a request handled as usual; the others answer instead of it.
    if (plan.fault?.kind === 'date') dateOffMs = plan.fault.ms ?? 0;
    const without = plan.fault?.kind === 'without' ? new Set(plan.fault.fields) : null;
    const emptyPage = plan.fault?.kind === 'emptyPage';
    const lost = plan.fault?.kind === 'lost';
    if (plan.fault && !without && !emptyPage && !lost && plan.fault.kind !== 'date') {
      injectFault(plan.fault, req, res, call, { ...securityHeaders(requestId), Date: new Date(clock.nowMs()).toUTCString(), ...rateHeaders(limiter.peek(identity, bucket, scope)) }, hung);
      return;
    }

    if (!account) {
      const err = unauthorized();
      reply(err.status, err.body(), rateHeaders(limiter.peek(identity, bucket, scope)));
      return;
    }
    const decision = limiter.consume(identity, bucket, scope);
    const limitHeaders = rateHeaders(decision);
    if (!decision.allowed) {
      counters.rateLimited += 1;
      reply(429, { message: 'rate limit exceeded' }, { ...limitHeaders, 'Retry-After': String(Math.max(1, decision.resetSeconds)) });
      return;
    }
    if (rawBody === null) {
      reply(413, { message: 'request body too large' }, limitHeaders);
      return;
    }
    if (!match) {
      reply(404, { message: 'not found' }, limitHeaders);
      return;
    }
    if (!('def' in match)) {
      reply(405, { message: 'method not allowed' }, limitHeaders);
      return;
    }
    try {
      const result = await match.def.handler({ account, params, query, headers: req.headers, rawBody });
      if (lost) {
        call.status = 0;
        req.socket.destroy();
        return;
      }
      const body = emptyPage ? emptied(result.body, query, plan.fault?.next === 'moved') : result.body;
      reply(result.status, without ? leaveOut(body, without) : body, limitHeaders);
    } catch (err) {
      if (err instanceof ApiError) {
        reply(err.status, err.body(), { ...limitHeaders, ...err.headers });
      } else {
        process.stderr.write(`render simulator: ${method} ${call.route} failed: ${(err as Error).stack ?? String(err)}\n`);
        reply(500, { message: 'internal server error' }, limitHeaders);
      }
    }
  };
}

/** An answer's JSON object without the named top-level fields (anything else as it is). */
function leaveOut(body: unknown, fields: Set<string>): unknown {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return body;
  return Object.fromEntries(Object.entries(body).filter(([k]) => !fields.has(k)));
}

/**
 * A logs page with none of its lines that says there are more, its next window the one asked (nothing
 * skipped): Render's answer for a stretch of the window that holds no lines, with more after it. `moved`:
 * the stretch is the one before the page's lines (in the direction read), and the next window begins at
 * the first of them, as a window paged on by time moves; no stretch (a line at the window's edge, or no
 * line at all) is answered as usual.
 */
function emptied(body: unknown, query: URLSearchParams, moved: boolean): unknown {
  const [start, end] = [query.get('startTime'), query.get('endTime')];
  // Only a request that names its window (as every paging client does): the next one is that window.
  if (!start || !end || !body || typeof body !== 'object' || !Array.isArray((body as { logs?: unknown }).logs)) return body;
  if (!moved) return { ...body, hasMore: true, nextStartTime: start, nextEndTime: end, logs: [] };
  const first = ((body as { logs: Array<{ timestamp?: unknown }> }).logs[0]?.timestamp);
  if (typeof first !== 'string') return body;
  const forward = query.get('direction') === 'forward';
  if (parseTimeUs(first) === parseTimeUs(forward ? start : end)) return body;
  return { ...body, hasMore: true, nextStartTime: forward ? first : start, nextEndTime: forward ? end : first, logs: [] };
}

function injectFault(
  fault: FaultRule,
  req: IncomingMessage,
  res: ServerResponse,
  call: SimCall,
  headers: Record<string, string>,
  hung: Set<ServerResponse>,
): void {
  switch (fault.kind) {
    case 'reset':
      call.status = 0;
      req.socket.destroy();
      return;
    case 'timeout':
      // Never answer; the socket stays open until the client gives up or the simulator closes.
      call.status = 0;
      hung.add(res);
      res.on('close', () => hung.delete(res));
      return;
    case 'malformed':
      call.status = 200;
      sendText(res, 200, '{"id":"srv-', headers);
      return;
    case 'body':
      call.status = 200;
      send(res, 200, fault.body ?? null, headers);
      return;
    case 'status':
    default: {
      const status = fault.status ?? 500;
      call.status = status;
      const extra: Record<string, string> = {};
      if (status === 429) {
        extra['Ratelimit-Remaining'] = '0';
        extra['Retry-After'] = String(Math.max(1, Math.ceil((fault.ms ?? 1000) / 1000)));
      }
      const message = fault.message ?? (status === 429 ? 'rate limit exceeded' : (STATUS_CODES[status] ?? 'error').toLowerCase());
      send(res, status, { message }, { ...headers, ...extra });
    }
  }
}

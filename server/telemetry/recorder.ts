import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { hourIndex, minuteIndex, routeId, type TelemetryKeys } from './keys.js';
import type { TelemetrySettings } from './options.js';
import { FlushBatch } from './flushScript.js';

/** One finished request, as the recorder needs it: ids, a route template, numbers. Never a path. */
interface RequestSample {
  userId: number;
  login: string | null;
  /** When GitHub said `login` is this user's: the session's sign-in (ms); absent when unknown. */
  loginAt?: number;
  method: string;
  /** The matched @koa/router template, or 'unmatched'. */
  route: string;
  status: number;
  ms: number;
  /** Epoch ms when the request ended. */
  at: number;
  /** A repository or service the request named (counted, never stored: it goes into a HyperLogLog). */
  target: string | null;
  deploy: boolean;
}

/** Minute signals: requests, probes (401/403/404), deploys, refused (429), server errors (5xx). */
const MINUTE_FIELDS = ['n', 'p', 'd', 'r', 'x'] as const;
/** Route fields: status classes then latency buckets. */
const ROUTE_FIELDS = ['s1', 's2', 's3', 's4', 's5', 'l0', 'l1', 'l2', 'l3', 'l4', 'l5'] as const;
const LATENCY_MS = [10, 50, 250, 1_000, 5_000];
/** Users per flush script call (each is ~12 commands in Redis). */
const FLUSH_CHUNK = 200;
/** Arguments per flush script call, at most (a user's are never split): a call holds Redis for its whole run. */
const FLUSH_MAX_ARGS = 20_000;

interface UserPending {
  login: string | null;
  loginAt: number;
  lastMinute: number;
  /** minute index → counts in MINUTE_FIELDS order. */
  minutes: Map<number, Int32Array>;
  /** `${hourIndex}|${routeId}` → counts in ROUTE_FIELDS order. */
  routes: Map<string, Int32Array>;
  /** minute index → targets. */
  targets: Map<number, Set<string>> | null;
}

export interface TelemetryRecorder {
  record(s: RequestSample): void;
  /** Write what is pending to Redis (one script call per 200 users, sent together). Safe to call concurrently. */
  flush(): Promise<void>;
  /** Stop the timer and flush once more. */
  close(): Promise<void>;
  /** Users with pending counts (bounded by maxPendingUsers: more triggers an early flush). */
  pendingUsers(): number;
}

/**
 * Aggregates requests in memory and writes them to Redis every flushMs as HINCRBYs (by script,
 * `flushScript.ts`): the request path costs a few map updates, not a Redis round trip (bench:
 * telemetry overhead per request).
 * Memory in Redis is bounded by time (every key expires with its retention) and by vocabulary
 * (route ids from the router's templates, fixed field names), whatever the traffic.
 */
export function createRecorder(opts: {
  redis: Redis; keys: TelemetryKeys; settings: TelemetrySettings; logger: Logger;
  flushMs?: number; maxPendingUsers?: number;
}): TelemetryRecorder {
  const { redis, keys, settings } = opts;
  const flushMs = opts.flushMs ?? 5_000;
  const maxPending = opts.maxPendingUsers ?? 5_000;
  const minuteTtl = (settings.minuteRetentionHours + 1) * 3_600;
  const hourTtl = settings.hourRetentionDays * 86_400 + 3_600;
  const targetTtl = 30 * 60;
  let pending = new Map<number, UserPending>();
  const routeIds = new Map<string, string>();
  let newRoutes: Array<[string, string]> = [];
  let timer: NodeJS.Timeout | null = null;
  let flushing: Promise<void> = Promise.resolve();

  const idOf = (method: string, route: string) => {
    const k = `${method} ${route}`;
    let id = routeIds.get(k);
    if (!id) {
      id = routeId(method, route);
      routeIds.set(k, id);
      newRoutes.push([id, k]);
    }
    return id;
  };
  // The names are written once per process, with the first count of each route: a Redis that came back
  // empty (Key Value keeps nothing on disk) lost them, and the admin CLI showed bare ids until the process
  // restarted. So every name this process knows goes out again with the flush after each reconnect.
  const registerAgain = () => { newRoutes = [...routeIds].map(([k, id]): [string, string] => [id, k]); };
  redis.on('ready', registerAgain);

  function record(s: RequestSample): void {
    if (!timer) { timer = setInterval(() => { void flush(); }, flushMs); timer.unref(); }
    let u = pending.get(s.userId);
    if (!u) {
      u = { login: s.login, loginAt: s.loginAt ?? 0, lastMinute: 0, minutes: new Map(), routes: new Map(), targets: null };
      pending.set(s.userId, u);
      if (pending.size >= maxPending) void flush();
    }
    // Two sessions of one user across a GitHub rename carry two logins: the newer sign-in's is the login now.
    if (s.login && (s.loginAt ?? 0) >= u.loginAt) { u.login = s.login; u.loginAt = s.loginAt ?? 0; }
    const minute = minuteIndex(s.at);
    if (minute > u.lastMinute) u.lastMinute = minute;
    let m = u.minutes.get(minute);
    if (!m) { m = new Int32Array(MINUTE_FIELDS.length); u.minutes.set(minute, m); }
    m[0]!++;
    if (s.status === 401 || s.status === 403 || s.status === 404) m[1]!++;
    if (s.deploy) m[2]!++;
    if (s.status === 429) m[3]!++;
    if (s.status >= 500) m[4]!++;
    const rk = `${hourIndex(s.at)}|${idOf(s.method, s.route)}`;
    let r = u.routes.get(rk);
    if (!r) { r = new Int32Array(ROUTE_FIELDS.length); u.routes.set(rk, r); }
    const cls = Math.min(5, Math.max(1, Math.floor(s.status / 100)));
    r[cls - 1]!++;
    let b = 0;
    while (b < LATENCY_MS.length && s.ms >= LATENCY_MS[b]!) b++;
    r[5 + b]!++;
    if (s.target) {
      u.targets ??= new Map();
      let set = u.targets.get(minute);
      if (!set) { set = new Set(); u.targets.set(minute, set); }
      if (set.size < 1_000) set.add(s.target);
    }
  }

  async function write(batch: Map<number, UserPending>, routesToRegister: Array<[string, string]>): Promise<void> {
    // Script calls of up to FLUSH_CHUNK users (and about FLUSH_MAX_ARGS arguments) each, so none holds Redis long; sent together.
    const calls: FlushBatch[] = [new FlushBatch()];
    let users = 0;
    if (routesToRegister.length) calls[0]!.hset(keys.routes, routesToRegister.flat());
    for (const [userId, u] of batch) {
      if (users++ === FLUSH_CHUNK || calls[calls.length - 1]!.args.length >= FLUSH_MAX_ARGS) { calls.push(new FlushBatch()); users = 1; }
      const call = calls[calls.length - 1]!;
      call.user(userId);
      for (const [minute, counts] of u.minutes) {
        const mm = minute % 60;
        const pairs: Array<string | number> = [];
        for (let i = 0; i < MINUTE_FIELDS.length; i++) if (counts[i]) pairs.push(`${mm}.${MINUTE_FIELDS[i]}`, counts[i]!);
        call.counts(keys.minutes(userId, Math.floor(minute / 60)), minuteTtl, pairs);
      }
      for (const [rk, counts] of u.routes) {
        const sep = rk.indexOf('|');
        const rid = rk.slice(sep + 1);
        const pairs: Array<string | number> = [];
        for (let i = 0; i < ROUTE_FIELDS.length; i++) if (counts[i]) pairs.push(`${rid}.${ROUTE_FIELDS[i]}`, counts[i]!);
        call.counts(keys.hour(userId, Number(rk.slice(0, sep))), hourTtl, pairs);
      }
      if (u.targets) for (const [minute, set] of u.targets) call.hll(keys.targets(userId, minute), targetTtl, [...set]);
      call.zaddGt(keys.active, u.lastMinute, String(userId));
      if (u.login) call.login(keys.user(userId), keys.login(u.login), u.login, userId, hourTtl, keys.loginAt(u.login), u.loginAt);
    }
    const failures = (await Promise.all(calls.filter((c) => !c.empty).map((c) => c.run(redis)))).flat();
    if (failures.length) {
      // A key someone else wrote with another type costs its own counts only; the rest of the call is written.
      const users = [...new Set(failures.map((f) => f.userId))];
      opts.logger.warn({ users: users.slice(0, 20), count: users.length, err: { message: failures[0]!.message } }, 'telemetry flush: some counts refused by Redis');
      if (failures.some((f) => f.userId === null)) newRoutes.push(...routesToRegister);
    }
  }

  let flushQueued = false;
  function flush(): Promise<void> {
    // Calls while one waits (every new user past maxPending, during a slow write) join it: it takes all that is pending when it runs.
    if (flushQueued) return flushing;
    flushQueued = true;
    flushing = flushing.then(async () => {
      flushQueued = false;
      if (!pending.size && !newRoutes.length) return;
      const batch = pending;
      const routesToRegister = newRoutes;
      pending = new Map();
      newRoutes = [];
      try {
        await write(batch, routesToRegister);
      } catch (err) {
        // Telemetry is best effort: a Redis outage loses these counts, never a request.
        newRoutes.push(...routesToRegister);
        opts.logger.warn({ err: { message: (err as Error).message }, users: batch.size }, 'telemetry flush failed');
      }
    });
    return flushing;
  }

  return {
    record,
    flush,
    pendingUsers: () => pending.size,
    async close() {
      redis.off('ready', registerAgain);
      if (timer) clearInterval(timer);
      timer = null;
      await flush();
    },
  };
}

export const RECORDER_FIELDS = { minute: MINUTE_FIELDS, route: ROUTE_FIELDS, latencyMs: LATENCY_MS };

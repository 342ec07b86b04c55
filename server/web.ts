import type { Server } from 'node:http';
import type { AppConfig } from './config/env.js';
import { systemClock, type Clock } from './clock.js';
import { repeatingWarning, type Logger } from './logger.js';
import { createRedis } from './redis.js';
import { listenError } from './listenErrors.js';
import { buildDeps } from './system.js';
import { createApp, type CreateAppOptions } from './app.js';
import type { AppDeps } from './deps.js';
import type { RenderLimits } from './render/budget.js';
import { createEventHub } from './events/hub.js';
import { createLogTailer, type LogTailOptions } from './deployments/logTail.js';
import { createWebMetrics, type WebMetrics } from './metrics/registry.js';
import { requestMetrics } from './metrics/http.js';
import { webMetricsRoute } from './metrics/web.js';
import { createInflightTracker } from './metrics/inflight.js';
import { createSessionCache, trackingConnection } from './sessions/cache.js';
import { createProcessFence, type EndingFence } from './sessions/fence.js';
import { tokenEntryKey, type TokenEntry } from './bearer/tokenSessions.js';
import { createDeploySlack } from './sentinel/deployResults.js';
import { sessionKeys, type LoadedSession } from './sessions/store.js';
import { createServer } from 'node:http';

export interface WebProcess {
  server: Server;
  deps: AppDeps;
  url: string;
  metrics: WebMetrics;
  /**
   * Graceful stop: /readyz turns 503, no new connections, requests already in flight finish (up to
   * timeoutMs, default 20 s), SSE streams end so browsers reconnect elsewhere, then Redis closes.
   */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * Compose and start the web process: Redis connection, dependencies, the Koa app, the HTTP server.
 * Used by the production entry point and by tests alike, so tests exercise the real wiring.
 */

/** Node's request timeouts for the web (see startWeb); the check runs on its own interval, 30 s by default. */
const REQUEST_TIMEOUTS = { headersMs: 20_000, requestMs: 30_000, checkMs: 30_000 };
export async function startWeb(args: {
  config: AppConfig; logger: Logger; clock?: Clock; host?: string; appOptions?: CreateAppOptions; renderLimits?: RenderLimits; logTail?: LogTailOptions;
  /** Telemetry flush and guard sync intervals (tests shrink them). */
  telemetry?: { flushMs?: number; syncMs?: number };
  /** The live-update hub's heartbeat (events/hub.ts; tests shrink it). */
  events?: { heartbeatMs?: number };
  /** How long a request (headers, then all of it) may take to arrive, and how often that is checked (tests shrink them). */
  requestTimeouts?: Partial<typeof REQUEST_TIMEOUTS>;
}): Promise<WebProcess> {
  const { config, logger } = args;
  const clock = args.clock ?? systemClock;
  const redis = createRedis(config.redisUrl, 'web');
  // Not auto-pipelined: it carries little else than one job add per deploy request, which never shares
  // a batch, and each auto-pipelined command would be a pipeline of its own (measured when that also
  // copied BullMQ's ~60 scripts, before server/redisPipelines.ts: web CPU per deploy POST 4.9 → 4.2 ms).
  const queueRedis = createRedis(config.redisUrl, 'web', { enableAutoPipelining: false });
  const metrics = createWebMetrics();
  // Records kept in this process, dropped by Redis' invalidation messages (RESP2: they arrive as pub/sub).
  const trackedCache = <T>(recordPrefix: string, what: string, fence?: EndingFence) => {
    const warn = repeatingWarning(logger, `${what} cache: tracking not set up; reading from Redis`, { now: () => clock.now() });
    return createSessionCache<T>({
      connect: () => trackingConnection(config.redisUrl),
      recordPrefix,
      // The process clock, as the session middleware's idle touch: a test holding it holds both.
      now: () => clock.now(),
      onError: (err) => warn({ err: { message: err.message } }),
      fence,
      heartbeatMs: config.sessionCacheHeartbeatMs,
    });
  };
  // Sessions ended here are answered once every process dropped its copy (sessions/fence.ts).
  const fence = createProcessFence({ prefix: config.redisPrefix, redis, timeoutMs: config.sessionEndFenceMs, logger });
  const sessionCache = trackedCache<LoadedSession>(sessionKeys(config.redisPrefix).record(''), 'session', fence);
  // Bearer token entries likewise (a connection of their own: one cache tracks one kind of record).
  const tokenEntries = trackedCache<TokenEntry>(tokenEntryKey(config.redisPrefix, ''), 'token entry');
  const base = buildDeps({ config, redis, queueRedis, sessionCache, tokenEntries, clock, logger, renderLimits: args.renderLimits, metrics: metrics.sink, security: args.appOptions?.security, telemetry: args.telemetry });
  // One subscriber connection for SSE, opened on the first live client; closed with the process.
  const subscriberSilent = repeatingWarning(logger, 'live updates: subscriber connection silent; dropped, its streams end and reconnect', { now: () => clock.now() });
  const events = createEventHub({
    connect: () => createRedis(config.redisUrl, 'subscriber'), channelOf: (userId) => base.deployments.keys.channel(userId), heartbeatMs: args.events?.heartbeatMs,
    onSilent: (silentMs) => subscriberSilent({ silentMs }),
  });
  const logTails = createLogTailer({ ...base, prefix: config.redisPrefix }, args.logTail);
  const deployResults = createDeploySlack({
    redis, prefix: config.redisPrefix, keyring: base.keyring, absoluteMs: config.sessionAbsoluteMs, baseUrl: config.baseUrl, logger, sessions: base.sessions, alerts: args.appOptions?.sentinel,
  });
  const deps: AppDeps = { ...base, events, logTails, deployResults };
  const inflight = createInflightTracker();
  const observe = requestMetrics(metrics);
  let closing = false;
  const opts = args.appOptions ?? {};
  const app = createApp(deps, {
    ...opts,
    // Mounted as layers of their own: wrapping them in one middleware made two closures per request.
    outer: [inflight.middleware, observe, ...[opts.outer ?? []].flat()],
    readiness: [...(opts.readiness ?? []), { name: 'accepting', check: async () => !closing }],
    routes: [...(opts.routes ?? []), webMetricsRoute(metrics, deps)],
  });
  const host = args.host ?? config.host;
  // A request must arrive within these (answered 408 and closed otherwise). Node's own, 60 s for the headers and 5
  // minutes for all of it, let one anonymous client hold a socket and up to a body's 128 KiB of buffers for five
  // minutes by sending a byte every few seconds (found by a probe of the HTTP layer); bodies here are small.
  const timeouts = { ...REQUEST_TIMEOUTS, ...args.requestTimeouts };
  const handle = app.callback(); // as app.listen() would serve it; Koa answers its own errors
  const server = createServer({ headersTimeout: timeouts.headersMs, requestTimeout: timeouts.requestMs, connectionsCheckingInterval: timeouts.checkMs }, (req, res) => { void handle(req, res); })
    .listen(config.port, host);
  // A port already taken or a HOST not of this machine passes env.ts: rejected with a message naming
  // PORT or HOST (listenErrors.ts), which the entry points print alone before exiting 1.
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', (err) => reject(listenError(err, { host, port: config.port })));
  });
  server.keepAliveTimeout = 65_000; // longer than Render's proxy idle timeout, avoiding 502s on reuse
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  return {
    server, deps, metrics, url: `http://127.0.0.1:${port}`,
    async close(timeoutMs = 20_000) {
      if (closing) return;
      closing = true;
      inflight.drain();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      inflight.endStreams();
      const idle = await inflight.idle(timeoutMs);
      if (!idle) logger.warn({ inFlight: inflight.active() }, 'shutdown: requests still running at the deadline are cut');
      server.closeAllConnections(); // idle keep-alive sockets, and whatever outlived the deadline
      await stopped;
      // Redis may be the reason we are stopping: never wait on it unbounded.
      await bounded(Promise.all([deps.queue.close(), deps.commitStatusQueue.close()]), 2_000);
      await bounded(deps.telemetry.close(), 1_000); // the last counts of this process
      await bounded(logTails.close(), 1_000);
      await bounded(events.close(), 2_000);
      await bounded(Promise.all([sessionCache.close(), tokenEntries.close()]), 1_000);
      await Promise.all([redis, queueRedis].map(async (r) => { await bounded(r.quit(), 1_000); r.disconnect(); }));
    },
  };
}

async function bounded(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => {}), new Promise<void>((r) => { timer = setTimeout(r, ms); })]);
  clearTimeout(timer);
}

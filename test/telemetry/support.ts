import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import { manualClock } from '../../server/clock.js';
import { createLogger } from '../../server/logger.js';
import { createSecurityEvents } from '../../server/security/events.js';
import { createSlackAlerter } from '../../server/alerts/slack.js';
import { createDetector, type Detector } from '../../server/telemetry/detector.js';
import { resolveDetector, type DetectorOptions } from '../../server/telemetry/options.js';
import { startStack, type Stack } from '../helpers/stack.js';
import type { Agent } from '../helpers/agent.js';
import type { RenderSimOptions } from '../../sandbox/render/index.js';
import { startSlackReceiver, type SlackReceiver } from '../sentinel/support.js';
import { createAuditLog } from '../../server/audit/auditLog.js';
import { createKeyring } from '../../server/crypto/keyring.js';
import { telemetryKeys } from '../../server/telemetry/keys.js';
import { createGuardStore } from '../../server/telemetry/guards.js';
import { DEFAULT_TELEMETRY } from '../../server/telemetry/options.js';
import type { AdminDeps } from '../../server/telemetry/admin.js';

/** Small floors so a burst is tens of requests, not hundreds; baselines trusted after 5 minutes. */
export const TEST_DETECTOR: DetectorOptions = {
  floors: { requests: 40, probes: 10, deploys: 5, targets: 10 }, minSamples: 5, settleMs: 0,
};

const TEST_ENV = {
  // The manual clock runs through many minutes: sessions must outlive them.
  SESSION_IDLE_MINUTES: '600', SESSION_ABSOLUTE_HOURS: '48',
  ANOMALY_DETECTION: 'true',
  ANOMALY_THROTTLE_PER_MINUTE: '20', ANOMALY_BLOCK_AFTER: '3', ANOMALY_BLOCK_MINUTES: '30', ANOMALY_THROTTLE_MINUTES: '10',
};

export interface AnomalyStack {
  stack: Stack;
  clock: ReturnType<typeof manualClock>;
  slack: SlackReceiver;
  detector: Detector;
  detectorLogs: string[];
  /** Flush the web's counts, move the clock into the next minute (+1 s), judge the minute that ended. */
  nextMinute(): ReturnType<Detector['run']>;
  /** Count `n` requests of the user into the current minute through the web's own recorder (a synthetic baseline). */
  synthetic(userId: number, login: string, n: number, opts?: { status?: number; route?: string }): void;
  close(): Promise<void>;
}

/** The real web process on a manual clock, and the real detector (what the worker's job runs) on the same clock. */
export async function startAnomalyStack(opts: { detector?: DetectorOptions; env?: Record<string, string>; start?: number; renderOptions?: RenderSimOptions } = {}): Promise<AnomalyStack> {
  // Default 09:00:05 UTC on a fixed day: every minute of a test is in the same hour-of-day slot.
  const clock = manualClock(opts.start ?? Date.UTC(2026, 10, 2, 9, 0, 5));
  const slack = await startSlackReceiver();
  const stack = await startStack({
    clock, env: { ...TEST_ENV, ...opts.env }, telemetry: { flushMs: 60_000, syncMs: 100 }, renderOptions: opts.renderOptions,
    appOptions: { security: { alerts: { webhookUrl: slack.url, guard: { allowHosts: [slack.host] } } } },
  });
  const detectorLogs: string[] = [];
  const logger = createLogger({ level: 'debug', destination: new Writable({ write(c, _e, cb) { detectorLogs.push(String(c)); cb(); } }) });
  const deps = stack.web.deps;
  // The worker's security events: audit entry + operator Slack (here the local receiver).
  const events = createSecurityEvents({
    audit: deps.audit, alerter: createSlackAlerter({ webhookUrl: slack.url, logger, guard: { allowHosts: [slack.host] } }),
    redis: deps.redis, prefix: stack.config.redisPrefix, logger, cooldownSec: 0,
  });
  const detector = createDetector({
    redis: deps.redis, keys: deps.telemetry.keys, store: deps.telemetry.store, settings: stack.config.telemetry,
    stats: resolveDetector({ ...TEST_DETECTOR, ...opts.detector }), clock, logger, events,
  });
  return {
    stack, clock, slack, detector, detectorLogs,
    async nextMinute() {
      await deps.telemetry.recorder.flush();
      clock.set((Math.floor(clock.now() / 60_000) + 1) * 60_000 + 1_000);
      const run = await detector.run();
      await deps.telemetry.guards.sync();
      return run;
    },
    synthetic(userId, login, n, o = {}) {
      for (let i = 0; i < n; i++) {
        deps.telemetry.recorder.record({ userId, login, method: 'GET', route: o.route ?? '/api/render/my-deployments', status: o.status ?? 200, ms: 12, at: clock.now(), target: null, deploy: false });
      }
    },
    async close() { await stack.close(); await slack.close(); },
  };
}

export async function userIdOf(agent: Agent): Promise<number> {
  return (await agent.get('/api/session')).json.user.id as number;
}

/** `n` GETs of the user's deployment list over HTTP; returns the statuses. */
export async function burst(agent: Agent, n: number, path = '/api/render/my-deployments'): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) statuses.push((await agent.get(path)).status);
  return statuses;
}

export const count = (xs: number[], v: number) => xs.filter((x) => x === v).length;

/** What `npm run admin` is given (scripts/admin.ts), on a test's Redis under `prefix`, its clock fixed at `now`. */
export function adminDepsOn(redis: Redis, prefix: string, now: number): AdminDeps {
  const logger = createLogger({ level: 'silent' });
  const clock = manualClock(now);
  const keys = telemetryKeys(prefix);
  const audit = createAuditLog({ redis, prefix, clock, keyring: createKeyring(randomBytes(32)) });
  const events = createSecurityEvents({ audit, alerter: createSlackAlerter({ webhookUrl: null, logger }), redis, prefix, logger, cooldownSec: 0 });
  return { redis, keys, store: createGuardStore(redis, keys), settings: DEFAULT_TELEMETRY, events, audit, prefix, now: () => clock.now() };
}

/** What `npm run admin` works with, on a running web process's own Redis, keys, settings and audit trail. */
export function adminDepsOfWeb(stack: Stack, now: () => number): AdminDeps {
  const deps = stack.web.deps;
  const logger = createLogger({ level: 'silent' });
  const events = createSecurityEvents({ audit: deps.audit, alerter: createSlackAlerter({ webhookUrl: null, logger }), redis: deps.redis, prefix: stack.config.redisPrefix, logger, cooldownSec: 0 });
  return { redis: deps.redis, keys: deps.telemetry.keys, store: deps.telemetry.store, settings: stack.config.telemetry, events, audit: deps.audit, prefix: stack.config.redisPrefix, now };
}

/** The browser sign-in of a login the GitHub simulator already knows (stack.signIn adds a new user under a login it has not seen). */
export async function signInExisting(stack: Stack, agent: Agent, login: string): Promise<void> {
  const start = await agent.get('/api/auth/github/login');
  if (start.status !== 302 || !start.location) throw new Error(`login start: ${start.status}`);
  const authorize = await fetch(`${start.location}&login=${encodeURIComponent(login)}`, { redirect: 'manual' });
  const callback = authorize.headers.get('location');
  if (!callback) throw new Error(`authorize: ${authorize.status}`);
  const done = await agent.get(callback.replace(stack.url, ''));
  if (done.status !== 302 || done.location !== '/') throw new Error(`callback: ${done.status} ${done.location}`);
  // A blocked user's session read is a 429: signed in all the same, without a CSRF token.
  const session = await agent.get('/api/session');
  agent.csrfToken = session.json?.csrfToken ?? null;
}

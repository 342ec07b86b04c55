import type Koa from 'koa';
import { pino } from 'pino';
import type { Bench } from '../lib/bench.js';
import { round } from '../lib/stats.js';
import { fmt, verdict, type Row } from '../lib/rows.js';
import { manualClock } from '../../server/clock.js';
import { createTelemetry } from '../../server/telemetry/telemetry.js';
import { telemetryMiddleware } from '../../server/telemetry/middleware.js';
import { DEFAULT_DETECTOR, DEFAULT_TELEMETRY } from '../../server/telemetry/options.js';
import { emptyBaseline, learn } from '../../server/telemetry/baseline.js';

export interface TelemetryResult {
  requests: number;
  users: number;
  /** CPU per request spent in the telemetry middleware (guard lookup, recording, its share of the flushes). */
  cpuUsPerRequest: number;
  /** Redis' own CPU per request for the flushed counts. */
  redisCpuUsPerRequest: number;
  /** Redis bytes per user for one day of activity (8 h, 10 requests a minute over 6 routes), by MEMORY USAGE of their keys, baseline included. */
  bytesPerActiveUserDay: number;
  /** Of which per-hour, per-route counts (kept hourRetentionDays). */
  hourBytesPerActiveUserDay: number;
  /** Steady state: a day of minute signals plus hourRetentionDays of hourly counts. */
  bytesPerActiveUserRetained: number;
}

const ROUTES = ['/api/session', '/api/render/my-deployments', '/api/render/services', '/api/render/deployments/:id', '/api/events', '/api/github/repos/:owner/:repo/detect'];
const ownCpuUs = () => { const c = process.cpuUsage(); return c.user + c.system; };
async function redisCpuUs(b: Bench): Promise<number> {
  const info = await b.redis.client.info('cpu');
  const num = (k: string) => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? 0);
  return (num('used_cpu_sys') + num('used_cpu_user')) * 1e6;
}

/**
 * The telemetry middleware itself, called in-process with the context fields it reads (user id,
 * matched route, params, status) and a real Redis behind it, against the same loop with a no-op
 * middleware: the difference is what telemetry adds to each request. Flushes (every 5 s in
 * production) run every 20,000 requests, i.e. as if the process served 4,000 requests a second;
 * their CPU is included. Then a day of a typical active user's traffic gives Redis bytes per user.
 */
export async function runTelemetry(b: Bench, o: { requests: number; users: number }): Promise<TelemetryResult> {
  const prefix = 'benchtel';
  const clock = manualClock(Date.UTC(2026, 10, 20, 9, 0, 0));
  const telemetry = createTelemetry({ redis: b.redis.client, prefix, settings: DEFAULT_TELEMETRY, logger: pino({ level: 'silent' }), flushMs: 3_600_000 });
  const mw = telemetryMiddleware(telemetry, clock);
  const noop: Koa.Middleware = (_ctx, next) => next();
  await telemetry.guards.sync();
  const contexts = Array.from({ length: 1_000 }, (_, i) => ({
    path: ROUTES[i % ROUTES.length]!.replace(':id', `dep${i}`).replace(':owner/:repo', `u${i}/app`), method: 'GET', status: 200,
    state: { userId: 1 + (i * 7) % o.users }, params: { id: `dep${i}`, owner: `u${i}`, repo: 'app' }, _matchedRoute: ROUTES[i % ROUTES.length],
    session: null, request: { body: undefined },
  })) as unknown as Koa.Context[];
  const next = async () => {};
  const loop = async (m: Koa.Middleware, n: number, flush: boolean) => {
    for (let i = 0; i < n; i++) {
      await m(contexts[i % contexts.length]!, next);
      if (flush && i % 20_000 === 19_999) { clock.advance(5_000); await telemetry.recorder.flush(); }
    }
    if (flush) await telemetry.recorder.flush();
  };
  await loop(mw, 20_000, true); // warm-up
  await loop(noop, 20_000, false);
  const c0 = ownCpuUs();
  await loop(noop, o.requests, false);
  const base = ownCpuUs() - c0;
  const r0 = await redisCpuUs(b);
  const c1 = ownCpuUs();
  await loop(mw, o.requests, true);
  const used = ownCpuUs() - c1;
  const redisUs = (await redisCpuUs(b)) - r0;
  await telemetry.close();

  // A day of 200 active users: 8 hours at 10 requests a minute over 6 routes.
  const dayPrefix = 'benchday';
  const day = createTelemetry({ redis: b.redis.client, prefix: dayPrefix, settings: DEFAULT_TELEMETRY, logger: pino({ level: 'silent' }), flushMs: 3_600_000 });
  const users = 200;
  const start = Date.UTC(2026, 10, 20, 8, 0, 0);
  for (let minute = 0; minute < 8 * 60; minute++) {
    for (let u = 1; u <= users; u++) {
      for (let r = 0; r < 10; r++) {
        day.recorder.record({ userId: u, login: `user${u}`, method: 'GET', route: ROUTES[(u + r) % ROUTES.length]!, status: r === 9 && minute % 7 === 0 ? 404 : 200, ms: 3 + ((u * r) % 400), at: start + minute * 60_000 + r * 1_000, target: r === 3 ? `r:user${u}/app${minute % 4}` : null, deploy: false });
      }
    }
    if (minute % 60 === 59) await day.recorder.flush();
  }
  await day.close();
  // Per key family, over a sample of users. Target sketches live 30 minutes (at most 31 per user at
  // any time), so only that many count; everything else is kept for its retention.
  const sizeOf = async (pattern: string, limit = Infinity) => {
    let sum = 0;
    for (const k of (await b.redis.client.keys(pattern)).sort().slice(-limit)) sum += (await b.redis.client.memory('USAGE', k)) ?? 0;
    return sum;
  };
  const sample = 20;
  let minuteBytes = 0; let hourBytes = 0; let targetBytes = 0; let userBytes = 0;
  for (let u = 1; u <= sample; u++) {
    minuteBytes += await sizeOf(`${dayPrefix}:tel:m:${u}:*`);
    hourBytes += await sizeOf(`${dayPrefix}:tel:h:${u}:*`);
    targetBytes += await sizeOf(`${dayPrefix}:tel:t:${u}:*`, 31);
    userBytes += (await sizeOf(`${dayPrefix}:tel:u:${u}`)) + (await sizeOf(`${dayPrefix}:tel:login:user${u}`));
  }
  // A full baseline: every hour-of-day slot learned.
  let baseline = emptyBaseline();
  for (let h = 0; h < 24; h++) for (let i = 0; i < 40; i++) baseline = learn(baseline, h, { requests: 10 + (i % 5), probes: i % 2, deploys: i % 3 === 0 ? 1 : 0, targets: 3 }, DEFAULT_DETECTOR);
  await b.redis.client.set(`${dayPrefix}:tel:b:1`, JSON.stringify(baseline));
  const baselineBytes = (await b.redis.client.memory('USAGE', `${dayPrefix}:tel:b:1`)) ?? 0;
  const perUser = (x: number) => x / sample;
  const bytes = perUser(minuteBytes + hourBytes + targetBytes + userBytes) + baselineBytes;
  hourBytes = perUser(hourBytes);
  const minuteAndRest = bytes - hourBytes;
  for (const p of [prefix, dayPrefix]) { const ks = await b.redis.client.keys(`${p}:*`); if (ks.length) await b.redis.client.del(...ks); }
  return {
    requests: o.requests, users: o.users,
    cpuUsPerRequest: round((used - base) / o.requests, 2), redisCpuUsPerRequest: round(redisUs / o.requests, 2),
    bytesPerActiveUserDay: Math.round(bytes), hourBytesPerActiveUserDay: Math.round(hourBytes),
    bytesPerActiveUserRetained: Math.round(minuteAndRest + hourBytes * DEFAULT_TELEMETRY.hourRetentionDays),
  };
}

/** Issue 18's target: under 10 µs of CPU per request. Memory: bounded (bench's own budget, see README). */
const MAX_RETAINED_BYTES_PER_USER = 64 * 1024;

export function telemetryRows(m: TelemetryResult): Row[] {
  return [
    {
      metric: `telemetry overhead per request (${fmt(m.requests, 0)} requests, ${fmt(m.users, 0)} users)`,
      value: `${fmt(m.cpuUsPerRequest, 2)} µs CPU (guard lookup, recording, flushes); Redis ${fmt(m.redisCpuUsPerRequest, 2)} µs`,
      target: '< 10 µs', verdict: verdict(m.cpuUsPerRequest < 10),
    },
    {
      metric: '  Redis bytes per active user',
      value: `${fmt(m.bytesPerActiveUserDay / 1024)} KiB for a day of 8 h × 10 req/min (${fmt(m.hourBytesPerActiveUserDay / 1024)} KiB of it hourly per-route); ${fmt(m.bytesPerActiveUserRetained / 1024)} KiB with 14 days of hourly counts`,
      target: `≤ ${fmt(MAX_RETAINED_BYTES_PER_USER / 1024)} KiB retained`, verdict: verdict(m.bytesPerActiveUserRetained <= MAX_RETAINED_BYTES_PER_USER),
    },
  ];
}

import autocannon, { type AutocannonResult } from 'autocannon';
import type { Redis } from 'ioredis';
import type { Bench } from './bench.js';
import { cpuMsBetween, type BenchChild } from './children.js';
import { round } from './stats.js';

/** One autocannon run against one server process: throughput, latency and who spent the CPU. */
export interface LoadFigures {
  /** Answers in the measured window (any status). */
  requests: number;
  reqPerSec: number; p50Ms: number; p99Ms: number; non2xx: number; errors: number;
  /** CPU per request: the server process, Redis, and the bench process (autocannon), in µs. */
  serverCpuUs: number; redisCpuUs: number; loadGenCpuUs: number;
  /** Session records read from Redis (HMGET) per request: near 0 when the web process's cache answers. */
  redisReadsPerRequest: number;
}

export interface LoadRequest {
  url: string;
  method?: 'GET' | 'POST';
  body?: string;
  /** One header set per connection, round-robin (e.g. one per user). */
  headers: Array<Record<string, string>>;
}

/** What one slice of load added up to; slices of the same target are summed into its figures. */
interface Slice { ok: number; non2xx: number; errors: number; seconds: number; p50Ms: number; p99Ms: number; serverMs: number; redisMs: number; loadGenMs: number; hmgets: number }

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

function figures(slices: Slice[]): LoadFigures {
  const sum = (k: keyof Slice) => slices.reduce((a, x) => a + x[k], 0);
  const total = sum('ok') + sum('non2xx');
  const per = (ms: number) => round((ms * 1000) / Math.max(1, total), 0);
  return {
    requests: total,
    reqPerSec: round(sum('ok') / Math.max(0.001, sum('seconds')), 0),
    // Percentiles do not add up across slices: the median slice's p50, and the worst slice's p99.
    p50Ms: median(slices.map((x) => x.p50Ms)), p99Ms: Math.max(...slices.map((x) => x.p99Ms)),
    non2xx: sum('non2xx'), errors: sum('errors'),
    serverCpuUs: per(sum('serverMs')), redisCpuUs: per(sum('redisMs')), loadGenCpuUs: per(sum('loadGenMs')),
    redisReadsPerRequest: round(sum('hmgets') / Math.max(1, total), 3),
  };
}

/** Redis' own CPU time so far (INFO cpu), in ms. */
async function redisCpuMs(client: Redis): Promise<number> {
  const info = await client.info('cpu');
  const num = (k: string) => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? 0);
  return (num('used_cpu_sys') + num('used_cpu_user')) * 1000;
}

/** How many HMGETs Redis ran so far (INFO commandstats). */
async function hmgetCalls(client: Redis): Promise<number> {
  const info = await client.info('commandstats');
  return Number(/cmdstat_hmget:calls=(\d+)/.exec(info)?.[1] ?? 0);
}

const ownCpuMs = () => { const c = process.cpuUsage(); return (c.user + c.system) / 1000; };

/** Slices per target: 4 of 2 s for the usual 8 s, each side measured in every quarter. */
export const SLICES = 4;

export interface LoadTarget { server: BenchChild; req: LoadRequest }

/**
 * Warm each target up, then measure them in interleaved slices (A, B, C, A, B, C, …: `slices` rounds
 * of durationS / slices each), so that a ratio compares sides that saw the same competing load: on a
 * shared machine, back-to-back runs of 8 s each were measured minutes apart in load terms, and a
 * starved baseline made a ratio of 1.3× possible. autocannon with `connections`; CPU read around each
 * slice (the server child's own process.cpuUsage(), Redis' INFO cpu, this process for autocannon).
 * Only 2xx answers count as throughput.
 */
export async function measureInterleaved(bench: Bench, targets: LoadTarget[], o: { connections: number; warmupS: number; durationS: number; slices: number }): Promise<LoadFigures[]> {
  const run = (t: LoadTarget, duration: number) => {
    let next = 0;
    const setupClient = (client: { setHeaders(h: Record<string, string>): void }) => client.setHeaders(t.req.headers[next++ % t.req.headers.length]!);
    return autocannon({ url: t.req.url, method: t.req.method ?? 'GET', body: t.req.body, connections: o.connections, duration, setupClient });
  };
  for (const t of targets) await run(t, o.warmupS);
  const slices: Slice[][] = targets.map(() => []);
  for (let round = 0; round < o.slices; round++) {
    for (const [i, t] of targets.entries()) {
      const snapshot = async () => ({ server: await t.server.stats(), redis: await redisCpuMs(bench.redis.client), loadGen: ownCpuMs(), hmgets: await hmgetCalls(bench.redis.client) });
      const before = await snapshot();
      const r: AutocannonResult = await run(t, o.durationS / o.slices);
      const after = await snapshot();
      slices[i]!.push({
        ok: r['2xx'], non2xx: r.non2xx, errors: r.errors, seconds: r.duration, p50Ms: r.latency.p50, p99Ms: r.latency.p99,
        serverMs: cpuMsBetween(before.server, after.server), redisMs: after.redis - before.redis, loadGenMs: after.loadGen - before.loadGen, hmgets: after.hmgets - before.hmgets,
      });
    }
  }
  return slices.map(figures);
}

/** `figures` as a ratio of a baseline's throughput (same run, same connections, interleaved). */
export const ratioTo = (baseline: LoadFigures, f: LoadFigures) => ({ ...f, ratio: round(f.reqPerSec / baseline.reqPerSec, 2) });

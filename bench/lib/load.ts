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

interface CpuSpent { server: number; redis: number; loadGen: number; hmgets: number }

const figures = (r: AutocannonResult, cpu: CpuSpent): LoadFigures => {
  const total = r['2xx'] + r.non2xx;
  const per = (ms: number) => round((ms * 1000) / Math.max(1, total), 0);
  return {
    requests: total,
    reqPerSec: round(r['2xx'] / r.duration, 0),
    p50Ms: r.latency.p50, p99Ms: r.latency.p99, non2xx: r.non2xx, errors: r.errors,
    serverCpuUs: per(cpu.server), redisCpuUs: per(cpu.redis), loadGenCpuUs: per(cpu.loadGen),
    redisReadsPerRequest: round(cpu.hmgets / Math.max(1, total), 3),
  };
};

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

/**
 * Warm up, then measure: autocannon with `connections` for `durationS`, CPU read around the measured
 * part only (the server child's own process.cpuUsage(), Redis' INFO cpu, this process for autocannon).
 * Only 2xx answers count as throughput. Every row that is a ratio runs this on both sides, back to back.
 */
export async function measureLoad(bench: Bench, server: BenchChild, req: LoadRequest, o: { connections: number; warmupS: number; durationS: number }): Promise<LoadFigures> {
  let next = 0;
  const setupClient = (client: { setHeaders(h: Record<string, string>): void }) => client.setHeaders(req.headers[next++ % req.headers.length]!);
  const shape = { url: req.url, method: req.method ?? 'GET', body: req.body, connections: o.connections, setupClient };
  await autocannon({ ...shape, duration: o.warmupS });
  const snapshot = async () => ({ server: await server.stats(), redis: await redisCpuMs(bench.redis.client), loadGen: ownCpuMs(), hmgets: await hmgetCalls(bench.redis.client) });
  const before = await snapshot();
  const result = await autocannon({ ...shape, duration: o.durationS });
  const after = await snapshot();
  return figures(result, { server: cpuMsBetween(before.server, after.server), redis: after.redis - before.redis, loadGen: after.loadGen - before.loadGen, hmgets: after.hmgets - before.hmgets });
}

/** `figures` as a ratio of a baseline's throughput (same run, same connections). */
export const ratioTo = (baseline: LoadFigures, f: LoadFigures) => ({ ...f, ratio: round(f.reqPerSec / baseline.reqPerSec, 2) });

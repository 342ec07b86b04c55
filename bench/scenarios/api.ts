import autocannon, { type AutocannonResult } from 'autocannon';
import type { Bench } from '../lib/bench.js';
import { startDeployment } from '../lib/bench.js';
import type { Redis } from 'ioredis';
import { cpuMsBetween, startChild, type BenchChild } from '../lib/children.js';
import { createTenant, headersOf, type Tenant } from '../lib/tenants.js';
import { mapLimit, round } from '../lib/stats.js';

export interface LoadFigures {
  reqPerSec: number; p50Ms: number; p99Ms: number; non2xx: number; errors: number;
  /** CPU per request: the server process, Redis, and the bench process (autocannon), in µs. */
  serverCpuUs: number; redisCpuUs: number; loadGenCpuUs: number;
  /** Session records read from Redis (HMGET) per request: near 0 when the web process's cache answers. */
  redisReadsPerRequest: number;
}
export interface ApiResult {
  connections: number; warmupS: number; durationS: number;
  bareKoa: LoadFigures;
  session: LoadFigures & { ratio: number };
  renderStatus: LoadFigures & { ratio: number };
}

interface CpuSpent { server: number; redis: number; loadGen: number; hmgets: number }

const figures = (r: AutocannonResult, cpu: CpuSpent): LoadFigures => {
  const total = r['2xx'] + r.non2xx;
  const per = (ms: number) => round((ms * 1000) / Math.max(1, total), 0);
  return {
    reqPerSec: round(r['2xx'] / r.duration, 0),
    p50Ms: r.latency.p50, p99Ms: r.latency.p99, non2xx: r.non2xx, errors: r.errors,
    serverCpuUs: per(cpu.server), redisCpuUs: per(cpu.redis), loadGenCpuUs: per(cpu.loadGen),
    redisReadsPerRequest: round(cpu.hmgets / Math.max(1, total), 3),
  };
};

/** Redis' own CPU time so far (INFO cpu), in ms. */
export async function redisCpuMs(client: Redis): Promise<number> {
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
 * Authenticated API throughput: GET /api/session and GET /api/render/status (cookie check, session
 * load from Redis, decrypt) against a bare Koa JSON handler, each server in its own process, the same
 * connections and duration for all three. Only 2xx answers count as throughput.
 */
export async function runApi(bench: Bench, o: { connections: number; warmupS: number; durationS: number; users: number }): Promise<ApiResult> {
  const bare = await startChild(bench.cleanup, 'bare-koa', 'bareKoaMain.ts', {});
  const dep = await startDeployment(bench, { name: 'api' });
  try {
    const tenants = await mapLimit(Array.from({ length: o.users }, (_, i) => i), 20, (i) =>
      createTenant(dep.deps, bench.github, dep.render, { login: `api-user-${i}`, repos: 0 }));
    await assertSignedIn(dep.url, tenants);

    // Warm up, then measure; CPU is read around the measured part only.
    const load = async (server: BenchChild, url: string, headers: Array<Record<string, string>>) => {
      let next = 0;
      const setupClient = (client: { setHeaders(h: Record<string, string>): void }) => client.setHeaders(headers[next++ % headers.length]!);
      await autocannon({ url, connections: o.connections, duration: o.warmupS, setupClient });
      const [s0, r0, l0, h0] = [await server.stats(), await redisCpuMs(bench.redis.client), ownCpuMs(), await hmgetCalls(bench.redis.client)];
      const result = await autocannon({ url, connections: o.connections, duration: o.durationS, setupClient });
      const [s1, r1, l1, h1] = [await server.stats(), await redisCpuMs(bench.redis.client), ownCpuMs(), await hmgetCalls(bench.redis.client)];
      return figures(result, { server: cpuMsBetween(s0, s1), redis: r1 - r0, loadGen: l1 - l0, hmgets: h1 - h0 });
    };
    const userHeaders = tenants.map((t) => headersOf(t));
    bench.log('  bare Koa …');
    const bareKoa = await load(bare, `${String(bare.ready.url)}/api/session`, [{ 'user-agent': 'bench' }]);
    bench.log('  GET /api/session …');
    const session = await load(dep.web, `${dep.url}/api/session`, userHeaders);
    bench.log('  GET /api/render/status …');
    const renderStatus = await load(dep.web, `${dep.url}/api/render/status`, userHeaders);
    return {
      connections: o.connections, warmupS: o.warmupS, durationS: o.durationS, bareKoa,
      session: { ...session, ratio: round(session.reqPerSec / bareKoa.reqPerSec, 2) },
      renderStatus: { ...renderStatus, ratio: round(renderStatus.reqPerSec / bareKoa.reqPerSec, 2) },
    };
  } finally {
    await dep.stop();
    await bare.stop();
  }
}

/** The forged sessions must be real ones: the web process accepts every cookie. */
async function assertSignedIn(url: string, tenants: Tenant[]) {
  for (const t of tenants) {
    const res = await fetch(`${url}/api/session`, { headers: headersOf(t) });
    const body = (await res.json()) as { user?: { id: number }; render?: { configured: boolean } };
    if (res.status !== 200 || body.user?.id !== t.userId || !body.render?.configured) {
      throw new Error(`bench session for ${t.login} was not accepted: ${res.status}`);
    }
  }
}

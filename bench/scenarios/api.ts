import type { Bench } from '../lib/bench.js';
import { startDeployment } from '../lib/bench.js';
import { startChild } from '../lib/children.js';
import { measureInterleaved, ratioTo, SLICES, type LoadFigures } from '../lib/load.js';
import { createTenant, headersOf, type Tenant } from '../lib/tenants.js';
import { mapLimit } from '../lib/stats.js';
import { baselineRow, cpuRow, fmt, ratioRow, verdict, type Row } from '../lib/rows.js';

export type { LoadFigures } from '../lib/load.js';
export interface ApiResult {
  connections: number; warmupS: number; durationS: number;
  /** Measured interleaved with the rows that divide by it (lib/load.ts). */
  bareKoa: LoadFigures;
  session: LoadFigures & { ratio: number };
  renderStatus: LoadFigures & { ratio: number };
}

/**
 * Authenticated API throughput: GET /api/session and GET /api/render/status (cookie check, session
 * from the web process's cache or Redis) against a bare Koa JSON handler, each server in its own
 * process, the same connections and duration for all three. Only 2xx answers count as throughput.
 */
export async function runApi(bench: Bench, o: { connections: number; warmupS: number; durationS: number; users: number }): Promise<ApiResult> {
  const bare = await startChild(bench.cleanup, 'bare-koa', 'bareKoaMain.ts', {});
  const dep = await startDeployment(bench, { name: 'api' });
  try {
    const tenants = await mapLimit(Array.from({ length: o.users }, (_, i) => i), 20, (i) =>
      createTenant(dep.deps, bench.github, dep.render, { login: `api-user-${i}`, repos: 0 }));
    await assertSignedIn(dep.url, tenants);

    const userHeaders = tenants.map((t) => headersOf(t));
    bench.log('  bare Koa, GET /api/session, GET /api/render/status (interleaved) …');
    const [bareKoa, session, renderStatus] = await measureInterleaved(bench, [
      { server: bare, req: { url: `${String(bare.ready.url)}/api/session`, headers: [{ 'user-agent': 'bench' }] } },
      { server: dep.web, req: { url: `${dep.url}/api/session`, headers: userHeaders } },
      { server: dep.web, req: { url: `${dep.url}/api/render/status`, headers: userHeaders } },
    ], { ...o, slices: SLICES }) as [LoadFigures, LoadFigures, LoadFigures];
    return {
      connections: o.connections, warmupS: o.warmupS, durationS: o.durationS, bareKoa,
      session: ratioTo(bareKoa, session), renderStatus: ratioTo(bareKoa, renderStatus),
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

/** Issue 17's target for authenticated reads: ≥ 0.5× bare Koa, and the session served from the process's cache. */
export function apiRows(a: ApiResult): Row[] {
  const rows = [baselineRow(`bare Koa JSON (${a.connections} conn, ${a.durationS} s)`, a.bareKoa)];
  for (const [label, f] of [['GET /api/session', a.session], ['GET /api/render/status', a.renderStatus]] as const) {
    rows.push(ratioRow(`${label} (cookie session)`, f, 'bare Koa', 0.5));
    rows.push(cpuRow(`  ${label} CPU per request`, f, a.bareKoa, 'bare Koa', 2));
    rows.push({
      metric: `  ${label}: session reads from Redis`, value: `${fmt(f.redisReadsPerRequest, 3)} HMGET per request (the web process's session cache answers the rest)`,
      target: '< 0.05', verdict: verdict(f.redisReadsPerRequest < 0.05),
    });
  }
  return rows;
}

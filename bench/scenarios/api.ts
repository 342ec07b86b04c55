import autocannon, { type AutocannonResult } from 'autocannon';
import type { Bench } from '../lib/bench.js';
import { startDeployment } from '../lib/bench.js';
import { startChild } from '../lib/children.js';
import { createTenant, headersOf, type Tenant } from '../lib/tenants.js';
import { mapLimit, round } from '../lib/stats.js';

export interface LoadFigures { reqPerSec: number; p50Ms: number; p99Ms: number; non2xx: number; errors: number }
export interface ApiResult {
  connections: number; warmupS: number; durationS: number;
  bareKoa: LoadFigures;
  session: LoadFigures & { ratio: number };
  renderStatus: LoadFigures & { ratio: number };
}

const figures = (r: AutocannonResult): LoadFigures => ({
  reqPerSec: round(r['2xx'] / r.duration, 0),
  p50Ms: r.latency.p50, p99Ms: r.latency.p99, non2xx: r.non2xx, errors: r.errors,
});

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

    const load = async (url: string, headers: Array<Record<string, string>>) => {
      let next = 0;
      const setupClient = (client: { setHeaders(h: Record<string, string>): void }) => client.setHeaders(headers[next++ % headers.length]!);
      await autocannon({ url, connections: o.connections, duration: o.warmupS, setupClient });
      return autocannon({ url, connections: o.connections, duration: o.durationS, setupClient });
    };
    const userHeaders = tenants.map((t) => headersOf(t));
    bench.log('  bare Koa …');
    const bareKoa = figures(await load(`${String(bare.ready.url)}/api/session`, [{ 'user-agent': 'bench' }]));
    bench.log('  GET /api/session …');
    const session = figures(await load(`${dep.url}/api/session`, userHeaders));
    bench.log('  GET /api/render/status …');
    const renderStatus = figures(await load(`${dep.url}/api/render/status`, userHeaders));
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

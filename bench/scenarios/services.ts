import type { Bench } from '../lib/bench.js';
import { startDeployment } from '../lib/bench.js';
import { cpuMsBetween } from '../lib/children.js';
import { createTenant, headersOf, seedService, type Tenant } from '../lib/tenants.js';
import { mapLimit, percentile, round, sleep } from '../lib/stats.js';
import { fmt, verdict, type Row } from '../lib/rows.js';

export interface ServicesResult {
  users: number; pollEveryMs: number; durationS: number; renderLatencyMs: number; servicesPerUser: number;
  requests: number; non200: number;
  p50Ms: number; p99Ms: number;
  /** Each user's first poll (nothing cached: it waits for the list and the latest deploys, two Render round trips). */
  first: { p50Ms: number; p99Ms: number };
  /**
   * The floor, measured in this run: the same two Render round trips a first poll waits for (the list, then
   * each service's latest deploy), made straight to the simulator by a bare client for each user, with the
   * users' arrival spread the same: what a first poll costs with nothing of ours in it.
   */
  floor: { p50Ms: number; p99Ms: number };
  /** Every later poll: with the list cached, none should wait for Render. */
  later: { p50Ms: number; p99Ms: number };
  /** The web process's CPU over the polling window (its background refreshes included), per request. */
  webCpuUsPerRequest: number;
  /** Render GETs per user per minute over the polling window: mean and the busiest user. */
  renderGetsPerUserMin: { mean: number; max: number };
  renderCalls: number; renderRateLimited: number;
}

/**
 * Many signed-in users, each with their own Render key and a few services, each polling
 * GET /api/render/services every second (as the dashboard does), against the Render simulator at a
 * realistic latency and Render's default limits. Measures what users see (latency) and what Render
 * sees (GETs per key per minute, and any 429).
 */
export async function runServices(bench: Bench, o: { users: number; pollEveryMs: number; durationS: number; renderLatencyMs: number; servicesPerUser: number }): Promise<ServicesResult> {
  const dep = await startDeployment(bench, { name: 'services', render: { latencyMs: o.renderLatencyMs } });
  try {
    const tenants = await mapLimit(Array.from({ length: o.users }, (_, i) => i), 20, (i) =>
      createTenant(dep.deps, bench.github, dep.render, { login: `svc-user-${i}`, repos: 0 }));
    // Each user's existing services, created straight on the simulator (not through the orchestrator).
    await mapLimit(tenants.flatMap((t) => Array.from({ length: o.servicesPerUser }, (_, i) => ({ t, i }))), 50, ({ t, i }) => seedService(dep.render.url, t, `svc-${i}`));

    // A web process serves many users: its code is warm before these arrive. Other users' polls first
    // (3 s), so the first polls measured are not the process's first requests (8–10 ms of CPU each,
    // cold, against 1–2 warm).
    const warmUsers = await mapLimit(Array.from({ length: WARM_UP_USERS }, (_, i) => i), 20, (i) =>
      createTenant(dep.deps, bench.github, dep.render, { login: `svc-warm-${i}`, repos: 0 }));
    await mapLimit(warmUsers, 50, (t) => seedService(dep.render.url, t, 'svc-0'));
    await Promise.all(warmUsers.map(async (t, i) => {
      await sleep(Math.floor((i / warmUsers.length) * o.pollEveryMs));
      for (let n = 0; n < 3; n++) {
        await (await fetch(`${dep.url}/api/render/services`, { headers: headersOf(t) })).arrayBuffer();
        await sleep(o.pollEveryMs);
      }
    }));
    const floor = await measureFloor(dep.render.url, tenants, o.pollEveryMs);

    const callsBefore = dep.render.calls.length;
    const cpuBefore = await dep.web.stats();
    const windowStart = Date.now();
    const latencies: number[] = [];
    const firstLatencies: number[] = [];
    const laterLatencies: number[] = [];
    let non200 = 0;
    const endAt = windowStart + o.durationS * 1000;
    // Users start spread over one poll interval, then each polls on its own fixed schedule.
    await Promise.all(tenants.map(async (t, i) => {
      let due = windowStart + Math.floor((i / tenants.length) * o.pollEveryMs);
      let first = true;
      while (due < endAt) {
        await sleep(Math.max(0, due - Date.now()));
        const t0 = performance.now();
        const res = await fetch(`${dep.url}/api/render/services`, { headers: headersOf(t) });
        await res.arrayBuffer();
        const ms = performance.now() - t0;
        latencies.push(ms);
        (first ? firstLatencies : laterLatencies).push(ms);
        first = false;
        if (res.status !== 200) non200++;
        due += o.pollEveryMs;
      }
    }));
    const windowMin = (Date.now() - windowStart) / 60_000;
    const webCpuMs = cpuMsBetween(cpuBefore, await dep.web.stats());
    const calls = dep.render.calls.slice(callsBefore);
    const getsByAccount = new Map<string, number>();
    for (const c of calls) if (c.method === 'GET' && c.accountId) getsByAccount.set(c.accountId, (getsByAccount.get(c.accountId) ?? 0) + 1);
    const perUser = tenants.map((t) => (getsByAccount.get(t.accountId) ?? 0) / windowMin);
    return {
      users: o.users, pollEveryMs: o.pollEveryMs, durationS: o.durationS, renderLatencyMs: o.renderLatencyMs, servicesPerUser: o.servicesPerUser,
      requests: latencies.length, non200,
      p50Ms: round(percentile(latencies, 50)), p99Ms: round(percentile(latencies, 99)),
      first: { p50Ms: round(percentile(firstLatencies, 50)), p99Ms: round(percentile(firstLatencies, 99)) },
      floor,
      later: { p50Ms: round(percentile(laterLatencies, 50)), p99Ms: round(percentile(laterLatencies, 99)) },
      webCpuUsPerRequest: round((webCpuMs * 1000) / Math.max(1, latencies.length)),
      renderGetsPerUserMin: { mean: round(perUser.reduce((a, b) => a + b, 0) / perUser.length), max: round(Math.max(...perUser)) },
      renderCalls: calls.length, renderRateLimited: calls.filter((c) => c.status === 429).length,
    };
  } finally {
    await dep.stop();
  }
}

const WARM_UP_USERS = 100;

/**
 * Each user's first poll with nothing of ours: the services list, then each service's latest deploy (in
 * parallel, as the overview asks), with the user's own key straight to the simulator, users arriving
 * spread over one poll interval as in the window.
 */
async function measureFloor(renderUrl: string, tenants: Tenant[], spreadMs: number): Promise<{ p50Ms: number; p99Ms: number }> {
  const start = Date.now();
  const latencies = await Promise.all(tenants.map(async (t, i) => {
    await sleep(Math.max(0, start + Math.floor((i / tenants.length) * spreadMs) - Date.now()));
    const headers = { authorization: `Bearer ${t.apiKey}`, accept: 'application/json' };
    const t0 = performance.now();
    const listed = await fetch(`${renderUrl}/services?ownerId=${encodeURIComponent(t.ownerId)}&limit=100`, { headers });
    if (listed.status !== 200) throw new Error(`the floor's list: Render simulator answered ${listed.status}`);
    const services = (await listed.json()) as Array<{ service: { id: string } }>;
    await Promise.all(services.map(async ({ service }) => {
      const res = await fetch(`${renderUrl}/services/${service.id}/deploys?limit=1`, { headers });
      if (res.status !== 200) throw new Error(`the floor's latest deploy: Render simulator answered ${res.status}`);
      await res.arrayBuffer();
    }));
    return performance.now() - t0;
  }));
  return { p50Ms: round(percentile(latencies, 50)), p99Ms: round(percentile(latencies, 99)) };
}

export function servicesRows(v: ServicesResult): Row[] {
  // The first polls (5% of requests) wait for two Render round trips that depend on each other; the p99
  // of all polls is theirs. What is ours on top of the floor measured in the same run (those round trips
  // alone, from a bare client) may be one more Render latency: beyond it, requests are queueing on us.
  const p99Max = round(v.floor.p99Ms + v.renderLatencyMs);
  return [
    {
      metric: `GET /api/render/services, ${v.users} users × 1/${v.pollEveryMs / 1000} s (Render +${v.renderLatencyMs} ms)`,
      value: `p50 ${fmt(v.p50Ms)} ms, p99 ${fmt(v.p99Ms)} ms over ${fmt(v.requests, 0)} requests${v.non200 ? `, ${v.non200} non-200` : ''}; the floor (the 2 Render round trips alone, bare client, this run): p50 ${fmt(v.floor.p50Ms)} ms, p99 ${fmt(v.floor.p99Ms)} ms`,
      target: `p99 ≤ floor p99 + ${v.renderLatencyMs} ms, all 200`, verdict: verdict(v.p99Ms <= p99Max && v.non200 === 0),
    },
    {
      // The first polls (one per user, 5% of requests at 20 polls each) cannot be cached; the rest should not wait for Render at all.
      metric: '  every poll after each user\'s first',
      value: `p50 ${fmt(v.later.p50Ms)} ms, p99 ${fmt(v.later.p99Ms)} ms (first polls: p50 ${fmt(v.first.p50Ms)} ms, p99 ${fmt(v.first.p99Ms)} ms); web CPU ${fmt(v.webCpuUsPerRequest, 0)} µs per request`,
      target: `p99 ≤ ${v.renderLatencyMs} ms (no Render call waited for)`, verdict: verdict(v.later.p99Ms <= v.renderLatencyMs),
    },
    {
      metric: '  Render GETs per user per minute',
      value: `mean ${fmt(v.renderGetsPerUserMin.mean)}, max ${fmt(v.renderGetsPerUserMin.max)}`,
      target: '< 400', verdict: verdict(v.renderGetsPerUserMin.max < 400),
    },
  ];
}

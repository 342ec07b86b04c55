import type { Bench } from '../lib/bench.js';
import { startDeployment } from '../lib/bench.js';
import { cpuMsBetween } from '../lib/children.js';
import { createTenant, headersOf, seedService } from '../lib/tenants.js';
import { mapLimit, round, sleep } from '../lib/stats.js';
import { fmt, verdict, type Row } from '../lib/rows.js';

export interface SentinelResult {
  users: number; servicesPerUser: number; windowS: number; renderLatencyMs: number;
  /** Render calls Sentinel made per watching user per minute over the window: mean and the busiest user. */
  renderCallsPerUserMin: { mean: number; max: number };
  /** Worker CPU (user + system) per watching user per minute. */
  workerCpuMsPerUserMin: number;
  renderCalls: number; renderRateLimited: number;
}

/**
 * Many signed-in users with Sentinel on (default 60 s rounds), each with a few services, against the
 * Render simulator at a realistic latency. Measures what Render sees per key and what the worker spends.
 */
export async function runSentinel(bench: Bench, o: { users: number; servicesPerUser: number; windowS: number; renderLatencyMs: number }): Promise<SentinelResult> {
  const dep = await startDeployment(bench, { name: 'sentinel', render: { latencyMs: o.renderLatencyMs }, worker: {} });
  try {
    const tenants = await mapLimit(Array.from({ length: o.users }, (_, i) => i), 20, (i) =>
      createTenant(dep.deps, bench.github, dep.render, { login: `sentinel-user-${i}`, repos: 0 }));
    await mapLimit(tenants.flatMap((t) => Array.from({ length: o.servicesPerUser }, (_, i) => ({ t, i }))), 50, ({ t, i }) => seedService(dep.render.url, t, `sen-${i}`));
    const w0 = await dep.worker!.stats();
    const callsBefore = dep.render.calls.length;
    const windowStart = Date.now();
    // Users opt in spread over the first 10 s (as people would, not all in one tick).
    await mapLimit(tenants.map((t, i) => ({ t, i })), 20, async ({ t, i }) => {
      await sleep(Math.max(0, windowStart + Math.floor((i / tenants.length) * 10_000) - Date.now()));
      const res = await fetch(`${dep.url}/api/sentinel`, { method: 'PUT', headers: headersOf(t, { 'content-type': 'application/json', 'x-csrf-token': t.csrfToken }), body: JSON.stringify({ enabled: true }) });
      if (res.status !== 200) throw new Error(`enabling Sentinel for ${t.login}: ${res.status} ${await res.text()}`);
    });
    await sleep(Math.max(0, windowStart + o.windowS * 1000 - Date.now()));
    const w1 = await dep.worker!.stats();
    const windowMin = (Date.now() - windowStart) / 60_000;
    const calls = dep.render.calls.slice(callsBefore);
    const byAccount = new Map<string, number>();
    for (const c of calls) if (c.accountId) byAccount.set(c.accountId, (byAccount.get(c.accountId) ?? 0) + 1);
    const perUser = tenants.map((t) => (byAccount.get(t.accountId) ?? 0) / windowMin);
    return {
      users: o.users, servicesPerUser: o.servicesPerUser, windowS: o.windowS, renderLatencyMs: o.renderLatencyMs,
      renderCallsPerUserMin: { mean: round(perUser.reduce((a, b) => a + b, 0) / perUser.length, 2), max: round(Math.max(...perUser), 2) },
      workerCpuMsPerUserMin: round(cpuMsBetween(w0, w1) / o.users / windowMin, 3),
      renderCalls: calls.length, renderRateLimited: calls.filter((c) => c.status === 429).length,
    };
  } finally {
    await dep.stop();
  }
}

export function sentinelRows(v: SentinelResult): Row[] {
  return [
    {
      metric: `Sentinel, ${fmt(v.users, 0)} watching users × ${v.servicesPerUser} services (Render +${v.renderLatencyMs} ms, ${v.windowS} s)`,
      value: `Render calls per user per minute: mean ${fmt(v.renderCallsPerUserMin.mean, 2)}, max ${fmt(v.renderCallsPerUserMin.max, 2)}${v.renderRateLimited ? `, ${v.renderRateLimited} × 429` : ''}`,
      target: '≤ 40 (10% of 400 reads/min)', verdict: verdict(v.renderCallsPerUserMin.max <= 40 && v.renderRateLimited === 0),
    },
    { metric: '  worker CPU per watching user per minute', value: `${fmt(v.workerCpuMsPerUserMin, 3)} ms`, target: '< 5 ms', verdict: verdict(v.workerCpuMsPerUserMin < 5) },
  ];
}

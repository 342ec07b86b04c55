import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { Bench, Deployment } from '../lib/bench.js';
import { startDeployment } from '../lib/bench.js';
import { cpuMsBetween, startChild, type BenchChild } from '../lib/children.js';
import { createTenant, headersOf, type Tenant } from '../lib/tenants.js';
import { trackDeployments, type DeploymentTracker } from '../lib/tracker.js';
import { mapLimit, percentile, round, sleep, waitFor } from '../lib/stats.js';
import { fmt, verdict, type Row } from '../lib/rows.js';
import { COMMIT_STATUS_QUEUE } from '../../server/queues/commitStatusQueue.js';
import { queuePrefix } from '../../server/queues/deployQueue.js';

export interface Latency { p50Ms: number; p99Ms: number; maxMs: number }
export interface PipelineRun {
  deploys: number; live: number; seconds: number; deploysPerSec: number;
  /** Calls to GitHub and to Render per deploy. */
  githubCallsPerDeploy: number; renderCallsPerDeploy: number;
  /** Redis commands per deploy (all clients: web, worker, BullMQ), and the busiest commands. */
  redisCommandsPerDeploy: number;
  topRedisCommands: Record<string, number>;
  /** The worker's socket writes and new connections per deploy, by peer (bench/children/socketProbe.ts). */
  workerSockets: Record<string, number>;
  /** The web process's socket writes per deploy, by peer (its Redis connections apart). */
  webSockets: Record<string, number>;
  /** Orchestrator CPU (web + worker processes; simulators excluded) per deploy, ms. */
  cpuMsPerDeploy: { web: number; worker: number; total: number };
  /** Seconds between the CPU readings (the batch, then until its statuses are drained): what idle CPU adds. */
  cpuWindowS: number;
  enqueueToFirstRenderCall: Latency;
  enqueueToLive: Latency;
}
export interface PipelineResult {
  concurrency: number;
  burst: PipelineRun;
  sustained: PipelineRun & { targetRate: number; achievedRate: number };
  /** The baseline: a no-op BullMQ job, its throughput and its worker's CPU per job. */
  noopBullmq: { jobs: number; seconds: number; jobsPerSec: number; cpuMsPerJob: number };
  /** The lone-request baseline: a bare Koa handler's CPU per request in a burst and at the sustained rate. */
  bareKoa: { burstUs: number; pacedUs: number; rate: number };
  burstVsNoop: number;
  fairness: { burst: number; loneDelayMs: number; burstStartedBefore: number };
  /** Web and worker CPU per second with nothing to do (timers, BullMQ's waits), and the worker's socket writes per second. */
  idle: { seconds: number; webMsPerS: number; workerMsPerS: number; workerSockets: Record<string, number> };
  renderCalls: number; renderRateLimited: number;
}

const lat = (xs: number[]): Latency => ({ p50Ms: round(percentile(xs, 50)), p99Ms: round(percentile(xs, 99)), maxMs: round(xs.length ? Math.max(...xs) : Number.NaN) });

/**
 * The deploy pipeline end to end: HTTP POST /api/render/deploy on the web process → BullMQ → the
 * worker process (GitHub verify, stack detection, Render create, watch) → live, with instant deploys on
 * the Render simulator so the orchestrator's own cost is what is measured. Every deployment has its own
 * tenant (session, GitHub token, Render key), so each Render call maps to exactly one deployment.
 */
export async function runPipeline(bench: Bench, o: { concurrency: number; burst: number; rate: number; sustainS: number; noopJobs: number; fairnessBurst: number }): Promise<PipelineResult> {
  const dep = await startDeployment(bench, {
    name: 'pipeline',
    render: { phaseMs: { created: 0, build_in_progress: 0, pre_deploy_in_progress: 0, update_in_progress: 0 } },
    worker: { concurrency: o.concurrency },
  });
  try {
    const tracker = await trackDeployments(bench.cleanup, dep.config.redisUrl, dep.config.redisPrefix);
    const statuses = commitStatuses(bench, dep);
    // BENCH_SUSTAIN_ROUNDS=n runs the 50/s phase n times and reports the last (the others are logged):
    // a younger process pays its first JIT tier-up in the figure (see bench/README.md, pipeline).
    const rounds = Math.max(1, Number(process.env.BENCH_SUSTAIN_ROUNDS) || 1);
    const perRound = Math.round(o.rate * o.sustainS);
    const sustainedCount = perRound * rounds;
    bench.log(`  setting up ${o.burst + sustainedCount} tenants …`);
    const tenants = await mapLimit(Array.from({ length: o.burst + sustainedCount }, (_, i) => i), 20, (i) =>
      createTenant(dep.deps, bench.github, dep.render, { login: `pipe-${i}`, repos: 1 }));

    // Warm the worker and web (JIT, connection pools) with a handful of deploys that are not counted.
    const warm = await mapLimit(Array.from({ length: 10 }, (_, i) => i), 10, async (i) =>
      requestDeploy(dep, await createTenant(dep.deps, bench.github, dep.render, { login: `pipe-warm-${i}`, repos: 1 })));
    await waitFinished(tracker, warm.map((w) => w.id), 30_000);
    await statuses.drained();

    bench.log('  idle: 5 s with nothing to do …');
    const idle = await measureIdle(dep, 5);

    bench.log(`  burst: ${o.burst} deploys as fast as they can be requested …`);
    const burst = await measure(bench, dep, tracker, statuses, async () => mapLimit(tenants.slice(0, o.burst), 25, (t) => requestDeploy(dep, t)));

    bench.log(`  sustained: ${o.rate} deploys/s for ${o.sustainS} s …`);
    let achieved = 0;
    const sustain = (round: number) => measure(bench, dep, tracker, statuses, async () => {
      const sustainedTenants = tenants.slice(o.burst + round * perRound, o.burst + (round + 1) * perRound);
      const t0 = Date.now();
      const out = await Promise.all(sustainedTenants.map(async (t, i) => {
        await sleep(Math.max(0, t0 + (i * 1000) / o.rate - Date.now()));
        return requestDeploy(dep, t);
      }));
      achieved = sustainedTenants.length / ((Date.now() - t0) / 1000);
      return out;
    });
    for (let round = 0; round < rounds - 1; round++) {
      const r = await sustain(round);
      bench.log(`  round ${round + 1} of ${rounds}: web ${r.cpuMsPerDeploy.web} + worker ${r.cpuMsPerDeploy.worker} ms per deploy`);
    }
    const sustained = await sustain(rounds - 1);

    bench.log(`  baseline: ${o.noopJobs} no-op BullMQ jobs …`);
    const noopBullmq = await runNoop(bench, dep, o.concurrency, o.noopJobs);

    bench.log(`  baseline: bare Koa requests in a burst, then ${o.rate}/s …`);
    const bareKoa = await runBareKoa(bench, o.rate);

    bench.log(`  fairness: one tenant's ${o.fairnessBurst}-deploy burst, then a lone tenant's deploy …`);
    const fairness = await runFairness(bench, dep, tracker, o.fairnessBurst);

    return {
      concurrency: o.concurrency, burst, sustained: { ...sustained, targetRate: o.rate, achievedRate: round(achieved) },
      noopBullmq, bareKoa, burstVsNoop: round(burst.deploysPerSec / noopBullmq.jobsPerSec, 3), fairness, idle,
      renderCalls: dep.render.calls.length, renderRateLimited: dep.render.calls.filter((c) => c.status === 429).length,
    };
  } finally {
    await dep.stop();
  }
}

interface Requested { id: string; tenant: Tenant; createdAt: number }

async function requestDeploy(dep: Deployment, t: Tenant, repo = t.repos[0]!, name = repo.split('/')[1]!): Promise<Requested> {
  const res = await fetch(`${dep.url}/api/render/deploy`, {
    method: 'POST',
    headers: headersOf(t, { 'content-type': 'application/json', 'x-csrf-token': t.csrfToken }),
    body: JSON.stringify({ github_repo: repo, project_name: name }),
  });
  const body = (await res.json()) as { id?: string; createdAt?: string; error?: { code: string } };
  if (res.status !== 202 || !body.id) throw new Error(`POST /api/render/deploy for ${t.login}: ${res.status} ${body.error?.code ?? ''}`);
  return { id: body.id, tenant: t, createdAt: Date.parse(body.createdAt!) };
}

async function waitFinished(tracker: DeploymentTracker, ids: string[], timeoutMs: number) {
  const ok = await waitFor(() => tracker.finishedOf(ids) === ids.length, timeoutMs, 50);
  if (!ok) throw new Error(`${ids.length - tracker.finishedOf(ids)} of ${ids.length} deployments unfinished after ${timeoutMs / 1000} s`);
}

/** Run a batch of deploy requests, wait for all to finish, and measure rate, CPU and latencies. */
/**
 * Commit statuses are jobs of their own (workers/tasks/commitStatus.ts), posted after a deploy's step
 * asks for them, the final one after the deploy ended: a batch's CPU and GitHub calls include them, so
 * a batch ends when that queue is empty too (twice in a row: a final status is asked for just after
 * the record goes live).
 */
function commitStatuses(bench: Bench, dep: Deployment) {
  const connection = new Redis(dep.config.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(COMMIT_STATUS_QUEUE, { connection, prefix: queuePrefix(dep.config.redisPrefix) });
  bench.cleanup.add('commit-status queue (pipeline)', async () => { await queue.close(); connection.disconnect(); });
  const empty = async () => Object.values(await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children')).every((n) => n === 0);
  return {
    async drained(timeoutMs = 60_000): Promise<void> {
      const ok = await waitFor(async () => (await empty()) && (await sleep(250), await empty()), timeoutMs, 250);
      if (!ok) bench.log(`  commit statuses still queued after ${timeoutMs / 1000} s: the batch's figures leave them out`);
    },
  };
}

async function measure(bench: Bench, dep: Deployment, tracker: DeploymentTracker, statuses: ReturnType<typeof commitStatuses>, request: () => Promise<Requested[]>): Promise<PipelineRun> {
  const worker = dep.worker!;
  const [gh0, rc0] = [bench.github.calls.length, dep.render.calls.length];
  const [w0, k0, c0] = await Promise.all([dep.web.stats(), worker.stats(), commandStats(dep)]);
  const started = Date.now();
  const reqs = await request();
  await waitFinished(tracker, reqs.map((r) => r.id), 120_000);
  await statuses.drained();
  const ended = Math.max(...reqs.map((r) => tracker.get(r.id)!.finishedAt!));
  const [w1, k1, c1] = await Promise.all([dep.web.stats(), worker.stats(), commandStats(dep)]);
  const cpuWindowS = (Date.now() - started) / 1000;
  const n = reqs.length;
  const perCommand = [...c1].map(([k, v]) => [k, (v - (c0.get(k) ?? 0)) / n] as const).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]);
  const web = cpuMsBetween(w0, w1) / n;
  const workerSockets = Object.fromEntries(Object.entries(k1.extra ?? {}).map(([key, v]) => [key, round((v - (k0.extra?.[key] ?? 0)) / n, 1)]));
  const wrk = cpuMsBetween(k0, k1) / n;
  const webSockets = Object.fromEntries(Object.entries(w1.extra ?? {}).map(([key, v]) => [key, round((v - (w0.extra?.[key] ?? 0)) / n, 1)]));

  // First Render call of each deployment: the first simulator call by its tenant's account after it was requested.
  const firstCall = new Map<string, number>();
  for (const c of dep.render.calls) if (c.accountId && c.at >= started - 1000 && !firstCall.has(c.accountId)) firstCall.set(c.accountId, c.at);
  const toFirst = reqs.map((r) => (firstCall.get(r.tenant.accountId) ?? Number.NaN) - r.createdAt).filter(Number.isFinite);
  const toLive = reqs.map((r) => tracker.get(r.id)!.finishedAt! - r.createdAt);
  const live = reqs.filter((r) => tracker.get(r.id)!.status === 'live').length;
  const seconds = (ended - started) / 1000;
  return {
    deploys: n, live, seconds: round(seconds, 2), deploysPerSec: round(n / seconds),
    githubCallsPerDeploy: round((bench.github.calls.length - gh0) / n), renderCallsPerDeploy: round((dep.render.calls.length - rc0) / n),
    redisCommandsPerDeploy: round(perCommand.reduce((a, [, v]) => a + v, 0)),
    topRedisCommands: Object.fromEntries(perCommand.slice(0, 8).map(([k, v]) => [k, round(v)])),
    workerSockets, webSockets,
    cpuMsPerDeploy: { web: round(web, 2), worker: round(wrk, 2), total: round(web + wrk, 2) }, cpuWindowS: round(cpuWindowS, 2),
    enqueueToFirstRenderCall: lat(toFirst), enqueueToLive: lat(toLive),
  };
}

/** CPU of the web and worker processes over `seconds` with no deploy in flight (after the warm-up's are done). */
async function measureIdle(dep: Deployment, seconds: number) {
  const [w0, k0] = await Promise.all([dep.web.stats(), dep.worker!.stats()]);
  const t0 = Date.now();
  await sleep(seconds * 1000);
  const [w1, k1] = await Promise.all([dep.web.stats(), dep.worker!.stats()]);
  const s = (Date.now() - t0) / 1000;
  const workerSockets = Object.fromEntries(Object.entries(k1.extra ?? {}).filter(([k]) => k.startsWith('writes.')).map(([k, v]) => [k, round((v - (k0.extra?.[k] ?? 0)) / s, 1)]).filter(([, v]) => v !== 0));
  return { seconds: round(s, 2), webMsPerS: round(cpuMsBetween(w0, w1) / s, 2), workerMsPerS: round(cpuMsBetween(k0, k1) / s, 2), workerSockets };
}

/** Calls per Redis command so far (INFO commandstats). */
async function commandStats(dep: Deployment): Promise<Map<string, number>> {
  const info = await dep.deps.redis.info('commandstats');
  const out = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

/** Raw BullMQ: no-op jobs through a worker process with the same concurrency, on the same Redis. */
async function runNoop(bench: Bench, dep: Deployment, concurrency: number, jobs: number) {
  const name = 'bench-noop';
  const prefix = `{${dep.config.redisPrefix}-noop}`;
  const child: BenchChild = await startChild(bench.cleanup, 'noop-worker', 'noopWorkerMain.ts', {
    REDIS_URL: dep.config.redisUrl, BENCH_QUEUE: name, BENCH_QUEUE_PREFIX: prefix, BENCH_CONCURRENCY: String(concurrency),
  });
  const connection = new Redis(dep.config.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(name, { connection, prefix });
  try {
    const before = await child.stats();
    const started = Date.now();
    for (let i = 0; i < jobs; i += 500) {
      await queue.addBulk(Array.from({ length: Math.min(500, jobs - i) }, (_, j) => ({ name: 'noop', data: { n: i + j } })));
    }
    const done = await waitFor(async () => ((await child.stats()).extra?.completed ?? 0) >= jobs, 60_000, 20);
    if (!done) throw new Error('no-op BullMQ jobs did not complete in 60 s');
    const seconds = (Date.now() - started) / 1000;
    const cpuMsPerJob = cpuMsBetween(before, await child.stats()) / jobs;
    return { jobs, seconds: round(seconds, 2), jobsPerSec: round(jobs / seconds), cpuMsPerJob: round(cpuMsPerJob, 3) };
  } finally {
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    connection.disconnect();
    await child.stop();
  }
}

/**
 * What a request costs a process that handles it alone: a bare Koa JSON handler, its CPU per request
 * in a burst (25 at a time) and at the sustained phase's rate, each request then alone, with the same
 * client as the deploys (fetch, keep-alive). At 50/s the process sleeps between requests, and each one
 * pays the wake-up and cold caches that a burst shares (bench/README.md, pipeline): the floor under
 * what a lone deploy request costs the web process on this machine, measured in the same run.
 */
async function runBareKoa(bench: Bench, rate: number) {
  const bare = await startChild(bench.cleanup, 'bare-koa (pipeline)', 'bareKoaMain.ts', {});
  const get = async () => { const res = await fetch(`${String(bare.ready.url)}/`); await res.arrayBuffer(); };
  const cpuUsPerRequest = async (n: number, run: () => Promise<unknown>) => {
    const before = await bare.stats();
    await run();
    return round((cpuMsBetween(before, await bare.stats()) * 1000) / n, 1);
  };
  try {
    const burst = (n: number) => { let left = n; return Promise.all(Array.from({ length: 25 }, async () => { while (left-- > 0) await get(); })); };
    await burst(1_000); // warm-up (JIT, connections)
    const burstUs = await cpuUsPerRequest(5_000, () => burst(5_000));
    const paced = rate * 5;
    const pacedUs = await cpuUsPerRequest(paced, async () => {
      const t0 = Date.now();
      await Promise.all(Array.from({ length: paced }, async (_, i) => { await sleep(Math.max(0, t0 + (i * 1000) / rate - Date.now())); await get(); }));
    });
    return { burstUs, pacedUs, rate };
  } finally {
    await bare.stop();
  }
}

/**
 * One tenant requests a burst (their key allows 20 new services an hour, so most of it waits on the
 * per-key budget as delayed jobs), then another tenant requests one deploy: how long until it starts.
 */
async function runFairness(bench: Bench, dep: Deployment, tracker: DeploymentTracker, burstSize: number) {
  const big = await createTenant(dep.deps, bench.github, dep.render, { login: 'fair-big', repos: burstSize });
  const lone = await createTenant(dep.deps, bench.github, dep.render, { login: 'fair-lone', repos: 1 });
  const burst = await mapLimit(big.repos, 20, (repo) => requestDeploy(dep, big, repo, repo.split('/')[1]));
  const mine = await requestDeploy(dep, lone);
  const ok = await waitFor(() => tracker.get(mine.id)?.at.verifying !== undefined, 30_000, 20);
  if (!ok) throw new Error('the lone tenant\'s deploy did not start within 30 s');
  const startedAt = tracker.get(mine.id)!.at.verifying!;
  const burstStartedBefore = burst.filter((b) => (tracker.get(b.id)?.at.verifying ?? Infinity) < startedAt).length;
  await waitFinished(tracker, [mine.id], 30_000);
  return { burst: burstSize, loneDelayMs: startedAt - mine.createdAt, burstStartedBefore };
}

/** Issue 8's targets: ≤ 5 ms of orchestrator CPU per deploy, p99 < 250 ms to the first Render call at 50/s, a lone tenant started within 2 s. */
export function pipelineRows(p: PipelineResult): Row[] {
  const cpu = (r: PipelineRun) => `${fmt(r.cpuMsPerDeploy.total, 2)} ms (web ${fmt(r.cpuMsPerDeploy.web, 2)} + worker ${fmt(r.cpuMsPerDeploy.worker, 2)})`;
  const sockets = (r: PipelineRun) => ['redis-data', 'redis-queue', 'redis-deploy-worker', 'redis-deploy-worker-blocking', 'redis-status-worker', 'redis-status-worker-blocking', 'redis', 'github', 'render'].map((k) => `${k} ${fmt(r.workerSockets[`writes.${k}`] ?? 0)}`).join(', ')
    + `; new connections ${fmt(Object.entries(r.workerSockets).filter(([k]) => k.startsWith('connects.')).reduce((a, [, v]) => a + v, 0))}`
    + `; job runs ${Object.entries(r.workerSockets).filter(([k]) => k.startsWith('jobs.')).map(([k, v]) => `${k.slice(5)} ${fmt(v)}`).join(', ')}`;
  const webSockets = (r: PipelineRun) => ['redis-shared', 'redis-queue', 'redis', 'other'].map((k) => `${k} ${fmt(r.webSockets[`writes.${k}`] ?? 0)}`).join(', ');
  // Idle CPU is in a batch's figure too: what it adds per deploy over the batch's CPU window.
  const idleShare = (r: PipelineRun) => `idle ${fmt(((p.idle.webMsPerS + p.idle.workerMsPerS) * r.cpuWindowS) / r.deploys, 2)} ms of it (${fmt(r.cpuWindowS, 1)} s window)`;
  const b = p.burst;
  const s = p.sustained;
  return [
    {
      metric: `deploy pipeline, burst of ${b.deploys} (instant Render deploys)`,
      value: `${fmt(b.deploysPerSec)} deploys/s = ${fmt(p.burstVsNoop, 3)}× raw BullMQ no-op (${fmt(p.noopBullmq.jobsPerSec, 0)} jobs/s, concurrency ${p.concurrency}); enqueue → first Render call p50 ${fmt(b.enqueueToFirstRenderCall.p50Ms)} ms, p99 ${fmt(b.enqueueToFirstRenderCall.p99Ms)} ms; → live p99 ${fmt(b.enqueueToLive.p99Ms)} ms`,
      target: 'all live', verdict: verdict(b.live === b.deploys),
    },
    {
      metric: '  burst: orchestrator CPU per deploy',
      value: `${cpu(b)}, ${idleShare(b)}; a no-op BullMQ job ${fmt(p.noopBullmq.cpuMsPerJob, 3)} ms; per deploy GitHub ${fmt(b.githubCallsPerDeploy)}, Render ${fmt(b.renderCallsPerDeploy)} calls, Redis ${fmt(b.redisCommandsPerDeploy, 0)} commands (${Object.entries(b.topRedisCommands).slice(0, 4).map(([k, v]) => `${k} ${v}`).join(', ')}); the worker's socket writes per deploy: ${sockets(b)}; the web's: ${webSockets(b)}`,
      target: '≤ 5 ms', verdict: verdict(b.cpuMsPerDeploy.total <= 5),
    },
    {
      metric: `deploys at ${s.targetRate}/s for ${s.deploys / s.targetRate} s: enqueue → first Render call`,
      value: `p50 ${fmt(s.enqueueToFirstRenderCall.p50Ms)} ms, p99 ${fmt(s.enqueueToFirstRenderCall.p99Ms)} ms (${fmt(s.achievedRate)}/s requested, ${s.live}/${s.deploys} live)`,
      target: 'p99 < 250 ms', verdict: verdict(s.enqueueToFirstRenderCall.p99Ms < 250 && s.achievedRate >= s.targetRate * 0.95),
    },
    { metric: `  at ${s.targetRate}/s: orchestrator CPU per deploy`, value: `${cpu(s)}, ${idleShare(s)}; a bare Koa request ${fmt(p.bareKoa.pacedUs)} µs alone at ${p.bareKoa.rate}/s vs ${fmt(p.bareKoa.burstUs)} µs in a burst (${fmt(p.bareKoa.pacedUs / p.bareKoa.burstUs, 1)}×; the web's POST ${fmt(s.cpuMsPerDeploy.web / b.cpuMsPerDeploy.web, 1)}×); idle web ${fmt(p.idle.webMsPerS, 2)} + worker ${fmt(p.idle.workerMsPerS, 2)} ms/s (worker writes/s: ${Object.entries(p.idle.workerSockets).map(([k, v]) => `${k.slice(7)} ${fmt(v)}`).join(', ')}); the worker's socket writes per deploy: ${sockets(s)}; the web's: ${webSockets(s)}`, target: '≤ 5 ms', verdict: verdict(s.cpuMsPerDeploy.total <= 5) },
    {
      metric: `fairness: lone tenant behind a ${p.fairness.burst}-deploy burst`,
      value: `started ${fmt(p.fairness.loneDelayMs, 0)} ms after its request (${p.fairness.burstStartedBefore} burst deploys started before it)`,
      target: '≤ 2 s', verdict: verdict(p.fairness.loneDelayMs <= 2_000),
    },
  ];
}

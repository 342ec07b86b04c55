import type { Bench } from '../lib/bench.js';
import { startDeployment } from '../lib/bench.js';
import { createTenant, requestDeployAs } from '../lib/tenants.js';
import { trackDeployments } from '../lib/tracker.js';
import { mapLimit, percentile, round, sleep } from '../lib/stats.js';
import { fmt, verdict, type Row } from '../lib/rows.js';

export interface ScaleResult {
  tenants: number; deploys: number;
  /** Seconds from the first enqueue until every deploy was on Render and being watched (or the timeout), and the rate they got there. */
  rampSeconds: number; rampPerSec: number;
  peakWatched: number;
  /** Held with all of them in flight for this long (one full re-check interval of the watch policy and more). */
  holdSeconds: number;
  /** Each deploy's time on Render (created → live), seconds: at least the simulated 60 s. */
  deployDurationS: { min: number; p50: number };
  peakWorkerRssMb: number; peakWorkerHeapMb: number;
  /** Worker heap and RSS right after a forced GC with everything in flight: memory actually retained. */
  liveHeapMb: number; rssAfterGcMb: number;
  /** Redis growth per deploy in flight (all records and jobs exist from the start, watched or still queued). */
  redisBytesPerDeploy: number;
  /** Render GETs per second the worker spent watching, during the hold. */
  watchChecksPerSec: number;
  /** After Render finished them all at once: how long until each was recorded live. */
  detectLagS: { p50: number; p99: number; max: number };
  allLive: boolean;
  renderCalls: number; renderRateLimited: number;
}

const mb = (bytes: number) => round(bytes / 1024 / 1024, 0);

async function usedMemory(bench: Bench): Promise<number> {
  const info = await bench.redis.client.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

/**
 * How many in-flight deploys one worker process watches at once. Real deploys (sessions with keys in
 * Redis, GitHub verify, stack detection, Render service creation) are enqueued through the server's
 * deployment service, spread over many tenants so each key stays inside Render's default limits.
 * The simulator holds every deploy in progress (manual mode) until all of them are being watched,
 * then for at least `holdSeconds` more (longer than the watch policy's 15 s maximum interval, so every
 * deploy is re-checked with the whole population in flight) and until the last one has been on Render
 * `minDeploySeconds`, then finishes them all at once. Holding, rather than timed phases, keeps the
 * watched population from shrinking while the ramp-up is still running; every deploy still lasts at
 * least minDeploySeconds (reported as deployDurationS). Production watch policy and concurrency.
 */
export async function runScale(bench: Bench, o: { tenants: number; deploysPerTenant: number; holdSeconds: number; minDeploySeconds: number; timeoutS: number }): Promise<ScaleResult> {
  const dep = await startDeployment(bench, { name: 'scale', render: { manualDeploys: true }, worker: {} });
  try {
    const tracker = await trackDeployments(bench.cleanup, dep.config.redisUrl, dep.config.redisPrefix);
    const tenants = await mapLimit(Array.from({ length: o.tenants }, (_, i) => i), 25, (i) =>
      createTenant(dep.deps, bench.github, dep.render, { login: `scale-${i}`, repos: o.deploysPerTenant }));
    const memBefore = await usedMemory(bench);
    let peakRss = 0;
    let peakHeap = 0;
    const sampleWorker = async () => {
      const s = await dep.worker!.stats();
      peakRss = Math.max(peakRss, s.rss);
      peakHeap = Math.max(peakHeap, s.heapUsed);
    };

    // Enqueue everything through the deployment service (what POST /api/render/deploy calls).
    const total = o.tenants * o.deploysPerTenant;
    const jobs = tenants.flatMap((t) => t.repos.map((repo) => ({ t, repo })));
    const started = Date.now();
    const ids = await mapLimit(jobs, 50, async ({ t, repo }) => (await requestDeployAs(dep.deps, t, repo.split('/')[1]!, repo)).id);
    bench.log(`  ${total} deploys enqueued in ${((Date.now() - started) / 1000).toFixed(1)} s; waiting until all are watched …`);

    const deadline = started + o.timeoutS * 1000;
    let lastLog = 0;
    while (tracker.watching() < total && Date.now() < deadline) {
      await sleep(1_000);
      await sampleWorker();
      if (Date.now() - lastLog > 10_000) { lastLog = Date.now(); bench.log(`    watched ${tracker.watching()} / ${total}`); }
      if (tracker.watching() + tracker.finished() >= total) break; // some ended early (failed): all that can be watched are
    }
    const rampSeconds = (Date.now() - started) / 1000;
    const failedEarly = tracker.finished();
    const reached = tracker.watching() + failedEarly;

    // Hold: everyone in flight for at least a full re-check interval, and until even the last deploy
    // to reach Render has been there minDeploySeconds; measure memory and watch traffic meanwhile.
    const callsBefore = dep.render.calls.length;
    const holdStart = Date.now();
    const lastCreated = Math.max(...ids.map((id) => tracker.get(id)?.at.created ?? 0));
    const holdUntil = Math.max(holdStart + o.holdSeconds * 1000, lastCreated + o.minDeploySeconds * 1000);
    const memAtPeak: number[] = [];
    while (Date.now() < holdUntil) {
      await sleep(1_000);
      await sampleWorker();
      memAtPeak.push(await usedMemory(bench));
    }
    const heldSeconds = (Date.now() - holdStart) / 1000;
    const holdCalls = dep.render.calls.slice(callsBefore).filter((c) => c.method === 'GET').length;
    const watchChecksPerSec = holdCalls / ((Date.now() - holdStart) / 1000);
    const peakWatched = tracker.peakWatching();

    const live0 = await dep.worker!.stats({ gc: true });

    // Render finishes them all at once (created → build → update → live): how fast does the watch notice?
    const records = await mapLimit(ids, 100, (id) => dep.deps.deployments.get(id));
    const deployIds = records.map((r) => r?.deployId).filter((d): d is string => Boolean(d));
    for (let phase = 0; phase < 3; phase++) {
      for (const d of deployIds) { try { dep.render.advanceDeploy(d); } catch { /* already finished */ } }
    }
    const liveAt = Date.now();
    while (tracker.finishedOf(ids) < ids.length && Date.now() - liveAt < 45_000) await sleepSampling(500, sampleWorker);
    const lags = ids.map((id) => tracker.get(id)).filter((t) => t?.status === 'live' && t.finishedAt !== undefined).map((t) => (t!.finishedAt! - liveAt) / 1000);
    const onRender = ids.map((id) => tracker.get(id)).filter((t) => t?.at.created !== undefined && t.finishedAt !== undefined).map((t) => (t!.finishedAt! - t!.at.created!) / 1000);
    const live = ids.filter((id) => tracker.get(id)?.status === 'live').length;

    return {
      tenants: o.tenants, deploys: total,
      rampSeconds: round(rampSeconds), rampPerSec: round(reached / rampSeconds),
      peakWatched, holdSeconds: round(heldSeconds),
      deployDurationS: { min: round(Math.min(...onRender)), p50: round(percentile(onRender, 50)) },
      peakWorkerRssMb: mb(peakRss), peakWorkerHeapMb: mb(peakHeap), liveHeapMb: mb(live0.heapUsed), rssAfterGcMb: mb(live0.rss),
      redisBytesPerDeploy: round((Math.max(...memAtPeak) - memBefore) / total, 0),
      watchChecksPerSec: round(watchChecksPerSec),
      detectLagS: { p50: round(percentile(lags, 50)), p99: round(percentile(lags, 99)), max: round(lags.length ? Math.max(...lags) : Number.NaN) },
      allLive: live === total && failedEarly === 0,
      renderCalls: dep.render.calls.length, renderRateLimited: dep.render.calls.filter((c) => c.status === 429).length,
    };
  } finally {
    await dep.stop();
  }
}

async function sleepSampling(ms: number, sample: () => Promise<void>) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    await sleep(Math.min(1_000, end - Date.now()));
    await sample();
  }
}

/** Redis per deploy in flight: 5,000 within 40 MB of Key Value (bench's own budget, see README). */
const MAX_BYTES_PER_DEPLOY = 8 * 1024;
/** The watch policy's longest delay between two looks at a deploy (3 s × 1.2 up to 15 s). */
const MAX_RECHECK_S = 15;

export function scaleRows(c: ScaleResult): Row[] {
  return [
    {
      metric: `in-flight deploys one worker watches (${c.tenants} tenants)`,
      value: `${fmt(c.peakWatched, 0)} of ${fmt(c.deploys, 0)} at once after ${fmt(c.rampSeconds)} s (${fmt(c.rampPerSec)} deploys/s reached Render); worker RSS peak ${c.peakWorkerRssMb} MB (heap ${c.peakWorkerHeapMb} MB; after GC ${c.liveHeapMb} MB heap, ${c.rssAfterGcMb} MB RSS)`,
      target: '≥ 5,000 & RSS < 512 MB', verdict: verdict(c.peakWatched >= 5_000 && c.peakWorkerRssMb < 512),
    },
    {
      metric: `  Redis per deploy in flight (held ${fmt(c.holdSeconds, 0)} s)`,
      value: `${fmt(c.redisBytesPerDeploy, 0)} bytes; ${fmt(c.watchChecksPerSec)} Render status GETs/s; each on Render ≥ ${fmt(c.deployDurationS.min)} s (p50 ${fmt(c.deployDurationS.p50)} s)`,
      target: `≤ ${fmt(MAX_BYTES_PER_DEPLOY / 1024)} KiB`, verdict: verdict(c.redisBytesPerDeploy <= MAX_BYTES_PER_DEPLOY),
    },
    {
      metric: '  Render finished all at once → recorded live',
      value: `p50 ${fmt(c.detectLagS.p50)} s, p99 ${fmt(c.detectLagS.p99)} s, max ${fmt(c.detectLagS.max)} s${c.allLive ? '' : ' (NOT all live)'}`,
      target: `all live, p99 ≤ ${MAX_RECHECK_S} s`, verdict: verdict(c.allLive && c.detectLagS.p99 <= MAX_RECHECK_S),
    },
  ];
}

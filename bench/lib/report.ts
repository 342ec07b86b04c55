import type { ApiResult } from '../scenarios/api.js';
import type { ServicesResult } from '../scenarios/services.js';
import type { SentinelResult } from '../scenarios/sentinel.js';
import type { PipelineResult } from '../scenarios/pipeline.js';
import type { ScaleResult } from '../scenarios/scale.js';
import type { SessionsResult } from '../scenarios/sessions.js';
import type { LogTailResult } from '../scenarios/logTail.js';
import type { DetectResult } from '../scenarios/detect.js';
import type { TelemetryResult } from '../scenarios/telemetry.js';

export interface Row {
  metric: string;
  value: string;
  /** The target, when the brief sets one. */
  target?: string;
  verdict?: 'PASS' | 'MISS';
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits }) : 'n/a');
const verdict = (ok: boolean): Row['verdict'] => (ok ? 'PASS' : 'MISS');

/** The summary table: one row per figure, with the brief's targets marked PASS/MISS. */
export function buildTable(results: Record<string, unknown>): Row[] {
  const rows: Row[] = [];
  const failed = (name: string) => {
    const r = results[name] as { error?: string } | undefined;
    if (r?.error) rows.push({ metric: `${name}: scenario failed`, value: r.error.slice(0, 80), verdict: 'MISS' });
    return !r || Boolean(r.error);
  };

  if (!failed('api')) {
    const a = results.api as ApiResult;
    const cpu = (f: ApiResult['bareKoa']) => `CPU/req: server ${f.serverCpuUs} µs, Redis ${f.redisCpuUs} µs, autocannon ${f.loadGenCpuUs} µs`;
    rows.push({ metric: `bare Koa JSON (${a.connections} conn, ${a.durationS} s)`, value: `${fmt(a.bareKoa.reqPerSec, 0)} req/s, p50 ${a.bareKoa.p50Ms} ms, p99 ${a.bareKoa.p99Ms} ms` });
    rows.push({ metric: '  bare Koa CPU', value: cpu(a.bareKoa) });
    for (const [label, f] of [['GET /api/session', a.session], ['GET /api/render/status', a.renderStatus]] as const) {
      rows.push({
        metric: `${label} (authenticated)`,
        value: `${fmt(f.reqPerSec, 0)} req/s = ${fmt(f.ratio, 2)}× bare Koa; p50 ${f.p50Ms} ms, p99 ${f.p99Ms} ms${f.non2xx || f.errors ? `; ${f.non2xx} non-2xx, ${f.errors} errors` : ''}`,
        target: '≥ 0.5× bare Koa', verdict: verdict(f.ratio >= 0.5 && f.non2xx === 0),
      });
      rows.push({ metric: `  ${label} CPU`, value: cpu(f) });
      rows.push({
        metric: `  ${label}: session reads from Redis`, value: `${fmt(f.redisReadsPerRequest, 3)} HMGET per request (the web process's session cache answers the rest)`,
        target: '< 0.05', verdict: verdict(f.redisReadsPerRequest < 0.05),
      });
    }
  }

  if (!failed('services')) {
    const v = results.services as ServicesResult;
    rows.push({
      metric: `GET /api/render/services, ${v.users} users × 1/${v.pollEveryMs / 1000} s (Render +${v.renderLatencyMs} ms)`,
      value: `p50 ${fmt(v.p50Ms)} ms, p99 ${fmt(v.p99Ms)} ms over ${fmt(v.requests, 0)} requests${v.non200 ? `, ${v.non200} non-200` : ''}`,
    });
    rows.push({
      metric: '  Render GETs per user per minute',
      value: `mean ${fmt(v.renderGetsPerUserMin.mean)}, max ${fmt(v.renderGetsPerUserMin.max)}`,
      target: '< 400', verdict: verdict(v.renderGetsPerUserMin.max < 400),
    });
  }

  if (!failed('pipeline')) {
    const p = results.pipeline as PipelineResult;
    rows.push({
      metric: `deploy pipeline, burst of ${p.burst.deploys} (instant Render deploys)`,
      value: `${fmt(p.burst.deploysPerSec)} deploys/s = ${fmt(p.burstVsNoop, 3)}× raw BullMQ no-op (${fmt(p.noopBullmq.jobsPerSec, 0)} jobs/s, concurrency ${p.concurrency})`,
    });
    rows.push({ metric: '  burst: enqueue → first Render call', value: `p50 ${fmt(p.burst.enqueueToFirstRenderCall.p50Ms)} ms, p99 ${fmt(p.burst.enqueueToFirstRenderCall.p99Ms)} ms; → live p99 ${fmt(p.burst.enqueueToLive.p99Ms)} ms` });
    const cpu = (r: PipelineResult['burst']) => `${fmt(r.cpuMsPerDeploy.total, 2)} ms (web ${fmt(r.cpuMsPerDeploy.web, 2)} + worker ${fmt(r.cpuMsPerDeploy.worker, 2)})`;
    rows.push({ metric: '  burst: orchestrator CPU per deploy', value: `${cpu(p.burst)}; a no-op BullMQ job: ${fmt(p.noopBullmq.cpuMsPerJob, 3)} ms`, target: '≤ 5 ms', verdict: verdict(p.burst.cpuMsPerDeploy.total <= 5) });
    rows.push({ metric: '  burst: calls per deploy', value: `GitHub ${fmt(p.burst.githubCallsPerDeploy)}, Render ${fmt(p.burst.renderCallsPerDeploy)}, Redis ${fmt(p.burst.redisCommandsPerDeploy, 0)} commands (incl. inside Lua; ${Object.entries(p.burst.topRedisCommands).slice(0, 4).map(([k, v]) => `${k} ${v}`).join(', ')})` });
    const s = p.sustained;
    rows.push({
      metric: `deploys at ${s.targetRate}/s for ${s.deploys / s.targetRate} s: enqueue → first Render call`,
      value: `p50 ${fmt(s.enqueueToFirstRenderCall.p50Ms)} ms, p99 ${fmt(s.enqueueToFirstRenderCall.p99Ms)} ms (${fmt(s.achievedRate)}/s requested, ${s.live}/${s.deploys} live)`,
      target: 'p99 < 250 ms', verdict: verdict(s.enqueueToFirstRenderCall.p99Ms < 250 && s.achievedRate >= s.targetRate * 0.95),
    });
    rows.push({ metric: `  at ${s.targetRate}/s: orchestrator CPU per deploy`, value: cpu(s), target: '≤ 5 ms', verdict: verdict(s.cpuMsPerDeploy.total <= 5) });
    rows.push({
      metric: `fairness: lone tenant behind a ${p.fairness.burst}-deploy burst`,
      value: `started ${fmt(p.fairness.loneDelayMs, 0)} ms after its request (${p.fairness.burstStartedBefore} burst deploys started before it)`,
      target: '≤ 2 s', verdict: verdict(p.fairness.loneDelayMs <= 2_000),
    });
  }

  if (!failed('scale')) {
    const c = results.scale as ScaleResult;
    rows.push({
      metric: `in-flight deploys one worker watches (${c.tenants} tenants)`,
      value: `${fmt(c.peakWatched, 0)} of ${fmt(c.deploys, 0)} at once; worker RSS peak ${c.peakWorkerRssMb} MB (heap ${c.peakWorkerHeapMb} MB; after GC: ${c.liveHeapMb} MB heap, ${c.rssAfterGcMb} MB RSS)`,
      target: '≥ 5,000 & RSS < 512 MB', verdict: verdict(c.peakWatched >= 5_000 && c.peakWorkerRssMb < 512),
    });
    rows.push({ metric: '  ramp (enqueue → all watched)', value: `${fmt(c.rampSeconds)} s = ${fmt(c.rampPerSec)} deploys/s started; each on Render ≥ ${fmt(c.deployDurationS.min)} s (p50 ${fmt(c.deployDurationS.p50)} s)` });
    rows.push({ metric: `  while all in flight (${fmt(c.holdSeconds, 0)} s)`, value: `${fmt(c.watchChecksPerSec)} Render status GETs/s; Redis ${fmt(c.redisBytesPerWatched, 0)} bytes per watched deploy` });
    rows.push({
      metric: '  Render finished all at once → recorded live',
      value: `p50 ${fmt(c.detectLagS.p50)} s, p99 ${fmt(c.detectLagS.p99)} s, max ${fmt(c.detectLagS.max)} s${c.allLive ? '' : ' (NOT all live)'}`,
      verdict: c.allLive ? undefined : 'MISS',
    });
  }

  if (!failed('sessions')) {
    const m = results.sessions as SessionsResult;
    rows.push({ metric: `Redis memory per idle session (${fmt(m.sessions, 0)} sessions)`, value: `${fmt(m.bytesPerSession, 0)} bytes (${m.keysPerSession} keys each)` });
  }

  if (!failed('sentinel')) {
    const v = results.sentinel as SentinelResult;
    rows.push({
      metric: `Sentinel, ${fmt(v.users, 0)} watching users × ${v.servicesPerUser} services (Render +${v.renderLatencyMs} ms, ${v.windowS} s)`,
      value: `Render calls per user per minute: mean ${fmt(v.renderCallsPerUserMin.mean, 2)}, max ${fmt(v.renderCallsPerUserMin.max, 2)}${v.renderRateLimited ? `, ${v.renderRateLimited} × 429` : ''}`,
      target: '≤ 40 (10% of 400 reads/min)', verdict: verdict(v.renderCallsPerUserMin.max <= 40 && v.renderRateLimited === 0),
    });
    rows.push({ metric: '  worker CPU per watching user per minute', value: `${fmt(v.workerCpuMsPerUserMin, 3)} ms`, target: '< 5 ms', verdict: verdict(v.workerCpuMsPerUserMin < 5) });
  }

  if (!failed('logs')) {
    const l = results.logs as LogTailResult;
    // Equal up to one poll at a window's edge: a per-tab poller would multiply the calls by the tabs.
    const slack = 60 / l.windowS;
    rows.push({
      metric: `log tail fan-out: ${l.clients} SSE clients on one deployment (${l.windowS} s)`,
      value: `Render log calls ${fmt(l.manyClientsPerMin)}/min vs ${fmt(l.oneClientPerMin)}/min for one client; every tab got ${l.linesReceived.min === l.linesAppended ? 'all' : `${l.linesReceived.min}–${l.linesReceived.max} of`} ${l.linesAppended} new lines${l.renderRateLimited ? `; ${l.renderRateLimited} 429s` : ''}`,
      target: 'equal', verdict: verdict(l.manyClientsPerMin <= l.oneClientPerMin + slack && l.linesReceived.min === l.linesAppended && l.renderRateLimited === 0),
    });
  }

  if (!failed('detect')) {
    const d = results.detect as DetectResult;
    rows.push({
      metric: 'stack detection, worst adversarial 256 KiB file',
      value: `${fmt(d.worst.cpuMsMedian, 2)} ms CPU (wall ${fmt(d.worst.wallMsMedian, 2)} ms), median of ${d.runs}: ${d.worst.name}; ${d.files} files`,
      target: '< 50 ms', verdict: verdict(d.worst.cpuMsMedian < 50),
    });
  }

  if (!failed('telemetry')) {
    const m = results.telemetry as TelemetryResult;
    rows.push({
      metric: `telemetry overhead per request (${fmt(m.requests, 0)} requests, ${fmt(m.users, 0)} users)`,
      value: `${fmt(m.cpuUsPerRequest, 2)} µs CPU (guard lookup, recording, flushes); Redis ${fmt(m.redisCpuUsPerRequest, 2)} µs`,
      target: '< 10 µs', verdict: verdict(m.cpuUsPerRequest < 10),
    });
    rows.push({
      metric: '  Redis bytes per active user',
      value: `${fmt(m.bytesPerActiveUserDay / 1024)} KiB for a day of 8 h × 10 req/min (${fmt(m.hourBytesPerActiveUserDay / 1024)} KiB of it hourly per-route); ${fmt(m.bytesPerActiveUserRetained / 1024)} KiB with 14 days of hourly counts`,
    });
  }

  const limited = (['services', 'pipeline', 'scale'] as const).map((k) => results[k] as { renderRateLimited?: number; renderCalls?: number } | undefined).filter((r) => r && r.renderCalls !== undefined);
  if (limited.length) {
    const calls = limited.reduce((a, r) => a + (r!.renderCalls ?? 0), 0);
    const n429 = limited.reduce((a, r) => a + (r!.renderRateLimited ?? 0), 0);
    rows.push({ metric: '429s from Render (simulator at default limits)', value: `${n429} of ${fmt(calls, 0)} calls`, target: '0', verdict: verdict(n429 === 0) });
  }
  return rows;
}

export function printTable(rows: Row[]): void {
  const w0 = Math.max(6, ...rows.map((r) => r.metric.length));
  const w1 = Math.max(5, ...rows.map((r) => r.value.length));
  const w2 = Math.max(6, ...rows.map((r) => (r.target ?? '').length));
  const line = (a: string, b: string, c: string, d: string) => `${a.padEnd(w0)} | ${b.padEnd(w1)} | ${c.padEnd(w2)} | ${d}`;
  process.stdout.write(`\n${line('metric', 'value', 'target', 'result')}\n${'-'.repeat(w0 + w1 + w2 + 16)}\n`);
  for (const r of rows) process.stdout.write(`${line(r.metric, r.value, r.target ?? '', r.verdict ?? '')}\n`);
  process.stdout.write('\n');
}

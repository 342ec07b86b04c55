/**
 * `npm run bench`: the orchestrator's performance, measured in one run against baselines measured in
 * the same run (bare Koa, raw BullMQ), on a private redis-server and the simulators. Prints a table and
 * writes bench/results/latest.json. BENCH_ONLY=api,bearer,services,pipeline,scale,sessions,logs,detect,sentinel,telemetry runs a subset;
 * BENCH_CPU_PROF=<dir> writes .cpuprofile files of every web/worker child.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { createCleanup } from './lib/cleanup.js';
import { startBench } from './lib/bench.js';
import { runApi } from './scenarios/api.js';
import { runBearer } from './scenarios/bearer.js';
import { runServices } from './scenarios/services.js';
import { runPipeline } from './scenarios/pipeline.js';
import { runScale } from './scenarios/scale.js';
import { runSessions } from './scenarios/sessions.js';
import { runLogTail } from './scenarios/logTail.js';
import { runDetect } from './scenarios/detect.js';
import { runTelemetry } from './scenarios/telemetry.js';
import { runSentinel } from './scenarios/sentinel.js';
import { buildTable, printTable } from './lib/report.js';

const SCENARIOS = ['sessions', 'api', 'bearer', 'services', 'pipeline', 'scale', 'logs', 'detect', 'sentinel', 'telemetry'] as const;
type Scenario = (typeof SCENARIOS)[number];

const only = new Set((process.env.BENCH_ONLY ?? SCENARIOS.join(',')).split(',').map((s) => s.trim()).filter(Boolean));
const cleanup = createCleanup();
const started = Date.now();
// Other work on the machine skews every figure: recorded, and warned about below.
const loadAtStart = loadavg().map((x) => Math.round(x * 10) / 10);
const log = (line: string) => process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    log(`${signal}: stopping everything`);
    void cleanup.runAll().finally(() => process.exit(130));
  });
}

// A crash anywhere still stops every child process and server this run started.
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.once(event, (err: unknown) => {
    log(`${event}: ${(err as Error)?.stack ?? String(err)}`);
    void cleanup.runAll().finally(() => process.exit(1));
  });
}

/** A fixed piece of CPU work, timed: how fast this machine was when the run started and ended. */
function machineCheckUs(): number {
  const data = Buffer.alloc(1024, 7);
  const t0 = performance.now();
  for (let i = 0; i < 20_000; i++) createHash('sha256').update(data).digest();
  return Math.round(((performance.now() - t0) * 1000) / 20_000 * 100) / 100;
}
const checkAtStart = machineCheckUs();

const results: Record<string, unknown> = {};
let failed = false;
try {
  const bench = await startBench(cleanup, { cpuProfDir: process.env.BENCH_CPU_PROF, log });
  const run = async <T>(name: Scenario, fn: () => Promise<T>) => {
    if (!only.has(name) || interrupted) return;
    log(`${name}: start`);
    const t0 = Date.now();
    try {
      results[name] = await fn();
      log(`${name}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    } catch (err) {
      failed = true;
      results[name] = { error: (err as Error).message };
      log(`${name}: FAILED: ${(err as Error).stack ?? String(err)}`);
    }
  };
  // Quiet Redis first: the memory-per-session figure needs nothing else writing meanwhile.
  await run('sessions', () => runSessions(bench, { sessions: 2_000 }));
  await run('api', () => runApi(bench, { connections: 50, warmupS: 2, durationS: 8, users: 50 }));
  await run('bearer', () => runBearer(bench, { connections: 50, warmupS: 2, durationS: 8, users: 20, deploymentsPerUser: 5 }));
  await run('services', () => runServices(bench, { users: 200, pollEveryMs: 1_000, durationS: 20, renderLatencyMs: 80, servicesPerUser: 3 }));
  await run('pipeline', () => runPipeline(bench, { concurrency: 50, burst: 200, rate: 50, sustainS: 10, noopJobs: 5_000, fairnessBurst: 200 }));
  await run('detect', () => runDetect({ runs: 7 }));
  await run('telemetry', () => runTelemetry(bench, { requests: 200_000, users: 2_000 }));
  await run('scale', () => runScale(bench, { tenants: 500, deploysPerTenant: 10, holdSeconds: 20, minDeploySeconds: 60, timeoutS: 110 }));
  await run('logs', () => runLogTail(bench, { clients: 100, windowS: 30, warmupS: 4 }));
  await run('sentinel', () => runSentinel(bench, { users: 1_000, servicesPerUser: 2, windowS: 75, renderLatencyMs: 80 }));
} catch (err) {
  failed = true;
  log(`bench setup failed: ${(err as Error).stack ?? String(err)}`);
} finally {
  await cleanup.runAll();
}

const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version, loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadavg().map((x) => Math.round(x * 10) / 10), sha256of1KiBUs: { atStart: checkAtStart, atEnd: machineCheckUs() } };
const table = buildTable(results);
const out = { at: new Date().toISOString(), totalSeconds: Math.round((Date.now() - started) / 1000), machine, table, results };
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/latest.json', import.meta.url), `${JSON.stringify(out, null, 2)}\n`);
printTable(table);
log(`machine: ${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}; load average ${loadAtStart[0]} → ${machine.loadAverageAtEnd[0]}; sha256(1 KiB) ${machine.sha256of1KiBUs.atStart} → ${machine.sha256of1KiBUs.atEnd} µs`);
if (Math.max(loadAtStart[0] ?? 0, machine.loadAverageAtEnd[0] ?? 0) > cpus().length) {
  log(`WARNING: load average ${loadAtStart[0]} → ${machine.loadAverageAtEnd[0]} on ${cpus().length} CPUs: other processes competed with the bench; figures are pessimistic`);
}
log(`results written to bench/results/latest.json (${out.totalSeconds} s in all)`);
process.exit(failed ? 1 : 0);

import { fork, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Cleanup } from './cleanup.js';
import type { ChildStats } from '../children/ipc.js';

export type { ChildStats } from '../children/ipc.js';

export interface BenchChild {
  name: string;
  pid: number;
  ready: Record<string, unknown>;
  /** CPU time and memory, as the child itself reports them. */
  stats(opts?: { gc?: boolean }): Promise<ChildStats>;
  /** Last lines the child wrote to stderr (for failure reports). */
  stderrTail(): string;
  stop(): Promise<void>;
}

const CHILD_DIR = new URL('../children/', import.meta.url);

/**
 * Where a child's main is: bench/children/<name>.ts run under tsx, or, with BENCH_BUILD=dist/bench,
 * its tsc build (`npx tsc -p bench/tsconfig.compiled.json`) run by plain node, as production runs
 * web and worker (`npm run start:web`, `start:worker`). Every child of the run, baselines included.
 */
function childMain(file: string): URL {
  const build = process.env.BENCH_BUILD;
  if (build && /^\w+\.ts$/.test(file)) return pathToFileURL(resolve(build, 'bench/children', file.replace(/\.ts$/, '.js')));
  return new URL(file, CHILD_DIR);
}

/**
 * Start bench/children/<file> as its own Node process (node --import=tsx), so the load generator never
 * shares an event loop with the code under test. Stdout (the JSON access log) goes to /dev/null: it is
 * still produced, as in production, but the bench does not pay for reading it.
 */
export async function startChild(cleanup: Cleanup, name: string, file: string, env: Record<string, string>, opts: { cpuProfDir?: string } = {}): Promise<BenchChild> {
  // BENCH_NODE_ARGS adds Node flags to every child, e.g. --perf-basic-prof for `perf record -p <pid>`.
  // A compiled child (.js, as production runs: tsc's output) runs without tsx, whose esbuild transform
  // (keepNames) adds an Object.defineProperty per named closure made at run time.
  const main = childMain(file);
  const execArgv = [...(main.pathname.endsWith('.js') ? [] : ['--import=tsx']), '--expose-gc', ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  if (opts.cpuProfDir) execArgv.push('--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`, `--cpu-prof-name=${name}-\${pid}.cpuprofile`);
  const proc: ChildProcess = fork(fileURLToPath(main), [], {
    env: { PATH: process.env.PATH ?? '', ...env },
    execArgv,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  const tail: string[] = [];
  proc.stderr!.on('data', (d) => { tail.push(String(d)); if (tail.length > 50) tail.shift(); });

  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const stop = cleanup.add(`${name} (pid ${proc.pid})`, async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    if (proc.connected) proc.send({ type: 'stop' });
    else proc.kill('SIGTERM');
    const killer = setTimeout(() => proc.kill('SIGKILL'), 12_000);
    await exited;
    clearTimeout(killer);
  });

  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start in 30 s: ${tail.join('')}`)), 30_000);
    proc.on('message', (m: { type?: string }) => { if (m?.type === 'ready') { clearTimeout(timer); resolve(m); } });
    proc.once('exit', (code, signal) => { clearTimeout(timer); reject(new Error(`${name} exited (${code ?? signal}) before it was ready: ${tail.join('')}`)); });
  }).catch(async (err) => { await stop(); throw err; });

  let seq = 0;
  return {
    name, pid: proc.pid!, ready,
    stats(o = {}) {
      const id = ++seq;
      return new Promise<ChildStats>((resolve, reject) => {
        const timer = setTimeout(() => { proc.off('message', onMessage); reject(new Error(`${name}: no stats answer`)); }, 10_000);
        const onMessage = (m: { type?: string; id?: number; stats?: ChildStats }) => {
          if (m?.type === 'stats' && m.id === id) { clearTimeout(timer); proc.off('message', onMessage); resolve(m.stats!); }
        };
        proc.on('message', onMessage);
        proc.send({ type: 'stats', id, gc: o.gc ?? false });
      });
    },
    stderrTail: () => tail.join('').slice(-4_000),
    stop,
  };
}

/** CPU milliseconds a child spent between two stats snapshots. */
export const cpuMsBetween = (a: ChildStats, b: ChildStats) => (b.cpuUserUs + b.cpuSystemUs - a.cpuUserUs - a.cpuSystemUs) / 1000;

import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AppConfig } from '../../server/config/env.js';

const WORKER_MAIN = fileURLToPath(new URL('./workerMain.ts', import.meta.url));

/**
 * Node's arguments that run our TypeScript in a process a test starts: Node's own type stripping with
 * test/helpers/typescript.mjs (`.js` imports resolved to their `.ts` source, the compile cache). ava.config.js
 * gives test files the same. Tests of `npm start` and `npm run admin` run those under tsx, as the scripts do.
 */
export const TYPESCRIPT_ARGS: readonly string[] = [`--import=${new URL('./typescript.mjs', import.meta.url).href}`];

/**
 * How long a forked entry point may take to say it is ready. Starting on a 2-core machine
 * shared with other suites can take tens of seconds; this bounds a child that hangs, it is not an
 * assertion about speed (ava's own test timeout still applies).
 */
export const CHILD_START_TIMEOUT_MS = 110_000;

/** The environment that reproduces a stack's config in another process. */
export function envFor(config: AppConfig, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '', NODE_ENV: 'test', LOG_LEVEL: 'info',
    PORT: String(config.port), BASE_URL: config.baseUrl, SECRET_KEY: config.secretKey.toString('hex'),
    REDIS_URL: config.redisUrl, REDIS_PREFIX: config.redisPrefix,
    GITHUB_CLIENT_ID: config.github.clientId, GITHUB_CLIENT_SECRET: config.github.clientSecret,
    GITHUB_OAUTH_URL: config.github.oauthUrl, GITHUB_API_URL: config.github.apiUrl, RENDER_API_URL: config.renderApiUrl,
    ANOMALY_DETECTION: String(config.telemetry.detection), GITHUB_RETRIES: String(config.github.retries),
    ...extra,
  };
}

/** The child ended before it said it was ready (a crash test's worker may die at a crash point that early). */
export class ChildExitedEarly extends Error {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  constructor(code: number | null, signal: NodeJS.Signals | null, output: string) {
    super(`child exited (${signal ?? code}) before it was ready: ${output}`);
    this.code = code;
    this.signal = signal;
    this.name = 'ChildExitedEarly';
  }
}

interface ReadyChild<M> { proc: ChildProcess; output: string[]; message: M; stop(signal?: NodeJS.Signals): Promise<number | null> }

/** Send `signal` unless the child already ended; resolves with its exit code once it has. */
function stopChild(proc: ChildProcess, signal: NodeJS.Signals): Promise<number | null> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve(proc.exitCode);
    proc.once('exit', (code) => resolve(code));
    proc.kill(signal);
  });
}

/**
 * Fork a test entry point (TypeScript: `TYPESCRIPT_ARGS`) and wait for its first IPC message. `onSpawn` gets the
 * child's stop before anything is awaited, so whoever registers it there (a teardown, an env's
 * list) ends it even when the start fails; a child that does not start in time is killed here.
 */
export async function forkReady<M>(main: string, env: Record<string, string>, onSpawn?: (stop: (signal?: NodeJS.Signals) => Promise<number | null>) => void): Promise<ReadyChild<M>> {
  const output: string[] = [];
  const proc = fork(main, [], { env, execArgv: [...TYPESCRIPT_ARGS], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const stop = (signal: NodeJS.Signals = 'SIGKILL') => stopChild(proc, signal);
  onSpawn?.(stop);
  proc.stdout!.on('data', (d) => output.push(String(d)));
  proc.stderr!.on('data', (d) => output.push(String(d)));
  try {
    const message = await new Promise<M>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${main} did not start within ${CHILD_START_TIMEOUT_MS} ms: ${output.join('')}`)), CHILD_START_TIMEOUT_MS);
      proc.once('message', (m: M) => { clearTimeout(timer); resolve(m); });
      proc.once('exit', (code, signal) => { clearTimeout(timer); reject(new ChildExitedEarly(code, signal, output.join(''))); });
    });
    return { proc, output, message, stop };
  } catch (err) {
    await stop('SIGKILL');
    throw err;
  }
}

export interface ChildWorker {
  proc: ChildProcess; output: string[]; kill(signal?: NodeJS.Signals): Promise<number | null>;
  /** Its deploy worker takes no job once this resolves (runs in flight finished first). */
  pause(): Promise<void>;
  resume(): Promise<void>;
}

/** Send `msg` to a child worker and wait for its answer naming `reply` (workerMain.ts). */
function ask(proc: ChildProcess, msg: object, reply: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: Record<string, unknown>) => { if (m?.[reply]) { done(); resolve(); } };
    const onExit = () => { done(); reject(new Error(`worker exited before answering ${JSON.stringify(msg)}`)); };
    const done = () => { proc.off('message', onMessage); proc.off('exit', onExit); };
    proc.on('message', onMessage);
    proc.once('exit', onExit);
    proc.send(msg);
  });
}

/**
 * Start a worker as a real child process, resolved once it is consuming jobs. On any failure to start
 * the child is killed before this rejects (ChildExitedEarly when it died by itself).
 */
export async function spawnWorker(config: AppConfig, options: object, extraEnv: Record<string, string> = {}, onSpawn?: (stop: (signal?: NodeJS.Signals) => Promise<number | null>) => void): Promise<ChildWorker> {
  const child = await forkReady(WORKER_MAIN, { ...envFor(config, extraEnv), TEST_WORKER_OPTIONS: JSON.stringify(options) }, onSpawn);
  return {
    proc: child.proc, output: child.output, kill: (signal = 'SIGKILL') => child.stop(signal),
    pause: () => ask(child.proc, { pause: true }, 'paused'), resume: () => ask(child.proc, { resume: true }, 'resumed'),
  };
}

/**
 * Spawns worker processes for one test, every one of them killed (SIGKILL) when the test ends, however it ends
 * (an assertion, a throw, a timeout).
 */
export function workerSpawner(t: { teardown(fn: () => Promise<void>): void }, config: AppConfig): (options: object) => Promise<ChildWorker> {
  const stops = new Set<() => Promise<unknown>>();
  t.teardown(async () => { await Promise.all([...stops].map((stop) => stop())); });
  return (options) => spawnWorker(config, options, {}, (stop) => stops.add(() => stop('SIGKILL')));
}

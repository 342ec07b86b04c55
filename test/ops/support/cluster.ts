import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { loadConfig, type AppConfig } from '../../../server/config/env.js';
import { startGitHubSimulator, type GitHubSimulator } from '../../../sandbox/github/index.js';
import { startRenderSimulator, type RenderSimulator, type RenderSimOptions } from '../../../sandbox/render/index.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis.js';
import { freePort } from '../../helpers/ports.js';
import { envFor, forkReady, spawnWorker, TYPESCRIPT_ARGS, type ChildWorker } from '../../helpers/processes.js';
import { FAST_WATCH } from '../../helpers/pipeline.js';

const WEB_MAIN = fileURLToPath(new URL('../../helpers/webMain.ts', import.meta.url));

/** Worker timings for multi-process tests: fast re-checks, short locks so a lost worker's job moves on quickly. */
export const WORKER_OPTIONS = {
  watch: FAST_WATCH, retryBackoffMs: 50, renderTimeoutMs: 2_000,
  workerOptions: { concurrency: 10, lockDurationMs: 2_000, stalledIntervalMs: 500 },
};

const QUICK_DEPLOYS: RenderSimOptions = { phaseMs: { created: 100, build_in_progress: 500, pre_deploy_in_progress: 0, update_in_progress: 300 } };

export interface ChildWeb { url: string; proc: ChildProcess; output: string[]; stop(signal?: NodeJS.Signals): Promise<number | null> }

export interface OpsEnv {
  config: AppConfig;
  redis: TestRedis;
  github: GitHubSimulator;
  render: RenderSimulator;
  /** A web process on its own port; the first one's URL is BASE_URL (like one public name for all). */
  spawnWeb(opts?: { shutdownMs?: number; env?: Record<string, string> }): Promise<ChildWeb>;
  spawnWorker(options?: object): Promise<ChildWorker>;
  close(): Promise<void>;
}

/** Real Redis (optionally persistent), both simulators, and helpers to run web and worker processes. */
export async function startOpsEnv(opts: { persistence?: boolean; renderOptions?: RenderSimOptions } = {}): Promise<OpsEnv> {
  const [redis, github, render, basePort] = await Promise.all([
    startTestRedis({ persistence: opts.persistence }), startGitHubSimulator(), startRenderSimulator(opts.renderOptions ?? QUICK_DEPLOYS), freePort(),
  ]);
  const config = loadConfig({
    NODE_ENV: 'test', PORT: String(basePort), BASE_URL: `http://127.0.0.1:${basePort}`,
    SECRET_KEY: randomBytes(32).toString('hex'), REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix,
    GITHUB_CLIENT_ID: github.clientId, GITHUB_CLIENT_SECRET: github.clientSecret,
    GITHUB_OAUTH_URL: github.oauthUrl, GITHUB_API_URL: github.apiUrl, RENDER_API_URL: render.url,
    GITHUB_RETRIES: 'false', // deterministic: no retries, no write pacing (the suites that test them build their own client)
  });
  const children: Array<{ stop(signal?: NodeJS.Signals): Promise<unknown> }> = [];
  let first = true;

  return {
    config, redis, github, render,
    async spawnWeb(o = {}) {
      const port = first ? basePort : await freePort();
      first = false;
      // Registered before it starts, so close() ends it even when starting fails.
      return forkWeb({ ...envFor(config, { PORT: String(port), ...o.env }), TEST_WEB_OPTIONS: JSON.stringify({ shutdownMs: o.shutdownMs }) }, (stop) => children.push({ stop }));
    },
    async spawnWorker(options = WORKER_OPTIONS) {
      return spawnWorker(config, options, {}, (stop) => children.push({ stop }));
    },
    async close() {
      await Promise.all(children.map((c) => c.stop('SIGKILL')));
      await Promise.all([github.close(), render.close()]);
      await redis.stop();
    },
  };
}

/** A web process (test/helpers/webMain.ts); `onSpawn` gets its stop before it has started. */
async function forkWeb(env: Record<string, string>, onSpawn: (stop: (signal?: NodeJS.Signals) => Promise<number | null>) => void): Promise<ChildWeb> {
  const child = await forkReady<{ url: string }>(WEB_MAIN, env, onSpawn);
  return { url: child.message.url, proc: child.proc, output: child.output, stop: (signal = 'SIGTERM') => child.stop(signal) };
}

/** JSON log lines a child printed with this message. */
export function logLines(output: string[], msg: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of output.join('').split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry.msg === msg) out.push(entry);
    } catch { /* a partial line */ }
  }
  return out;
}

/**
 * Bound for waits on progress in multi-process tests (deploys finishing, a process listening, a
 * stream ending): only against a hang. On a 2-core machine shared with other suites the same run
 * takes several times longer than on a quiet one, so this is no claim about speed.
 */
export const PROGRESS_WAIT_MS = 90_000;
/** Per-test bound for tests that start child processes (start-up under load included). */
export const PROCESS_TEST_TIMEOUT_MS = 240_000;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until check() is true (bounded); returns whether it became true. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 20_000, everyMs = 50): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await sleep(everyMs);
  }
}

/** A production entry point (server/index.ts, workers/index.ts) as its own process (our TypeScript run as tests run it), its output gathered. */
export function startEntry(path: string, processEnv: Record<string, string>) {
  const output: string[] = [];
  const proc = spawn(process.execPath, [...TYPESCRIPT_ARGS, fileURLToPath(new URL(`../../../${path}`, import.meta.url))], { env: processEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout.on('data', (d) => output.push(String(d)));
  proc.stderr.on('data', (d) => output.push(String(d)));
  const exit = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { proc, output, exit };
}

/** How many times Redis ran a command so far (INFO commandstats). */
export async function commandCalls(env: OpsEnv, command: string): Promise<number> {
  const info = await env.redis.client.info('commandstats');
  const line = info.split('\n').find((l) => l.startsWith(`cmdstat_${command}:`));
  return Number(/calls=(\d+)/.exec(line ?? '')?.[1] ?? 0);
}

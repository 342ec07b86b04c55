import { randomBytes } from 'node:crypto';
import { startTestRedis, type TestRedis } from '../../test/helpers/redis.js';
import { freePort } from '../../test/helpers/ports.js';
import { startGitHubSimulator, type GitHubSimulator } from '../../sandbox/github/index.js';
import { headsFromGitHub } from '../../sandbox/seed.js';
import { startRenderSimulator, type RenderSimOptions, type RenderSimulator } from '../../sandbox/render/index.js';
import type { AppConfig } from '../../server/config/env.js';
import type { AppDeps } from '../../server/deps.js';
import type { Cleanup } from './cleanup.js';
import { startChild, type BenchChild } from './children.js';
import { appEnv, configOf } from './env.js';
import { serverSide } from './tenants.js';

/** What every scenario shares: the cleanup registry, one private redis-server, the GitHub simulator. */
export interface Bench {
  cleanup: Cleanup;
  redis: TestRedis;
  github: GitHubSimulator;
  /** Write child CPU profiles here (BENCH_CPU_PROF=dir). */
  cpuProfDir?: string;
  log(line: string): void;
}

export async function startBench(cleanup: Cleanup, opts: { cpuProfDir?: string; log: (line: string) => void }): Promise<Bench> {
  const redis = await startTestRedis();
  cleanup.add('redis-server', () => redis.stop());
  const github = await startGitHubSimulator();
  cleanup.add('GitHub simulator', () => github.close());
  return { cleanup, redis, github, cpuProfDir: opts.cpuProfDir, log: opts.log };
}

/**
 * One orchestrator deployment for a scenario: its own Render simulator (options differ per scenario),
 * its own Redis prefix, a web process, optionally a worker process, and the server's modules in the
 * bench process for setup. stop() ends all of it; the cleanup registry does so too on failure.
 */
export interface Deployment {
  env: Record<string, string>;
  config: AppConfig;
  render: RenderSimulator;
  web: BenchChild;
  worker?: BenchChild;
  url: string;
  deps: AppDeps;
  stop(): Promise<void>;
}

export async function startDeployment(bench: Bench, opts: {
  name: string; render?: RenderSimOptions; worker?: { concurrency?: number; watch?: Record<string, number> }; workerConcurrency?: number;
  /** Web process options (bench/children/webMain.ts): e.g. more live streams per user than the default 10. */
  web?: { maxStreamsPerUser?: number };
}): Promise<Deployment> {
  // A new service's first deploy builds the branch's head as GitHub has it, as Render's does: the deploy
  // verified that commit, so it is kept (a random sha here would make every deploy stop that build and
  // ask for the verified commit: workers/tasks/branchHead.ts, two more Render calls per deploy).
  const render = await startRenderSimulator({ maxCalls: 2_000_000, commitOf: headsFromGitHub(bench.github), ...opts.render });
  const stopRender = bench.cleanup.add(`Render simulator (${opts.name})`, () => render.close());
  const port = await freePort();
  const env = appEnv({
    port, secretKeyHex: randomBytes(32).toString('hex'), redisUrl: bench.redis.url, redisPrefix: `b${randomBytes(3).toString('hex')}`,
    github: { clientId: bench.github.clientId, clientSecret: bench.github.clientSecret, oauthUrl: bench.github.oauthUrl, apiUrl: bench.github.apiUrl },
    renderApiUrl: render.url, workerConcurrency: opts.worker?.concurrency,
  });
  const config = configOf(env);
  const deps = serverSide(bench.cleanup, config);
  const [web, worker] = await Promise.all([
    startChild(bench.cleanup, `web-${opts.name}`, 'webMain.ts', opts.web ? { ...env, BENCH_WEB_OPTIONS: JSON.stringify(opts.web) } : env, { cpuProfDir: bench.cpuProfDir }),
    opts.worker
      ? startChild(bench.cleanup, `worker-${opts.name}`, 'workerMain.ts', { ...env, BENCH_WORKER_OPTIONS: JSON.stringify(opts.worker) }, { cpuProfDir: bench.cpuProfDir })
      : Promise.resolve(undefined),
  ]);
  return {
    env, config, render, web, worker, url: String(web.ready.url), deps,
    async stop() {
      await Promise.all([web.stop(), worker?.stop()]);
      await stopRender();
    },
  };
}

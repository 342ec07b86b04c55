/**
 * `npm start`: the whole system in one process — web and worker, Redis from REDIS_URL (used as given)
 * or a private redis-server it starts, and, without GitHub credentials, sandbox mode with the built-in
 * GitHub and Render simulators. Everything local lives in SANDBOX_DIR (default `.sandbox/`): Redis
 * data, the simulators' worlds, the secret key and the request log, so a restart keeps the world whole.
 * Production uses start:web and start:worker instead.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, relative } from 'node:path';
import type { Middleware } from 'koa';
import { ConfigError, debugOutputRefusal, loadConfig } from '../server/config/env.js';
import { createLogger, type Logger } from '../server/logger.js';
import { startWeb } from '../server/web.js';
import { startWorker } from '../workers/process.js';
import { startGitHubSimulator, type GitHubSimulator } from '../sandbox/github/index.js';
import { startRenderSimulator } from '../sandbox/render/index.js';
import { branchCommitsFromGitHub, DEMO, headsFromGitHub, scheduleSentinelDemo, seedSandbox } from '../sandbox/seed.js';
import { redisUrlWithoutPassword } from '../server/redis.js';
import { redisAnswers, startPrivateRedis } from './start/privateRedis.js';
import { createSandboxLogger } from './start/sandboxLog.js';
import { privateRedisDir, secretKeyFile, stateDir } from './start/stateDir.js';

const env: Record<string, string | undefined> = { ...process.env };
const STATE_DIR = stateDir(env);
/** Where the GitHub simulator answers on the app's own origin: sign-in works through one forwarded port. */
const GITHUB_MOUNT = '/sandbox/github';
const PHASE_MS = { created: 800, build_in_progress: 4000, pre_deploy_in_progress: 1000, update_in_progress: 2500 };
const cleanups: Array<() => Promise<void> | void> = [];
/** Stopped after every cleanup: the web, worker and simulators may still write to it until then. */
let stopRedis: (() => Promise<void>) | null = null;
const shown = (path: string) => {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
};

/** REDIS_URL set → used as given; otherwise a private redis-server with its data under STATE_DIR. */
async function ensureRedis(): Promise<string> {
  if (env.REDIS_URL) {
    if (!(await redisAnswers(env.REDIS_URL))) throw new Error(`REDIS_URL=${redisUrlWithoutPassword(env.REDIS_URL)} does not answer.`);
    return `REDIS_URL ${redisUrlWithoutPassword(env.REDIS_URL)} (as given)`;
  }
  const dir = privateRedisDir(STATE_DIR);
  const redis = await startPrivateRedis(dir);
  stopRedis = () => redis.stop();
  env.REDIS_URL = redis.url;
  return `private redis-server on 127.0.0.1:${redis.port}, data in ${shown(dir)}/`;
}

function ensureSecretKey(): void {
  if (env.SECRET_KEY) return;
  mkdirSync(STATE_DIR, { recursive: true });
  const file = secretKeyFile(STATE_DIR);
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
  env.SECRET_KEY = readFileSync(file, 'utf8').trim();
}

/** Serves the GitHub simulator under GITHUB_MOUNT, before any app middleware (it reads its own bodies). */
function mountGitHub(github: GitHubSimulator): Middleware {
  return async (ctx, next) => {
    if (ctx.path !== GITHUB_MOUNT && !ctx.path.startsWith(`${GITHUB_MOUNT}/`)) { await next(); return; }
    ctx.respond = false;
    ctx.req.url = (ctx.req.url ?? '/').slice(GITHUB_MOUNT.length) || '/';
    await new Promise<void>((done) => {
      ctx.res.once('close', done);
      github.handle(ctx.req, ctx.res);
    });
  };
}

/** Starts the simulators with their saved worlds and points the app's GitHub and Render URLs at them. */
async function startSandbox(): Promise<Middleware> {
  const pre = loadConfig(env);
  // Server-side GitHub API calls go straight to the loopback; only the OAuth pages need the public origin.
  const listenHost = pre.host === '0.0.0.0' || pre.host === '::' ? '127.0.0.1' : pre.host.includes(':') ? `[${pre.host}]` : pre.host;
  const internal = `http://${listenHost}:${pre.port}${GITHUB_MOUNT}`;
  const github = await startGitHubSimulator({ mount: { publicUrl: internal }, stateFile: join(STATE_DIR, 'github.json') });
  const render = await startRenderSimulator({ phaseMs: PHASE_MS, stateFile: join(STATE_DIR, 'render.json'), commitOf: headsFromGitHub(github), commitOnBranch: branchCommitsFromGitHub(github) });
  seedSandbox(github, render);
  const stopDemo = scheduleSentinelDemo(render);
  cleanups.push(async () => stopDemo(), () => github.close(), () => render.close());
  Object.assign(env, {
    GITHUB_CLIENT_ID: github.clientId, GITHUB_CLIENT_SECRET: github.clientSecret,
    GITHUB_OAUTH_URL: `${pre.baseUrl}${GITHUB_MOUNT}`, GITHUB_API_URL: github.apiUrl, RENDER_API_URL: render.url,
    // The simulators' credentials are set now, so the config no longer sees sandbox mode: keep its loopback default.
    HOST: pre.host,
    // Sentinel rounds every 15 s in the sandbox, so the demo finding shows up soon after opting in.
    SENTINEL_INTERVAL_SECONDS: env.SENTINEL_INTERVAL_SECONDS ?? '15',
  });
  return mountGitHub(github);
}

/** Stands in for the private redis-server's address in the check before it is started. */
const REDIS_URL_TO_BE = 'redis://127.0.0.1:6379';

async function main() {
  const refusal = debugOutputRefusal(env);
  if (refusal) throw new Error(refusal);
  // Checked before anything starts: a bad value (a PORT that is no number, a malformed REDIS_URL) said what
  // to fix only after the private redis-server was up, and exited past the cleanup, leaving it running; the
  // next npm start then refused to start beside it. A malformed REDIS_URL gave the client's bare words.
  loadConfig({ ...env, REDIS_URL: env.REDIS_URL ?? REDIS_URL_TO_BE });
  const redisLine = await ensureRedis();
  ensureSecretKey();
  const sandbox = !env.GITHUB_CLIENT_ID && !env.GITHUB_CLIENT_SECRET;
  const outer = sandbox ? await startSandbox() : undefined;
  const config = loadConfig(env);
  let logger: Logger;
  const logFile = join(STATE_DIR, 'app.log');
  if (sandbox) {
    const sandboxLog = createSandboxLogger(logFile, config.logLevel);
    logger = sandboxLog.logger;
    // Its file opens asynchronously, and exiting before that printed pino's "sonic boom is not ready yet"
    // stack trace under the reason for stopping (a PORT already taken fails that soon): wait for it, bounded.
    cleanups.push(async () => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([sandboxLog.ready, new Promise((r) => { timer = setTimeout(r, 2_000); })]);
      clearTimeout(timer);
      sandboxLog.flush();
    });
  } else {
    logger = createLogger({ level: config.logLevel, name: 'orchestrator' });
  }
  const web = await startWeb({
    config, logger,
    appOptions: { outer, sandbox: sandbox ? { renderApiKey: DEMO.renderApiKey, login: DEMO.login } : undefined },
  });
  const worker = await startWorker({ config, logger });
  cleanups.unshift(() => web.close(), () => worker.close(10_000));
  const line = '─'.repeat(64);
  const lines = [
    `Render orchestrator running at ${config.baseUrl}`,
    `  listening on ${config.host}:${config.port}${config.host === '127.0.0.1' || config.host === '::1' ? ' (this machine only)' : ''}`,
    `  Redis: ${redisLine}`,
  ];
  if (sandbox) {
    lines.push(
      `  Request log: ${shown(logFile)} (warnings and errors also print here)`,
      '',
      'SANDBOX MODE: GitHub and Render are simulated on this machine, and',
      `their state is kept in ${shown(STATE_DIR)}/ (delete it to start afresh).`,
      `Sign in (you are "${DEMO.login}"), connect the demo Render key`,
      `  ${DEMO.renderApiKey}`,
      'and deploy one of the demo repositories.',
    );
  }
  // One write, so whoever reads the output sees the banner whole.
  process.stdout.write(`\n${line}\n${lines.map((l) => (l ? `  ${l}` : '')).join('\n')}\n${line}\n\n`);
}

let stopping = false;
async function stop(code: number) {
  if (stopping) return;
  stopping = true;
  for (const c of cleanups) await Promise.resolve().then(c).catch(() => {});
  await stopRedis?.().catch(() => {});
  process.exit(code);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void stop(0));

// Everything started so far is stopped (the private redis-server last), whatever failed. A PORT or HOST
// the web cannot listen on arrives as a ListenError (server/listenErrors.ts): its message names the setting.
main().catch((err) => {
  console.error(err instanceof ConfigError ? `${err.message}\nSee README.md "Configuration".` : err instanceof Error ? err.message : err);
  void stop(1);
});

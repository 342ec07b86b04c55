/**
 * `npm start`: the whole system in one process — web and worker, Redis from REDIS_URL or a private
 * redis-server it starts (persistence on), and, without GitHub credentials, sandbox mode with the
 * built-in GitHub and Render simulators. Production uses start:web and start:worker instead.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { loadConfigOrExit } from '../server/config/env.js';
import { createLogger } from '../server/logger.js';
import { startWeb } from '../server/web.js';
import { startWorker } from '../workers/process.js';
import { startGitHubSimulator } from '../sandbox/github/index.js';
import { startRenderSimulator } from '../sandbox/render/index.js';
import { DEMO, seedSandbox } from '../sandbox/seed.js';

const STATE_DIR = join(process.cwd(), '.sandbox');
const env: Record<string, string | undefined> = { ...process.env };
const cleanups: Array<() => Promise<void>> = [];

async function redisAnswers(url: string): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  probe.on('error', () => {});
  try { await probe.connect(); return (await probe.ping()) === 'PONG'; } catch { return false; } finally { probe.disconnect(); }
}

async function ensureRedis(): Promise<void> {
  const url = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (await redisAnswers(url)) { env.REDIS_URL = url; return; }
  if (env.REDIS_URL) throw new Error(`REDIS_URL=${env.REDIS_URL} does not answer.`);
  const port = 6390;
  const dir = join(STATE_DIR, 'redis');
  mkdirSync(dir, { recursive: true });
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
  child.on('error', () => { console.error('No Redis answered and redis-server is not installed. Install Redis or set REDIS_URL.'); process.exit(1); });
  cleanups.push(async () => { child.kill('SIGTERM'); });
  env.REDIS_URL = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100 && !(await redisAnswers(env.REDIS_URL)); i++) await new Promise((r) => setTimeout(r, 50));
}

function ensureSecretKey(): void {
  if (env.SECRET_KEY) return;
  mkdirSync(STATE_DIR, { recursive: true });
  const file = join(STATE_DIR, 'secret-key');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
  env.SECRET_KEY = readFileSync(file, 'utf8').trim();
}

async function main() {
  await ensureRedis();
  ensureSecretKey();
  const sandbox = !env.GITHUB_CLIENT_ID && !env.GITHUB_CLIENT_SECRET;
  if (sandbox) {
    const github = await startGitHubSimulator({ port: Number(env.SANDBOX_GITHUB_PORT ?? 0) });
    const render = await startRenderSimulator({ phaseMs: { created: 800, build_in_progress: 4000, pre_deploy_in_progress: 1000, update_in_progress: 2500 } });
    seedSandbox(github, render);
    cleanups.push(() => github.close(), () => render.close());
    Object.assign(env, {
      GITHUB_CLIENT_ID: github.clientId, GITHUB_CLIENT_SECRET: github.clientSecret,
      GITHUB_OAUTH_URL: github.oauthUrl, GITHUB_API_URL: github.apiUrl, RENDER_API_URL: render.url,
      SANDBOX: 'true', SANDBOX_RENDER_KEY: DEMO.renderApiKey,
    });
  }
  const config = loadConfigOrExit(env);
  const logger = createLogger({ level: config.logLevel, name: 'orchestrator' });
  const web = await startWeb({ config, logger, appOptions: { sandbox: sandbox ? { renderApiKey: DEMO.renderApiKey, login: DEMO.login } : undefined } });
  const worker = await startWorker({ config, logger });
  cleanups.unshift(() => web.close(), () => worker.close(10_000));
  const line = '─'.repeat(64);
  const sandboxText = sandbox
    ? `\n  SANDBOX MODE: GitHub and Render are simulated on this machine.\n  Sign in (you are "${DEMO.login}"), connect the demo Render key\n    ${DEMO.renderApiKey}\n  and deploy one of the demo repositories.`
    : '';
  // One write, so whoever reads the output sees the banner whole.
  process.stdout.write(`\n${line}\n  Render orchestrator running at ${config.baseUrl}${sandboxText}\n${line}\n\n`);
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    for (const c of cleanups) await c().catch(() => {});
    process.exit(0);
  });
}

main().catch((err) => { console.error(err instanceof Error ? err.message : err); process.exit(1); });

import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { loadConfig, type AppConfig } from '../../server/config/env.js';
import { createLogger } from '../../server/logger.js';
import { startWeb, type WebProcess } from '../../server/web.js';
import type { Clock } from '../../server/clock.js';
import type { CreateAppOptions } from '../../server/app.js';
import type { RenderLimits } from '../../server/render/budget.js';
import type { LogTailOptions } from '../../server/deployments/logTail.js';
import { startGitHubSimulator, type GitHubSimulator } from '../../sandbox/github/index.js';
import { startRenderSimulator, type RenderSimulator, type RenderSimOptions } from '../../sandbox/render/index.js';
import { headsFromGitHub } from '../../sandbox/seed.js';
import { startTestRedis, type TestRedis } from './redis.js';
import { freePort } from './ports.js';
import { Agent } from './agent.js';
import { localSlackAlerts, startSlackReceiver, type SlackReceiver } from './slackReceiver.js';
import type { SentinelAlertOptions } from '../../server/sentinel/alerts.js';
import { registerApiContract, unregisterApiContract } from './apiContract.js';

export interface Stack {
  url: string;
  config: AppConfig;
  web: WebProcess;
  redis: TestRedis;
  github: GitHubSimulator;
  render: RenderSimulator;
  /** Where tenant Slack alerts go (tests never reach hooks.slack.com); `slackAlerts` for a worker. */
  slack: SlackReceiver;
  slackAlerts: SentinelAlertOptions;
  /** Every log line the app wrote. */
  logs: string[];
  agent(headers?: Record<string, string>): Agent;
  /** Full GitHub sign-in as `login` (the user is created in the simulator if needed). */
  signIn(agent: Agent, login: string, opts?: { id?: number }): Promise<void>;
  close(): Promise<void>;
}

export interface StackOptions {
  env?: Record<string, string>;
  /** Set over the configuration loaded from `env`: a value no variable can spell (a session idle of seconds). */
  config?: Partial<AppConfig>;
  clock?: Clock; renderOptions?: RenderSimOptions; appOptions?: CreateAppOptions; renderLimits?: RenderLimits; logTail?: LogTailOptions;
  telemetry?: { flushMs?: number; syncMs?: number };
}

/** Real Redis, both simulators and the real web process, on private ports. */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  // Render's builds without a named commit check out the branch's head as the GitHub simulator has it,
  // as Render's do (and sandbox mode's): a new service's first deploy builds the commit the deploy
  // verified, unless a push came between (the worker then deploys the verified one by id).
  let linked: GitHubSimulator | undefined;
  const renderOptions: RenderSimOptions = { commitOf: (repo, branch) => (linked ? headsFromGitHub(linked)(repo, branch) : null), ...opts.renderOptions };
  const [redis, github, render, port, slack] = await Promise.all([
    startTestRedis(), startGitHubSimulator(), startRenderSimulator(renderOptions), freePort(), startSlackReceiver(),
  ]);
  linked = github;
  const slackAlerts = opts.appOptions?.sentinel ?? localSlackAlerts(slack);
  const logs: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { logs.push(String(chunk)); cb(); } });
  const logger = createLogger({ level: 'debug', destination: sink });
  const config: AppConfig = { ...loadConfig({
    NODE_ENV: 'test',
    PORT: String(port),
    BASE_URL: `http://127.0.0.1:${port}`,
    SECRET_KEY: randomBytes(32).toString('hex'),
    REDIS_URL: redis.url,
    REDIS_PREFIX: redis.prefix,
    GITHUB_CLIENT_ID: github.clientId,
    GITHUB_CLIENT_SECRET: github.clientSecret,
    GITHUB_OAUTH_URL: github.oauthUrl,
    GITHUB_API_URL: github.apiUrl,
    RENDER_API_URL: render.url,
    // Tests poll far faster than any person (every 50 ms): the detector would rightly throttle them.
    // Off unless a test opts in (test/telemetry/); telemetry is still recorded.
    ANOMALY_DETECTION: 'false',
    // No GitHub retries or write pacing (one commit status a second per token): deterministic and quick.
    // test/github/client.test.ts builds a client with them on.
    GITHUB_RETRIES: 'false',
    ...opts.env,
  }), ...opts.config };
  let web: WebProcess;
  try {
    web = await startWeb({ config, logger, clock: opts.clock, host: '127.0.0.1', appOptions: { ...opts.appOptions, sentinel: slackAlerts }, renderLimits: opts.renderLimits, logTail: opts.logTail, telemetry: opts.telemetry });
  } catch (err) {
    // What did start is stopped: left running, its servers and redis-server kept the test file's process
    // alive, and the file's failed before hook ended as ava's whole-run timeout instead of its own error.
    await Promise.allSettled([github.close(), render.close(), slack.close(), redis.stop()]);
    throw err;
  }
  const url = `http://127.0.0.1:${port}`;
  // From here on every response the suites see through Agent or send() is checked against the document.
  await registerApiContract(url);
  const knownUsers = new Set<string>();
  let nextId = 1000 + Math.floor(Math.random() * 1000);

  return {
    url, config, web, redis, github, render, logs, slack, slackAlerts,
    agent: (headers) => new Agent(url, headers),
    async signIn(agent, login, o = {}) {
      if (!knownUsers.has(login)) { github.addUser({ id: o.id ?? nextId++, login, name: `${login} name` }); knownUsers.add(login); }
      const start = await agent.get('/api/auth/github/login');
      if (start.status !== 302 || !start.location) throw new Error(`login start: ${start.status}`);
      const authorize = await fetch(`${start.location}&login=${encodeURIComponent(login)}`, { redirect: 'manual' });
      const callback = authorize.headers.get('location');
      if (!callback) throw new Error(`authorize: ${authorize.status}`);
      const done = await agent.get(callback.replace(url, ''));
      if (done.status !== 302 || done.location !== '/') throw new Error(`callback: ${done.status} ${done.location}`);
      const session = await agent.get('/api/session');
      if (session.status !== 200) throw new Error(`session: ${session.status}`);
      agent.csrfToken = session.json.csrfToken;
    },
    async close() {
      unregisterApiContract(url);
      await web.close();
      await Promise.all([github.close(), render.close(), slack.close()]);
      await redis.stop();
    },
  };
}

/**
 * Every key and value in Redis (strings, hashes, lists, sets, zsets, streams), as text, for secret scans and
 * before/after comparisons: keys in sorted order. SCAN's order is the hash table's, which Redis may resize
 * between two dumps of the same data (a key set to expire and gone, a temporary key made and deleted), so
 * an unsorted dump of unchanged data could differ (test/server/cors failed so under load).
 */
export async function dumpRedis(client: import('ioredis').Redis): Promise<string> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await client.scan(cursor, 'COUNT', 500);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  const out: string[] = [];
  for (const key of [...new Set(keys)].sort()) {
    const type = await client.type(key);
    if (type === 'none') continue; // gone since the scan (expired): not part of either dump
    out.push(key);
    if (type === 'string') out.push((await client.get(key)) ?? '');
    else if (type === 'hash') out.push(JSON.stringify(await client.hgetall(key)));
    else if (type === 'list') out.push(JSON.stringify(await client.lrange(key, 0, -1)));
    else if (type === 'set') out.push(JSON.stringify(await client.smembers(key)));
    else if (type === 'zset') out.push(JSON.stringify(await client.zrange(key, '0', '-1', 'WITHSCORES')));
    else if (type === 'stream') out.push(JSON.stringify(await client.xrange(key, '-', '+')));
  }
  return out.join('\n');
}

import { createHash, randomBytes } from 'node:crypto';
import Keygrip from 'keygrip';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { AppConfig } from '../../server/config/env.js';
import { systemClock } from '../../server/clock.js';
import { buildDeps } from '../../server/system.js';
import type { AppDeps } from '../../server/deps.js';
import type { DeploymentRecord } from '../../server/deployments/types.js';
import { randomToken } from '../../server/crypto/keyring.js';
import { sealGithubToken, setRenderKey } from '../../server/sessions/credentials.js';
import { SESSION_COOKIE_PLAIN } from '../../server/sessions/middleware.js';
import type { AppSession } from '../../server/sessions/types.js';
import type { GitHubSimulator } from '../../sandbox/github/index.js';
import type { RenderSimulator } from '../../sandbox/render/index.js';
import type { Cleanup } from './cleanup.js';

export const BENCH_USER_AGENT = 'render-orchestrator-bench';

/** One signed-in person: GitHub account and token, Render account and key, a session in Redis. */
export interface Tenant {
  userId: number;
  login: string;
  /** Cookie header that carries the signed session id, exactly as a browser would send it. */
  cookie: string;
  csrfToken: string;
  apiKey: string;
  /** The GitHub token the simulator issued (sealed in the session; sent as `Authorization: Bearer` by the bearer scenario). */
  githubToken: string;
  /** Render simulator account id (what SimCall.accountId holds). */
  accountId: string;
  ownerId: string;
  sessionRef: string;
  keyFingerprint: string;
  repos: string[];
}

/**
 * The server's own modules (session store, deployment service, enqueuer) in the bench process, on the
 * same config and Redis as the child processes: used to set up tenants fast and, for the scale run, to
 * enqueue deployments without HTTP.
 */
export function serverSide(cleanup: Cleanup, config: AppConfig): AppDeps {
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null, enableAutoPipelining: true });
  const queueRedis = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  const deps = buildDeps({ config, redis, queueRedis, clock: systemClock, logger: pino({ level: 'silent' }) });
  cleanup.add('bench-side server modules', async () => {
    await Promise.all([deps.queue.close(), deps.commitStatusQueue.close()]).catch(() => {});
    redis.disconnect();
    queueRedis.disconnect();
  });
  return deps;
}

const nodeRepoFiles = (name: string) => ({
  'package.json': JSON.stringify({ name, scripts: { start: 'node index.js' } }),
  'package-lock.json': '{}',
  'index.js': '',
});

let nextUserId = 700_000 + Math.floor(Math.random() * 100_000);

/**
 * Create a tenant the way sign-in + key setup would leave it: the session record is written through the
 * server's own session store (sealed credentials, per-user index), and the cookie is signed with the key
 * the web process derives from the same SECRET_KEY. Skips the OAuth round trip only to keep setup fast.
 */
export async function createTenant(deps: AppDeps, github: GitHubSimulator, render: RenderSimulator, opts: { login: string; repos: number }): Promise<Tenant> {
  const userId = nextUserId++;
  const { login } = opts;
  github.addUser({ id: userId, login, name: `${login} (bench)` });
  const repos: string[] = [];
  for (let i = 0; i < opts.repos; i++) {
    const name = `app-${i}`;
    github.addRepo({ owner: login, name, branches: { main: nodeRepoFiles(name) } });
    repos.push(`${login}/${name}`);
  }
  const githubToken = github.issueToken(login);
  const apiKey = `rnd_${randomBytes(18).toString('base64url').replace(/[^A-Za-z0-9]/g, 'x')}`;
  const account = render.addAccount({ apiKey, workspaces: [{ name: `${login} workspace` }] });

  const now = Date.now();
  const sess: AppSession & { user: NonNullable<AppSession['user']> } = {
    createdAt: now,
    lastSeenAt: now,
    user: { id: userId, login, name: `${login} (bench)`, avatarUrl: `https://avatars.githubusercontent.com/u/${userId}?v=4` },
    githubTokenSealed: sealGithubToken(userId, githubToken, deps.keyring),
    csrfToken: randomToken(),
    clientHash: createHash('sha256').update(BENCH_USER_AGENT).digest('hex').slice(0, 16),
  };
  setRenderKey(sess, apiKey, account.workspaces.map((w) => ({ id: w.id, name: w.name, type: w.type })), now, deps.keyring);
  const sid = randomBytes(32).toString('base64url');
  await deps.sessions.create(sid, sess);

  const grip = new Keygrip([deps.keyring.current.cookieSigning], 'sha256');
  const name = SESSION_COOKIE_PLAIN;
  const cookie = `${name}=${sid}; ${name}.sig=${grip.sign(`${name}=${sid}`)}`;
  return {
    userId, login, cookie, csrfToken: sess.csrfToken!, apiKey, githubToken, accountId: account.id, ownerId: account.ownerId,
    sessionRef: deps.sessions.refOf(sid), keyFingerprint: sess.render!.keyFingerprint, repos,
  };
}

/** Headers for an authenticated API request as the tenant. */
export function headersOf(t: Tenant, extra: Record<string, string> = {}): Record<string, string> {
  return { cookie: t.cookie, 'user-agent': BENCH_USER_AGENT, ...extra };
}

/**
 * A service the tenant already has on Render, created straight on the simulator (not through the
 * orchestrator): what the services list and Sentinel find in a user's workspace.
 */
export async function seedService(renderUrl: string, t: Tenant, name: string): Promise<void> {
  const res = await fetch(`${renderUrl}/services`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      type: 'web_service', name, ownerId: t.ownerId, repo: `https://github.com/${t.login}/${name}`, autoDeploy: 'no',
      serviceDetails: { runtime: 'node', plan: 'starter', region: 'oregon', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'node index.js' } },
    }),
  });
  if (res.status !== 201) throw new Error(`seeding a service for ${t.login}: Render simulator answered ${res.status}`);
}

/**
 * A deployment of one of the tenant's repositories (the first by default), requested through the server's own deployment
 * service (as POST /api/render/deploy does after validation): a signed record and a queued job.
 */
export async function requestDeployAs(deps: AppDeps, t: Tenant, serviceName: string, repo = t.repos[0]!): Promise<DeploymentRecord> {
  const { record } = await deps.deployRequests.requestDeploy(
    { userId: t.userId, sessionRef: t.sessionRef, keyFingerprint: t.keyFingerprint },
    { githubRepo: repo, serviceName, branch: null, ownerId: t.ownerId, region: 'oregon', plan: 'starter', envVarKeys: [], buildCommand: null, startCommand: null },
    [],
  );
  return record;
}

import { Writable } from 'node:stream';
import { createLogger } from '../../server/logger.js';
import { startWorker, type WorkerProcess } from '../../workers/process.js';
import type { RenderLimits } from '../../server/render/budget.js';
import type { WatchPolicy, WorkerContext } from '../../workers/context.js';
import type { CommitStatusWorkerOptions } from '../../workers/commitStatusWorker.js';
import type { Stack } from './stack.js';
import type { Clock } from '../../server/clock.js';
import type { OrphanSweepOptions } from '../../workers/orphanSweep.js';
import type { Agent } from './agent.js';

/** Fast watch policy for tests: the deploy task's backoff, shrunk. */
export const FAST_WATCH = { initialMs: 40, factor: 1.2, maxDelayMs: 200 };

/** A spawned worker (processes.ts spawnWorker) whose job another worker takes over soon after it stops: a short lock, checked often. */
export const TAKEOVER_WORKER = {
  watch: FAST_WATCH, retryBackoffMs: 50, renderTimeoutMs: 60_000,
  workerOptions: { concurrency: 10, lockDurationMs: 1_500, stalledIntervalMs: 500 },
};

/** A worker process object plus every log line it wrote. */
export type TestWorker = WorkerProcess & { logs: string[] };

/** A real worker (in this process) on the stack's config and Redis. */
export async function startTestWorker(stack: Stack, opts: { renderLimits?: RenderLimits; concurrency?: number; commitStatus?: CommitStatusWorkerOptions; watch?: Partial<WatchPolicy>; crashPoint?: WorkerContext['crashPoint']; retryBackoffMs?: number; renderTimeoutMs?: number; clock?: Clock; orphanSweep?: OrphanSweepOptions; runWindowMs?: number } = {}): Promise<TestWorker> {
  const logs: string[] = [];
  const sink = new Writable({ write(chunk, _e, cb) { logs.push(String(chunk)); cb(); } });
  const proc = await startWorker({
    config: stack.config, logger: createLogger({ level: 'debug', destination: sink }), watch: { ...FAST_WATCH, ...opts.watch }, renderLimits: opts.renderLimits,
    workerOptions: { concurrency: opts.concurrency ?? 20, lockDurationMs: 5_000, stalledIntervalMs: 1_000, runWindowMs: opts.runWindowMs },
    sentinel: { alerts: stack.slackAlerts }, commitStatus: opts.commitStatus, crashPoint: opts.crashPoint, retryBackoffMs: opts.retryBackoffMs,
    renderTimeoutMs: opts.renderTimeoutMs, clock: opts.clock, orphanSweep: opts.orphanSweep,
  });
  return Object.assign(proc, { logs });
}

/** A GitHub repo in the simulator with a Node app on `main`. */
export function addNodeRepo(stack: Stack, owner: string, name: string, extra: Record<string, string> = {}) {
  stack.github.addRepo({
    owner, name,
    branches: { main: { 'package.json': JSON.stringify({ name, scripts: { start: 'node index.js' } }), 'package-lock.json': '{}', 'index.js': '', ...extra } },
  });
}

/** Sign in, connect a fresh Render key, return the agent and the workspace id. */
export async function signedInWithKey(stack: Stack, login: string): Promise<{ agent: Agent; apiKey: string; ownerId: string; accountId: string }> {
  const apiKey = `rnd_${login.replace(/[^A-Za-z0-9]/g, '')}${'k'.repeat(24)}`;
  const account = stack.render.addAccount({ apiKey, workspaces: [{ name: `${login} workspace` }] });
  const agent = stack.agent();
  await stack.signIn(agent, login);
  const res = await agent.post('/api/render/setup', { api_key: apiKey });
  if (res.status !== 200) throw new Error(`key setup: ${res.status} ${res.text}`);
  return { agent, apiKey, ownerId: res.json.owners[0].id, accountId: account.id };
}

/** Poll a deployment until it is finished (bounded). */
export async function waitFinished(agent: Agent, id: string, timeoutMs = 30_000): Promise<any> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const res = await agent.get(`/api/render/deployments/${id}`);
    if (res.status !== 200) throw new Error(`deployment ${id}: ${res.status}`);
    if (res.json.finished) return res.json;
    if (Date.now() > end) throw new Error(`deployment ${id} still ${res.json.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Poll a deployment until it has `status` (bounded); finishing without it first is an error. */
export async function waitStatus(agent: Agent, id: string, status: string, timeoutMs = 30_000): Promise<any> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const rec = (await agent.get(`/api/render/deployments/${id}`)).json;
    if (rec.status === status) return rec;
    if (rec.finished) throw new Error(`deployment ${id} finished as ${rec.status} before ${status}`);
    if (Date.now() > end) throw new Error(`deployment ${id} still ${rec.status}, not ${status}, after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Render API calls one account made, by method and templated route. */
export function renderCalls(stack: Stack, accountId: string, method: string, route: string) {
  return stack.render.calls.filter((c) => c.accountId === accountId && c.method === method && c.route === route);
}

/** One call to the Render simulator's API with a key, as another client of that key (a 202's empty body is null). */
export async function renderApi(stack: Stack, apiKey: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${stack.render.url}${path}`, {
    method, headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.status === 202 ? null : res.json();
}

/** What these tests read of a Render deploy. */
export interface RenderDeploySeen { id: string; status: string; trigger: string; createdAt: string; commit: { id: string } | null }

/** A service's deploys on the simulator, newest first (up to 20). */
export const renderDeploysOf = async (stack: Stack, apiKey: string, serviceId: string): Promise<RenderDeploySeen[]> =>
  ((await renderApi(stack, apiKey, 'GET', `/services/${serviceId}/deploys?limit=20`)) as Array<{ deploy: RenderDeploySeen }>).map((e) => e.deploy);

/** Poll `look` until it finds something (bounded: 30 s, then an error naming `what`). */
export async function until<T>(what: string, look: () => Promise<T | null | undefined>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const found = await look();
    if (found) return found;
    if (Date.now() > end) throw new Error(`never: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A signed-in user with a key whose repository `<login>/app` was deployed once, live: its service and that deploy. */
export async function liveService(stack: Stack, login: string) {
  const user = await signedInWithKey(stack, login);
  addNodeRepo(stack, login, 'app');
  const first = await waitFinished(user.agent, (await user.agent.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: 'app' })).json.id);
  if (first.status !== 'live') throw new Error(`first deploy: ${first.status}`);
  return { ...user, serviceId: first.serviceId as string, firstDeployId: first.deployId as string };
}

/**
 * On a simulator with manual deploys (`renderOptions: { manualDeploys: true }`): `<login>/app` deployed
 * (with `body`'s extra fields) and its Render deploy advanced until the deployment is live.
 */
export async function deployedLiveByHand(stack: Stack, agent: Agent, login: string, body: Record<string, unknown> = {}): Promise<{ id: string; serviceId: string; deployId: string }> {
  addNodeRepo(stack, login, 'app');
  const id = (await agent.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: `${login}-app`, ...body })).json.id as string;
  const r = await until('render ids', async () => {
    const rec = (await agent.get(`/api/render/deployments/${id}`)).json;
    return rec.serviceId && rec.deployId ? { serviceId: rec.serviceId as string, deployId: rec.deployId as string } : null;
  });
  for (let i = 0; i < 3; i++) stack.render.advanceDeploy(r.deployId);
  const done = await waitFinished(agent, id);
  if (done.status !== 'live') throw new Error(`${login}/app: ${done.status}, not live`);
  return { id, ...r };
}

/** On manual deploys: a redeploy of `serviceId` asked through the app and advanced until live; its deployment id. */
export async function redeployedLiveByHand(stack: Stack, agent: Agent, serviceId: string): Promise<string> {
  const again = await agent.post(`/api/render/services/${serviceId}/redeploy`);
  if (again.status !== 202) throw new Error(`redeploy: ${again.status} ${again.text}`);
  const id = again.json.id as string;
  const { deployId } = await recordWithDeployId(agent, id);
  for (let i = 0; i < 3; i++) stack.render.advanceDeploy(deployId);
  const done = await waitFinished(agent, id);
  if (done.status !== 'live') throw new Error(`redeploy of ${serviceId}: ${done.status}, not live`);
  return id;
}

/** A deployment's record once it names its Render deploy (bounded as `until`). */
export const recordWithDeployId = (agent: Agent, id: string, what = 'the deploy id'): Promise<any> =>
  until(what, async () => {
    const rec = (await agent.get(`/api/render/deployments/${id}`)).json;
    return rec.deployId ? rec : null;
  });

/**
 * A rollback of `serviceId` to `deployId` started with the key outside the app, held running in its
 * last phase: its deploy id, and the release that lets it finish.
 */
export async function rollbackHeldInLastPhase(stack: Stack, apiKey: string, serviceId: string, deployId: string): Promise<{ running: string; finishRunning: () => void }> {
  const finishRunning = stack.render.holdPhase({ serviceId }, 'update_in_progress');
  const running = (await renderApi(stack, apiKey, 'POST', `/services/${serviceId}/rollback`, { deployId })).id as string;
  await until('the rollback in its last phase', async () => (await renderDeploysOf(stack, apiKey, serviceId)).find((d) => d.id === running && d.status === 'update_in_progress'));
  return { running, finishRunning };
}

/**
 * `<login>/app` live, a rollback of it held running in its last phase, and a redeploy asked through the app
 * that Render queued behind that rollback (render_queued, its deploy named to us), held building once it
 * starts. Both holds are released at teardown as well.
 */
export async function redeployQueuedBehindRollback(t: { is(actual: unknown, expected: unknown, message?: string): void; teardown(fn: () => void): void }, stack: Stack, login: string) {
  const u = await liveService(stack, login);
  const { running, finishRunning } = await rollbackHeldInLastPhase(stack, u.apiKey, u.serviceId, u.firstDeployId);
  t.teardown(finishRunning);
  const releaseBuild = stack.render.holdPhase({ serviceId: u.serviceId }, 'build_in_progress');
  t.teardown(releaseBuild);
  const asked = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`);
  t.is(asked.status, 202, asked.text);
  const queued = await recordWithDeployId(u.agent, asked.json.id);
  t.is(queued.status, 'render_queued');
  return { u, running, finishRunning, releaseBuild, id: asked.json.id as string, deployId: queued.deployId as string };
}

/**
 * A service action (`path`, `body`) whose ask to Render (POST `route`) is held on Render until the
 * deployment it started was canceled: the cancel's answer (200, canceled) is checked, then the ask is
 * let through. Returns the deployment's id. The hold is released at teardown as well.
 */
export async function canceledWhileAskHeld(
  t: { is(actual: unknown, expected: unknown, message?: string): void; teardown(fn: () => void): void },
  stack: Stack, user: { agent: Agent; apiKey: string },
  ask: { route: string; path: string; body?: unknown },
): Promise<string> {
  const held = stack.render.holdRequest({ method: 'POST', route: ask.route, apiKey: user.apiKey });
  t.teardown(held.release);
  const asked = await user.agent.post(ask.path, ask.body);
  t.is(asked.status, 202, asked.text);
  await held.arrived;
  const canceled = await user.agent.post(`/api/render/deployments/${asked.json.id}/cancel`);
  t.is(canceled.status, 200, canceled.text);
  t.is(canceled.json.status, 'canceled');
  held.release();
  return asked.json.id as string;
}

/** The commit statuses GitHub's simulator holds for a commit, once `n` are there (bounded: what is there after 30 s). */
export async function statusesWhenPosted(stack: Stack, owner: string, repo: string, sha: string, n: number) {
  for (let i = 0; i < 600; i++) {
    const found = stack.github.statusesFor(owner, repo, sha);
    if (found.length >= n) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  return stack.github.statusesFor(owner, repo, sha);
}

/** A secret file put on a simulated service directly, as on Render's dashboard. */
export const putSecretFile = (stack: Stack, apiKey: string, serviceId: string, name: string, content: string): Promise<unknown> =>
  renderApi(stack, apiKey, 'PUT', `/services/${serviceId}/secret-files/${name}`, { content });

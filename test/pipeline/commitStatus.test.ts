import test, { type ExecutionContext } from 'ava';
import { Queue } from 'bullmq';
import { queuePrefix } from '../../server/queues/deployQueue.js';
import { COMMIT_STATUS_QUEUE } from '../../server/queues/commitStatusQueue.js';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, signedInWithKey, until, waitFinished, waitStatus, statusesWhenPosted as statusesPosted } from '../helpers/pipeline.js';
import type { Agent } from '../helpers/agent.js';

// Issue 15: a GitHub commit status on the deployed commit, pending → success/failure, linking to the
// deployment page, when the user's token has the repo (or repo:status) scope; skipped quietly otherwise.
let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

/** Sign-in where the user grants only `scope` on GitHub's consent page (the simulator issues that). */
async function signInWithScope(agent: Agent, login: string, scope: string) {
  stack.github.addUser({ login, name: login });
  const start = await agent.get('/api/auth/github/login');
  const authorizeUrl = new URL(start.location!);
  authorizeUrl.searchParams.set('scope', scope);
  authorizeUrl.searchParams.set('login', login);
  const authorize = await fetch(authorizeUrl, { redirect: 'manual' });
  const done = await agent.get(authorize.headers.get('location')!.replace(stack.url, ''));
  if (done.status !== 302) throw new Error(`callback: ${done.status}`);
  agent.csrfToken = (await agent.get('/api/session')).json.csrfToken;
}

/** Waits (bounded) until the commit-status queue holds no job waiting, running or delayed. */
async function statusJobsDone() {
  const queue = new Queue(COMMIT_STATUS_QUEUE, { connection: { url: stack.redis.url }, prefix: queuePrefix(stack.redis.prefix) });
  try {
    const busy = async () => (await queue.getJobs(['waiting', 'active', 'delayed', 'prioritized'])).length > 0;
    for (let i = 0; i < 200 && await busy(); i++) await new Promise((r) => setTimeout(r, 50));
  } finally {
    await queue.close();
  }
}

/**
 * The statuses on a commit once `n` are there (the final one is posted just after the record ends). Bounded
 * at 30 s: a status job retries after 2 s, 4 s, 8 s (commitStatusQueue.ts), and a rehearsal of CI run beside
 * other tests (load 14–20) saw the final status come after the 10 s this waited before.
 */
const statusesWhenPosted = (owner: string, repo: string, sha: string, n: number) => statusesPosted(stack, owner, repo, sha, n);

test('repo scope: pending, then success on the deployed commit, linking to the deployment page', async (t) => {
  const { agent } = await signedInWithKey(stack, 'stat');
  addNodeRepo(stack, 'stat', 'shop');
  const callsBefore = stack.github.calls.length;
  const res = await agent.post('/api/render/deploy', { github_repo: 'stat/shop', project_name: 'stat-shop' });
  const done = await waitFinished(agent, res.json.id);
  t.is(done.status, 'live');
  const statuses = await statusesWhenPosted('stat', 'shop', done.commitSha, 2);
  t.deepEqual(statuses.map((s) => s.state), ['pending', 'success']);
  for (const s of statuses) {
    t.is(s.targetUrl, `${stack.config.baseUrl}/#/deployments/${done.id}`);
    t.is(s.context, `render-orchestrator/stat-shop (${done.request.ownerId})`, 'one context per service');
    t.is(s.login, 'stat');
  }
  t.regex(statuses[1]!.description!, /stat-shop is live/);
  await statusJobsDone();
  const mine = stack.github.calls.slice(callsBefore).filter((c) => c.login === 'stat');
  t.deepEqual(mine.filter((c) => c.path === '/api/v3/user'), [], 'the token\'s scopes came with the deploy\'s reads: no GET /user');
  t.is(mine.filter((c) => c.method === 'POST').length, 2);
});

test('a failed build: pending, then failure', async (t) => {
  const { agent } = await signedInWithKey(stack, 'statfail');
  addNodeRepo(stack, 'statfail', 'breaks');
  stack.render.failBuilds({ serviceName: 'statfail-breaks' }, 'build_failed');
  const res = await agent.post('/api/render/deploy', { github_repo: 'statfail/breaks', project_name: 'statfail-breaks' });
  const done = await waitFinished(agent, res.json.id);
  t.is(done.status, 'build_failed');
  t.deepEqual((await statusesWhenPosted('statfail', 'breaks', done.commitSha, 2)).map((s) => [s.state, s.description]), [
    ['pending', 'Deploying statfail-breaks to Render'], ['failure', 'Deploy of statfail-breaks ended: build_failed'],
  ]);
});

// Ended by the web process (a cancel, a cleared key) while its job waited between looks: the job was removed
// and nothing asked for the final status, so the commit said "Deploying …" for ever (a pending check on a
// pull request never ends). The web asks for it when it ends the deployment.
/** `<login>/slow` deployed, held building on Render once its pending status is on the commit. */
async function buildingWithPendingStatus(t: ExecutionContext, login: string) {
  const { agent } = await signedInWithKey(stack, login);
  addNodeRepo(stack, login, 'slow');
  t.teardown(stack.render.holdPhase({ serviceName: `${login}-slow` }, 'build_in_progress'));
  const res = await agent.post('/api/render/deploy', { github_repo: `${login}/slow`, project_name: `${login}-slow` });
  const building = await waitStatus(agent, res.json.id, 'build_in_progress');
  await statusesWhenPosted(login, 'slow', building.commitSha, 1);
  const statuses = async () => (await statusesWhenPosted(login, 'slow', building.commitSha, 2)).map((s) => [s.state, s.description]);
  return { agent, id: res.json.id as string, statuses };
}

test('a deploy canceled while it builds: pending, then failure saying it was canceled', async (t) => {
  const { agent, id, statuses } = await buildingWithPendingStatus(t, 'statcancel');
  const canceled = await agent.post(`/api/render/deployments/${id}/cancel`);
  t.is(canceled.status, 200, canceled.text);
  t.deepEqual(await statuses(), [['pending', 'Deploying statcancel-slow to Render'], ['failure', 'Deploy of statcancel-slow ended: canceled']]);
});

// The context names the workspace since a release: a deploy in flight through it had its pending status posted by
// the version before, under the service's name alone, and its final one under the new context, so the old context
// stayed pending on the commit. A pending posted so (its state without the mark this version writes) gets the final
// status under both.
test('a deploy whose pending status an earlier version posted (the context without the workspace): its final status goes under both contexts', async (t) => {
  const { agent, id } = await buildingWithPendingStatus(t, 'statold');
  const key = `${stack.config.redisPrefix}:deployment:${id}:commit-status`;
  const redis = stack.web.deps.redis;
  await until('the pending status is marked posted', async () => ((await redis.hget(key, 'posted')) === 'pending' ? true : null));
  t.is(await redis.hget(key, 'ctx'), '2', 'this version marks what it posted');
  await redis.hdel(key, 'ctx'); // as the version before left it
  t.is((await agent.post(`/api/render/deployments/${id}/cancel`)).status, 200);
  const rec = (await agent.get(`/api/render/deployments/${id}`)).json;
  const all = await statusesWhenPosted('statold', 'slow', rec.commitSha, 3);
  t.deepEqual(all.map((s) => [s.context, s.state]), [
    [`render-orchestrator/statold-slow (${rec.request.ownerId})`, 'pending'],
    [`render-orchestrator/statold-slow (${rec.request.ownerId})`, 'failure'],
    ['render-orchestrator/statold-slow', 'failure'],
  ]);
});

test('the Render key cleared while its deploy builds: pending, then failure (the session and its GitHub token stay)', async (t) => {
  const { agent, id, statuses } = await buildingWithPendingStatus(t, 'statclear');
  t.is((await agent.post('/api/render/clear-credentials')).status, 200);
  t.is((await agent.get(`/api/render/deployments/${id}`)).json.status, 'credentials_revoked');
  t.deepEqual(await statuses(), [['pending', 'Deploying statclear-slow to Render'], ['failure', 'Deploy of statclear-slow ended: credentials_revoked']]);
});

// The deploy's own check (its job's next look) found the key gone before the clear's route wrote the end:
// that run wrote it, the route's write was not made, and neither asked for the final status (the route asks
// only for the ends it writes): the commit said "Deploying …" for ever. (A rehearsal under load met it.) The
// test stops the clear where that race is decided: the key taken from the session, the route not yet further.
test('the Render key cleared while its deploy builds, the deploy\'s own check ending it first: failure all the same', async (t) => {
  const { agent, id, statuses } = await buildingWithPendingStatus(t, 'statcheck');
  // Where the clear's route stands between its two writes: the key is gone from the session, the deployment
  // not yet ended (the store's own step, which the route follows with the revocation it races the check to).
  const rec = await stack.web.deps.deployments.get(id);
  await stack.web.deps.sessions.clearCredentials(rec!.sessionRef);
  await until('the deploy\'s own check ended it', async () => ((await agent.get(`/api/render/deployments/${id}`)).json.status === 'credentials_revoked' ? true : null));
  t.deepEqual(await statuses(), [['pending', 'Deploying statcheck-slow to Render'], ['failure', 'Deploy of statcheck-slow ended: credentials_revoked']]);
});

test('a token without the repo or repo:status scope: no status, no status request, the deploy is unaffected', async (t) => {
  const agent = stack.agent();
  await signInWithScope(agent, 'nostat', 'read:user');
  const apiKey = `rnd_nostat${'k'.repeat(24)}`;
  stack.render.addAccount({ apiKey, workspaces: [{ name: 'nostat workspace' }] });
  t.is((await agent.post('/api/render/setup', { api_key: apiKey })).status, 200);
  stack.github.addRepo({ owner: 'nostat', name: 'pub', branches: { main: { 'package.json': '{"scripts":{"start":"node i.js"}}', 'package-lock.json': '{}' } } });
  const scopeChecks = () => stack.github.calls.filter((c) => c.method === 'GET' && c.path === '/api/v3/user' && c.login === 'nostat').length;
  const checksBefore = scopeChecks();
  const res = await agent.post('/api/render/deploy', { github_repo: 'nostat/pub', project_name: 'nostat-pub' });
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  t.deepEqual(stack.github.statusesFor('nostat', 'pub', done.commitSha), []);
  // The deploy's own reads told the worker the token's scopes (X-OAuth-Scopes): its status jobs found
  // them in the worker's cache, asked GitHub nothing, and stopped there.
  await statusJobsDone();
  t.is(scopeChecks(), checksBefore, 'no GET /user: the scopes came with the deploy\'s reads');
  t.false(stack.github.calls.some((c) => c.method === 'POST' && c.path.includes('/repos/nostat/pub/statuses/')), 'no status was even attempted');
  t.deepEqual(stack.github.statusesFor('nostat', 'pub', done.commitSha), []);
});

test('the simulator refuses a status from a token without the scope (404) and accepts repo:status', async (t) => {
  addNodeRepo(stack, 'simstat', 'x');
  stack.github.addUser({ login: 'simstat', name: 'simstat' });
  const sha = (await (await fetch(`${stack.github.apiUrl}/repos/simstat/x/branches/main`, { headers: { authorization: `token ${stack.github.issueToken('simstat', 'repo')}` } })).json() as { commit: { sha: string } }).commit.sha;
  const post = (token: string) => fetch(`${stack.github.apiUrl}/repos/simstat/x/statuses/${sha}`, {
    method: 'POST', headers: { authorization: `token ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ state: 'success', context: 'c' }),
  });
  t.is((await post(stack.github.issueToken('simstat', 'read:user'))).status, 404);
  const ok = await post(stack.github.issueToken('simstat', 'read:user,repo:status'));
  t.is(ok.status, 201);
  t.is(ok.headers.get('x-oauth-scopes'), 'read:user, repo:status');
  t.deepEqual(stack.github.statusesFor('simstat', 'x', sha).map((s) => s.state), ['success']);
});

test('one commit deployed to two services: each has its own status, so one\'s failure is not hidden by the other\'s success', async (t) => {
  // GitHub keeps the newest status per context (the combined status): with one context for all, the
  // second service's success replaced the first one's failure (found by an adversarial review).
  const { agent } = await signedInWithKey(stack, 'mono');
  addNodeRepo(stack, 'mono', 'repo');
  stack.render.failBuilds({ serviceName: 'mono-api' }, 'build_failed');
  const api = await waitFinished(agent, (await agent.post('/api/render/deploy', { github_repo: 'mono/repo', project_name: 'mono-api' })).json.id);
  t.is(api.status, 'build_failed');
  await statusesWhenPosted('mono', 'repo', api.commitSha, 2);
  const web = await waitFinished(agent, (await agent.post('/api/render/deploy', { github_repo: 'mono/repo', project_name: 'mono-web' })).json.id);
  t.is(web.status, 'live');
  t.is(web.commitSha, api.commitSha, 'the same commit, two services');
  const all = await statusesWhenPosted('mono', 'repo', api.commitSha, 4);
  const newestPerContext = new Map<string, string>();
  for (const s of all) newestPerContext.set(s.context ?? 'default', s.state);
  t.deepEqual(Object.fromEntries(newestPerContext), { [`render-orchestrator/mono-api (${api.request.ownerId})`]: 'failure', [`render-orchestrator/mono-web (${web.request.ownerId})`]: 'success' });
});

// A redeploy or rollback asked for no pending status (it is asked at detection, which they skip): its commit
// went from the first deploy's success straight to the redeploy's final status, with nothing while it built
// (README: pending → success / failure). Each is held building until its pending status is on the commit.
test('a redeploy and a rollback: pending while they build, then success, on the commit each deploys', async (t) => {
  const { agent } = await signedInWithKey(stack, 'statagain');
  addNodeRepo(stack, 'statagain', 'svc');
  const first = await waitFinished(agent, (await agent.post('/api/render/deploy', { github_repo: 'statagain/svc', project_name: 'statagain-svc' })).json.id);
  t.is(first.status, 'live');
  const sha = first.commitSha as string;
  await statusesWhenPosted('statagain', 'svc', sha, 2);
  const states = () => stack.github.statusesFor('statagain', 'svc', sha).map((s) => s.state);

  for (const [i, ask] of [
    () => agent.post(`/api/render/services/${first.serviceId}/redeploy`, {}),
    () => agent.post(`/api/render/services/${first.serviceId}/rollback`, { deploy_id: first.deployId }),
  ].entries()) {
    const release = stack.render.holdPhase({ serviceName: 'statagain-svc' }, 'build_in_progress');
    t.teardown(release);
    const asked = await ask();
    t.is(asked.status, 202, asked.text);
    await waitStatus(agent, asked.json.id, 'build_in_progress');
    const seen = await statusesWhenPosted('statagain', 'svc', sha, 3 + 2 * i);
    t.is(seen.at(-1)!.state, 'pending', `${i ? 'rollback' : 'redeploy'}: ${states().join(', ')}`);
    t.is(seen.at(-1)!.targetUrl, `${stack.config.baseUrl}/#/deployments/${asked.json.id}`);
    release();
    t.is((await waitFinished(agent, asked.json.id)).status, 'live');
    t.is((await statusesWhenPosted('statagain', 'svc', sha, 4 + 2 * i)).at(-1)!.state, 'success');
  }
  t.deepEqual(states(), ['pending', 'success', 'pending', 'success', 'pending', 'success']);
});

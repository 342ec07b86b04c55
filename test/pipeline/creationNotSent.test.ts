import test, { type ExecutionContext } from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, QUICK_PHASES } from '../helpers/pipelineStack.js';
import { addNodeRepo, renderApi, renderCalls, renderDeploysOf, signedInWithKey, until, waitFinished } from '../helpers/pipeline.js';
import { budgetFrom, RENDER_DOCUMENTED_LIMITS } from '../../server/render/budget.js';
import { fingerprint } from '../../server/crypto/keyring.js';

// A deployment claims the service's name before it creates the service (server/deployments/nameClaims.ts),
// and a service under the name made after that, of its repo and branch, used to pass for one its creation
// made with the answer lost. But a run may claim the name and stop before its POST (the Render budget spent,
// Render's 429, a cancel): the service then made on Render's dashboard under the name was adopted by the
// retry (its env values overwritten, its first deploy followed as ours), or by a cancel's look (its first
// deploy canceled). Now only a creation marked sent on the claim, just before its POST (and taken back when
// Render refuses it), lets a service be adopted: workers/tasks/createService.ts, cancel.ts lostCreationMayExist.

/** The worker's window for service creations: one per key, so one slot spent elsewhere stops the next run's POST for that long. */
const CREATE_WINDOW_MS = 2_500;
const CANCEL_ROUTE = '/services/{serviceId}/deploys/{deployId}/cancel';

let stack: Stack;
usePipelineStack(test, {
  renderOptions: { phaseMs: QUICK_PHASES },
  worker: { renderLimits: { ...budgetFrom(RENDER_DOCUMENTED_LIMITS), createService: { limit: 1, windowMs: CREATE_WINDOW_MS } } },
}, (p) => ({ stack } = p));

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A signed-in user about to deploy `<login>/app` as a service named `<login>`; with `heldBuilds`, the
 * service's builds held in build_in_progress (a deploy a job might cancel stays in progress).
 */
async function userOf(t: ExecutionContext, login: string, heldBuilds = false) {
  const u = await signedInWithKey(stack, login);
  addNodeRepo(stack, login, 'app');
  const releaseBuilds = heldBuilds ? stack.render.holdPhase({ serviceName: login }, 'build_in_progress') : () => undefined;
  t.teardown(releaseBuilds);
  const deploy = async () => {
    const res = await u.agent.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: login, env_vars: { GREETING: 'ours' } });
    t.is(res.status, 202, res.text);
    return res.json.id as string;
  };
  return { ...u, login, releaseBuilds, deploy };
}

/** The key's one service creation of the window spent (elsewhere): the next run to create one stops before its POST. */
async function creationBudgetSpent(apiKey: string) {
  await stack.web.deps.budget.acquireOrThrow(fingerprint(apiKey, stack.web.deps.keyring), { method: 'POST', route: '/services' });
}

/** Deployment `id` holds the claim of the name `login` in the workspace. */
const nameClaimed = (u: { ownerId: string; login: string }, id: string) =>
  until('the name claimed', async () => (await stack.web.deps.deployments.serviceNameClaim(u.ownerId, u.login))?.id === id, 10_000);

/** On Render's dashboard (another client of the key), the user or a teammate makes a service under the name, of the same repo and branch. */
async function madeOnTheDashboard(u: { apiKey: string; ownerId: string; login: string }): Promise<string> {
  await pause(20); // after the claim, on any clock
  const theirs = await renderApi(stack, u.apiKey, 'POST', '/services', {
    type: 'web_service', name: u.login, ownerId: u.ownerId, repo: `https://github.com/${u.login}/app`, branch: 'main', autoDeploy: 'no',
    envVars: [{ key: 'GREETING', value: 'theirs' }],
    serviceDetails: { runtime: 'node', envSpecificDetails: { buildCommand: 'echo theirs', startCommand: 'node theirs.js' } },
  });
  return theirs.service.id as string;
}

const envOf = async (apiKey: string, serviceId: string) =>
  ((await renderApi(stack, apiKey, 'GET', `/services/${serviceId}/env-vars?limit=100`)) as Array<{ envVar: { key: string; value: string } }>).map((e) => `${e.envVar.key}=${e.envVar.value}`);

/** The deployment ended refusing the dashboard's service, which kept its env values and its one deploy. */
async function refusedTheirs(t: ExecutionContext, u: { agent: any; apiKey: string; accountId: string }, id: string, theirId: string) {
  const done = await waitFinished(u.agent, id);
  t.deepEqual(await envOf(u.apiKey, theirId), ['GREETING=theirs'], 'its env values are untouched');
  t.is(renderCalls(stack, u.accountId, 'PUT', '/services/{serviceId}/env-vars/{envVarKey}').length, 0);
  t.is((await renderDeploysOf(stack, u.apiKey, theirId)).length, 1, 'no deploy was asked of it');
  t.not(done.serviceId, theirId, 'the deployment does not take over the dashboard\'s service');
  t.false(done.timeline.some((e: { note?: string | null }) => /created by this deployment/.test(e.note ?? '')), JSON.stringify(done.timeline));
  t.is(done.status, 'failed');
  t.is(done.failure?.code, 'service_name_taken');
}

test('a run that claimed the name and ran out of Render budget before its POST: its retry refuses the service made on the dashboard meanwhile', async (t) => {
  const u = await userOf(t, 'nosend-budget');
  await creationBudgetSpent(u.apiKey);
  const id = await u.deploy();
  t.is((await stack.web.deps.deployments.get(id))?.keyFingerprint, fingerprint(u.apiKey, stack.web.deps.keyring), 'the budget spent is the deployment\'s key\'s');
  await nameClaimed(u, id);
  const theirId = await madeOnTheDashboard(u);
  t.is(renderCalls(stack, u.accountId, 'POST', '/services').length, 1, 'the dashboard\'s creation only: the run sent none');
  await refusedTheirs(t, u, id, theirId);
});

test('a run whose POST Render refused with 429: its retry refuses the service made on the dashboard meanwhile', async (t) => {
  const u = await userOf(t, 'nosend-429');
  const limited = stack.render.setFault({ method: 'POST', route: '/services', apiKey: u.apiKey, kind: 'status', status: 429, ms: 1_000, count: 1 });
  t.teardown(() => stack.render.clearFault(limited));
  const id = await u.deploy();
  await until('Render refused the creation', async () => renderCalls(stack, u.accountId, 'POST', '/services').find((c) => c.status === 429), 10_000);
  // The retry's lookup by name waits until the dashboard's service exists.
  const lookup = stack.render.holdRequest({ method: 'GET', route: '/services', apiKey: u.apiKey });
  t.teardown(lookup.release);
  const theirId = await madeOnTheDashboard(u);
  lookup.release();
  await refusedTheirs(t, u, id, theirId);
});

test('a 409 to a retry\'s creation, the run before it having stopped before its POST: the service made on the dashboard meanwhile is not adopted', async (t) => {
  const u = await userOf(t, 'nosend-409');
  await creationBudgetSpent(u.apiKey);
  const id = await u.deploy();
  await nameClaimed(u, id);
  // The retry (once the budget has a slot again) finds no service, keeps the claim and asks for the creation, held on Render.
  const creating = stack.render.holdRequest({ method: 'POST', route: '/services', apiKey: u.apiKey });
  t.teardown(creating.release);
  await creating.arrived;
  const theirId = await madeOnTheDashboard(u);
  creating.release();
  await refusedTheirs(t, u, id, theirId);
  t.is(renderCalls(stack, u.accountId, 'POST', '/services').find((c) => c.status === 409)?.status, 409, 'Render refused the retry\'s creation');
});

/** No cancel of a deploy reached Render for `accountId` within a while (a job taking the dashboard's service for its own would have sent one). */
async function nothingCanceled(t: ExecutionContext, accountId: string) {
  await until('a cancel on Render', async () => renderCalls(stack, accountId, 'POST', CANCEL_ROUTE).length > 0, 3_000).catch(() => null);
  t.is(renderCalls(stack, accountId, 'POST', CANCEL_ROUTE).length, 0, 'nothing canceled on Render');
}

/** After the cancel: nothing canceled on Render, their service's own deploy builds on, its env as they set it, the record canceled without it. */
async function canceledLeavingTheirs(t: ExecutionContext, u: Awaited<ReturnType<typeof userOf>>, id: string, theirId: string) {
  await nothingCanceled(t, u.accountId);
  const deploys = await renderDeploysOf(stack, u.apiKey, theirId);
  t.is(deploys.length, 1, 'no deploy asked for');
  t.is(deploys[0]?.status, 'build_in_progress', 'the service\'s own deploy builds on');
  const done = (await u.agent.get(`/api/render/deployments/${id}`)).json;
  t.is(done.status, 'canceled');
  t.is(done.serviceId, null, 'somebody else\'s service is not noted');
  t.deepEqual(await envOf(u.apiKey, theirId), ['GREETING=theirs']);
}

test('a deploy canceled in creating_service after its run ran out of budget before its POST: the service made on the dashboard is never touched', async (t) => {
  const u = await userOf(t, 'nosend-cancel', true);
  await creationBudgetSpent(u.apiKey);
  const id = await u.deploy();
  await nameClaimed(u, id);
  const theirId = await madeOnTheDashboard(u);
  await until('their first deploy building', async () => (await renderDeploysOf(stack, u.apiKey, theirId)).find((d) => d.status === 'build_in_progress'));
  t.like((await u.agent.get(`/api/render/deployments/${id}`)).json, { status: 'creating_service', serviceId: null });
  const canceled = await u.agent.post(`/api/render/deployments/${id}/cancel`);
  t.is(canceled.status, 200, canceled.text);
  await canceledLeavingTheirs(t, u, id, theirId);
  t.is(renderCalls(stack, u.accountId, 'POST', '/services').length, 1, 'the dashboard\'s creation only');
  u.releaseBuilds();
});

test('a deploy canceled while its creation is on its way, Render answering 409 for a service made on the dashboard meanwhile: that service is never touched', async (t) => {
  const u = await userOf(t, 'nosend-cancel409', true);
  const creating = stack.render.holdRequest({ method: 'POST', route: '/services', apiKey: u.apiKey });
  t.teardown(creating.release);
  const id = await u.deploy();
  await creating.arrived;
  const theirId = await madeOnTheDashboard(u);
  await until('their first deploy building', async () => (await renderDeploysOf(stack, u.apiKey, theirId)).find((d) => d.status === 'build_in_progress'));
  const canceling = u.agent.post(`/api/render/deployments/${id}/cancel`);
  await until('the record canceled', async () => (await u.agent.get(`/api/render/deployments/${id}`)).json.status === 'canceled', 10_000);
  creating.release();
  const canceled = await canceling;
  t.is(canceled.status, 200, canceled.text);
  await until('Render refused the creation', async () => renderCalls(stack, u.accountId, 'POST', '/services').find((c) => c.status === 409), 10_000);
  await canceledLeavingTheirs(t, u, id, theirId);
  u.releaseBuilds();
});

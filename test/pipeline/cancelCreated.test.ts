import test, { type ExecutionContext } from 'ava';
import type { Stack } from '../helpers/stack.js';
import { useGitHubLinkedPipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, renderApi, renderCalls, renderDeploysOf, signedInWithKey, until, waitFinished, waitStatus } from '../helpers/pipeline.js';

// A deploy (no commit named) whose service Render created with an answer that named no deploy is
// `created` with a service id and no deploy id until its watch finds the service's first deploy, which
// is its own. A user's cancel then had no deploy id to cancel on Render, and cancelOwedOnRender owed
// nothing (no ask of ours to look for, no render_queued): the route removed the job, or the run that was
// looking recorded nothing, and the first build ran on and went live for a deployment that says
// canceled. So did one canceled while Render created the service: the run that created it stopped the
// first deploy only when the answer named it. Now the cancel keeps a job that finds that deploy as the
// service's first deploy (made after the record) and cancels it on Render (server/deployments/cancel.ts
// firstDeployOwedCancel, workers/tasks/canceledAsk.ts). A deploy the deployment did not make is never
// taken for it: a redeploy's (or rollback's) record is never owed this, and an existing service's
// deploys are older than the record (the last test holds with either guard alone).

let stack: Stack;
useGitHubLinkedPipelineStack(test, (p) => {
  ({ stack } = p);
});

const CANCEL_ROUTE = '/services/{serviceId}/deploys/{deployId}/cancel';
const LIST_ROUTE = '/services/{serviceId}/deploys';

/**
 * A signed-in user whose deploy of `<login>/app` is about to be asked for: Render's answer to the
 * service's creation will name no deploy, and the service's builds are held in build_in_progress
 * until `releaseBuilds`.
 */
async function creationNamingNoDeploy(t: ExecutionContext, login: string) {
  const user = await signedInWithKey(stack, login);
  addNodeRepo(stack, login, 'app');
  const releaseBuilds = stack.render.holdPhase({ serviceName: login }, 'build_in_progress');
  t.teardown(releaseBuilds);
  stack.render.setFault({ method: 'POST', route: '/services', apiKey: user.apiKey, kind: 'without', fields: ['deployId'], count: 1 });
  return { ...user, login, releaseBuilds, deploy: () => user.agent.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: login }) };
}

/** After the user's cancel: a cancel of the service's first deploy that Render took (null: none within 10 s). */
const firstDeployStopped = (accountId: string) =>
  until('a cancel that Render took', async () => renderCalls(stack, accountId, 'POST', CANCEL_ROUTE).find((c) => c.status === 200), 10_000).catch(() => null);

test('a deploy canceled while `created`, its first deploy not yet listed: that deploy is canceled on Render, nothing goes live', async (t) => {
  const u = await creationNamingNoDeploy(t, 'createdcancel');
  // Render does not list the new service's deploys yet: the watch looks again (a delayed job).
  const unlisted = stack.render.setFault({ method: 'GET', route: LIST_ROUTE, apiKey: u.apiKey, kind: 'body', body: [] });
  t.teardown(() => stack.render.clearFault(unlisted));
  const res = await u.deploy();
  t.is(res.status, 202, res.text);
  const created = await waitStatus(u.agent, res.json.id, 'created');
  t.truthy(created.serviceId);
  t.is(created.deployId ?? null, null, 'the creation named no deploy');
  await until('the watch looked', async () => renderCalls(stack, u.accountId, 'GET', LIST_ROUTE).length > 0, 10_000);

  const canceled = await u.agent.post(`/api/render/deployments/${res.json.id}/cancel`);
  t.is(canceled.status, 200, canceled.text);
  t.is(canceled.json.status, 'canceled');
  // Render lists the deploy now.
  stack.render.clearFault(unlisted);
  const stopped = await firstDeployStopped(u.accountId);
  u.releaseBuilds();
  const deploys = await renderDeploysOf(stack, u.apiKey, created.serviceId);
  t.is(deploys.length, 1);
  t.truthy(stopped, `the first deploy is canceled after the user's cancel, not left building (${deploys[0]?.status})`);
  t.is(deploys[0]?.status, 'canceled');
  t.false(deploys.some((d) => d.status === 'live'), 'nothing went live');
  t.is(renderCalls(stack, u.accountId, 'POST', LIST_ROUTE).length, 0, 'no other deploy asked for');
  const done = await waitFinished(u.agent, res.json.id);
  t.is(done.status, 'canceled');
  t.is(done.deployId ?? null, null);
});

test('a deploy canceled while `created` as its watch\'s first look is on its way: that run cancels the first deploy it then finds', async (t) => {
  const u = await creationNamingNoDeploy(t, 'createdlook');
  const look = stack.render.holdRequest({ method: 'GET', route: LIST_ROUTE, apiKey: u.apiKey });
  t.teardown(look.release);
  const res = await u.deploy();
  t.is(res.status, 202, res.text);
  await look.arrived;
  const created = (await u.agent.get(`/api/render/deployments/${res.json.id}`)).json;
  t.is(created.status, 'created');
  t.is(created.deployId ?? null, null);

  const canceled = await u.agent.post(`/api/render/deployments/${res.json.id}/cancel`);
  t.is(canceled.status, 200, canceled.text);
  t.is(canceled.json.status, 'canceled');
  look.release();
  const stopped = await firstDeployStopped(u.accountId);
  u.releaseBuilds();
  const deploys = await renderDeploysOf(stack, u.apiKey, created.serviceId);
  t.truthy(stopped, `the first deploy is canceled after the user's cancel, not left building (${deploys[0]?.status})`);
  t.is(deploys[0]?.status, 'canceled');
  t.false(deploys.some((d) => d.status === 'live'), 'nothing went live');
  t.is((await waitFinished(u.agent, res.json.id)).status, 'canceled');
});

test('a deploy canceled while Render creates its service, whose answer names no deploy: the service is noted on the record and its first deploy canceled', async (t) => {
  // The run that created the service cannot write `created` on a canceled record: it stopped the first
  // deploy only when the answer named it, and noted the service only then.
  const u = await creationNamingNoDeploy(t, 'creatingcancel');
  const creating = stack.render.holdRequest({ method: 'POST', route: '/services', apiKey: u.apiKey });
  t.teardown(creating.release);
  const res = await u.deploy();
  t.is(res.status, 202, res.text);
  await creating.arrived;
  t.is((await u.agent.get(`/api/render/deployments/${res.json.id}`)).json.status, 'creating_service');

  const canceled = await u.agent.post(`/api/render/deployments/${res.json.id}/cancel`);
  t.is(canceled.status, 200, canceled.text);
  t.is(canceled.json.status, 'canceled');
  creating.release();
  const stopped = await firstDeployStopped(u.accountId);
  u.releaseBuilds();
  const done = await waitFinished(u.agent, res.json.id);
  t.is(done.status, 'canceled');
  const services = (await renderApi(stack, u.apiKey, 'GET', `/services?name=${u.login}`)) as Array<{ service: { id: string } }>;
  t.is(services.length, 1);
  const serviceId = services[0]!.service.id;
  t.is(done.serviceId, serviceId, 'the record says where the service is');
  const deploys = await renderDeploysOf(stack, u.apiKey, serviceId);
  t.truthy(stopped, `the first deploy is canceled, not left building (${deploys[0]?.status})`);
  t.is(deploys[0]?.status, 'canceled');
  t.false(deploys.some((d) => d.status === 'live'), 'nothing went live');
});

test('a redeploy of an existing service canceled before it asks for a deploy: the service\'s own first deploy, still building, is never canceled', async (t) => {
  // The service was made outside this deployment (here with the key, outside the app), before its record:
  // its first deploy, building, is not this deployment's, though the record has the service's id and no deploy id.
  const login = 'createdguard';
  const u = await signedInWithKey(stack, login);
  addNodeRepo(stack, login, 'app');
  const head = stack.github.branchHead(login, 'app', 'main')!;
  const releaseBuilds = stack.render.holdPhase({ serviceName: login }, 'build_in_progress');
  t.teardown(releaseBuilds);
  const made = await renderApi(stack, u.apiKey, 'POST', '/services', {
    type: 'web_service', name: login, ownerId: u.ownerId, repo: `https://github.com/${login}/app`, branch: 'main', autoDeploy: 'yes',
    serviceDetails: { runtime: 'node', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'node index.js' } },
  });
  const serviceId = made.service.id as string;
  await until('the service\'s first deploy building', async () => (await renderDeploysOf(stack, u.apiKey, serviceId)).find((d) => d.status === 'build_in_progress'));
  // Render fails the redeploy's check of the commit against the service's deploys: its job waits to try
  // again (a delayed job), triggering_deploy, nothing asked.
  const failing = stack.render.setFault({ method: 'GET', route: LIST_ROUTE, apiKey: u.apiKey, kind: 'status', status: 503 });
  t.teardown(() => stack.render.clearFault(failing));
  const asked = await u.agent.post(`/api/render/services/${serviceId}/redeploy`, { commit_sha: head });
  t.is(asked.status, 202, asked.text);
  await until('the check failed', async () => renderCalls(stack, u.accountId, 'GET', LIST_ROUTE).some((c) => c.status === 503), 10_000);
  const before = (await u.agent.get(`/api/render/deployments/${asked.json.id}`)).json;
  t.like(before, { status: 'triggering_deploy', serviceId, deployId: null });

  const canceled = await u.agent.post(`/api/render/deployments/${asked.json.id}/cancel`);
  t.is(canceled.status, 200, canceled.text);
  t.is(canceled.json.status, 'canceled');
  stack.render.clearFault(failing);
  t.is((await waitFinished(u.agent, asked.json.id)).status, 'canceled');
  // Time for a job that (wrongly) looked for a deploy to cancel to have done so.
  await new Promise((r) => setTimeout(r, 1_500));
  t.is(renderCalls(stack, u.accountId, 'POST', CANCEL_ROUTE).length, 0, 'nothing canceled on Render');
  const deploys = await renderDeploysOf(stack, u.apiKey, serviceId);
  t.is(deploys.length, 1, 'no deploy asked for');
  t.is(deploys[0]?.status, 'build_in_progress', 'the service\'s own deploy builds on');
});

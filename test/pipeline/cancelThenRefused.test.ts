import test, { type ExecutionContext } from 'ava';
import type { Stack } from '../helpers/stack.js';
import { useGitHubLinkedPipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, redeployQueuedBehindRollback, renderCalls, renderDeploysOf, signedInWithKey, until, waitFinished } from '../helpers/pipeline.js';

// A user's cancel that lands while the worker's run is mid-step, on a deployment whose deploy on
// Render is still owed a cancel (server/deployments/cancel.ts cancelOwedOnRender): the route cannot
// take the job from the run that holds it (deployQueue.ts requeueDeployJob leaves it), so that run is
// the one left to cancel Render's deploy (workers/tasks/canceledAsk.ts). It did so when its step came
// back and the run ended as usual, but not when the step threw an error that ends a run (a Render 4xx,
// a GitHub refusal, a DeployFailed): the run tried to write `failed` over the canceled record, which
// refused it, and the job ended. Render's deploy built on and went live under a deployment that says
// canceled. Here the call the run is making when the cancel lands is held on Render, then refused (403).

let stack: Stack;
useGitHubLinkedPipelineStack(test, (p) => {
  ({ stack } = p);
});

const CANCEL_ROUTE = '/services/{serviceId}/deploys/{deployId}/cancel';
const LIST_ROUTE = '/services/{serviceId}/deploys';
const DEPLOY_ROUTE = '/services/{serviceId}/deploys/{deployId}';

/**
 * The next request of this key to `route` is held on Render and then answered 403: the fault is planned
 * as the request arrives, before the hold, so the held request is the refused one.
 */
function heldThenRefused(t: ExecutionContext, apiKey: string, method: string, route: string) {
  const fault = stack.render.setFault({ method, route, apiKey, kind: 'status', status: 403, count: 1 });
  const held = stack.render.holdRequest({ method, route, apiKey });
  t.teardown(() => {
    held.release();
    stack.render.clearFault(fault);
  });
  return held;
}

/** After the user's cancel: a cancel of a deploy on Render that Render took (null: none within 10 s). */
const canceledOnRender = (accountId: string, deployId?: string) =>
  until('a cancel that Render took', async () =>
    renderCalls(stack, accountId, 'POST', CANCEL_ROUTE).find((c) => c.status === 200 && (!deployId || c.path.includes(deployId))), 10_000).catch(() => null);

test.serial('a deploy canceled while `created` as its watch\'s look is on its way, which Render then refuses: the first deploy is still canceled on Render', async (t) => {
  const login = 'createdrefused';
  const u = await signedInWithKey(stack, login);
  addNodeRepo(stack, login, 'app');
  const releaseBuilds = stack.render.holdPhase({ serviceName: login }, 'build_in_progress');
  t.teardown(releaseBuilds);
  // The service's creation answer names no deploy: the record is `created` with no deploy id, and its
  // watch looks for the service's first deploy (cancel.ts firstDeployOwedCancel).
  stack.render.setFault({ method: 'POST', route: '/services', apiKey: u.apiKey, kind: 'without', fields: ['deployId'], count: 1 });
  const look = heldThenRefused(t, u.apiKey, 'GET', LIST_ROUTE);
  const res = await u.agent.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: login });
  t.is(res.status, 202, res.text);
  await look.arrived;
  const created = (await u.agent.get(`/api/render/deployments/${res.json.id}`)).json;
  t.like(created, { status: 'created', deployId: null });

  const canceled = await u.agent.post(`/api/render/deployments/${res.json.id}/cancel`);
  t.is(canceled.status, 200, canceled.text);
  t.is(canceled.json.status, 'canceled');
  look.release();
  await until('the refused look', async () => renderCalls(stack, u.accountId, 'GET', LIST_ROUTE).find((c) => c.status === 403), 10_000);
  const stopped = await canceledOnRender(u.accountId);
  releaseBuilds();
  const deploys = await renderDeploysOf(stack, u.apiKey, created.serviceId);
  t.is(deploys.length, 1);
  t.truthy(stopped, `the first deploy is canceled after the user's cancel, not left building (${deploys[0]?.status})`);
  t.is(deploys[0]?.status, 'canceled');
  t.false(deploys.some((d) => d.status === 'live'), 'nothing went live');
  const done = await waitFinished(u.agent, res.json.id);
  t.is(done.status, 'canceled');
  t.is(done.failure?.message, 'You canceled this deploy.', 'the record says canceled, not the refusal');
});

test.serial('a redeploy canceled while its named deploy waits in Render\'s queue and its watch\'s look, on its way, is refused: that deploy is canceled once it starts', async (t) => {
  const { u, running, finishRunning, releaseBuild, id, deployId } = await redeployQueuedBehindRollback(t, stack, 'queuedrefused');
  // The watch's next look at the queued deploy waits on Render until the cancel is answered, then is refused.
  const look = heldThenRefused(t, u.apiKey, 'GET', DEPLOY_ROUTE);
  await look.arrived;

  // The route sees the deploy still queued on Render (Render cancels it only once it starts): its job is owed that cancel.
  const canceled = await u.agent.post(`/api/render/deployments/${id}/cancel`);
  t.is(canceled.status, 200, canceled.text);
  t.is(canceled.json.status, 'canceled');
  look.release();
  await until('the refused look', async () => renderCalls(stack, u.accountId, 'GET', DEPLOY_ROUTE).find((c) => c.status === 403), 10_000);
  finishRunning(); // the running deploy ends: ours leaves the queue
  await until('the redeploy\'s deploy started', async () =>
    (await renderDeploysOf(stack, u.apiKey, u.serviceId)).find((d) => d.id === deployId && d.status !== 'queued'));
  const stopped = await canceledOnRender(u.accountId, deployId);
  releaseBuild();
  const after = await renderDeploysOf(stack, u.apiKey, u.serviceId);
  t.truthy(stopped, `the queued deploy of a canceled deployment is canceled on Render (${after.find((d) => d.id === deployId)?.status})`);
  t.is(after.find((d) => d.id === deployId)?.status, 'canceled');
  t.is(after.find((d) => d.id === running)?.status, 'live', 'the running deploy, someone else\'s, went on');
  const rec = await waitFinished(u.agent, id);
  t.is(rec.status, 'canceled');
  t.is(rec.timeline.filter((e: { status: string }) => e.status === 'canceled').length, 1, 'the record was canceled once');
});

import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, renderApi, renderCalls, renderDeploysOf, signedInWithKey, until, waitFinished, type TestWorker } from '../helpers/pipeline.js';

// A redeploy asks Render for a deploy of its own. It used to take over any deploy of the service created
// after the record (meant for a deploy whose service this deployment created, or a retry whose answer was
// lost): a deploy someone started meanwhile — in Render's dashboard, by a push — became this record's, and
// the redeploy asked for was never made.
// Serial: each test pauses and resumes the one worker.
let stack: Stack;
let worker: TestWorker;
usePipelineStack(test, { renderOptions: { phaseMs: { created: 20, build_in_progress: 100, pre_deploy_in_progress: 20, update_in_progress: 40 } } }, (p) => {
  ({ stack, worker } = p);
});

test.serial('a redeploy never takes over a deploy someone else started on the service meanwhile', async (t) => {
  const { agent, apiKey, accountId } = await signedInWithKey(stack, 'adopter');
  addNodeRepo(stack, 'adopter', 'site');
  const first = await agent.post('/api/render/deploy', { github_repo: 'adopter/site', project_name: 'site' });
  t.is(first.status, 202, first.text);
  const done = await waitFinished(agent, first.json.id);
  t.is(done.status, 'live', JSON.stringify(done.failure));

  // The redeploy is recorded while no worker takes jobs; then a deploy is started on Render by someone else.
  await worker.worker.pause();
  t.teardown(() => worker.worker.resume());
  const again = await agent.post(`/api/render/services/${done.serviceId}/redeploy`);
  t.is(again.status, 202, again.text);
  const foreign = await fetch(`${stack.render.url}/services/${done.serviceId}/deploys`, {
    method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: '{}',
  });
  t.is(foreign.status, 201, 'the other deploy starts at once (the service is idle)');
  const foreignId = ((await foreign.json()) as { id: string }).id;
  const triggers = () => renderCalls(stack, accountId, 'POST', '/services/{serviceId}/deploys').filter((c) => c.path.includes(done.serviceId as string)).length;
  const triggersBefore = triggers();
  await worker.worker.resume();

  const redeployed = await waitFinished(agent, again.json.id);
  t.is(redeployed.status, 'live', JSON.stringify(redeployed.failure));
  t.not(redeployed.deployId, foreignId, 'the redeploy is its own deploy, not the one started meanwhile');
  t.is(triggers(), triggersBefore + 1, 'the redeploy asked Render for its deploy');
});

// Someone's deploy made just before the redeploy's ask, on an idle service, runs; Render queues ours behind it
// (202). By the first look for ours among the queued ones, theirs has finished and ours has started: the
// record says render_queued, and the checks look at every deploy made since the ask. Render's clock cannot
// tell theirs from ours by when they were made (its Date is to the second), theirs is the older, and it was
// taken: the redeploy followed someone else's deploy. Theirs was made while the service was idle, so Render
// would have answered 201 for it, not the 202 ours got.
test.serial('a redeploy Render queued never takes the deploy it was queued behind', async (t) => {
  const { agent, apiKey, accountId } = await signedInWithKey(stack, 'queuedbehind');
  addNodeRepo(stack, 'queuedbehind', 'site');
  const first = await waitFinished(agent, (await agent.post('/api/render/deploy', { github_repo: 'queuedbehind/site', project_name: 'qb-site' })).json.id);
  t.is(first.status, 'live', JSON.stringify(first.failure));
  const serviceId = first.serviceId as string;

  await worker.worker.pause();
  t.teardown(() => worker.worker.resume());
  const again = await agent.post(`/api/render/services/${serviceId}/redeploy`);
  t.is(again.status, 202, again.text);
  const finishForeign = stack.render.holdPhase({ serviceId }, 'update_in_progress');
  t.teardown(finishForeign);
  const foreignId = (await renderApi(stack, apiKey, 'POST', `/services/${serviceId}/deploys`, {})).id as string;
  await until('the other deploy running', async () => (await renderDeploysOf(stack, apiKey, serviceId)).find((d) => d.id === foreignId && d.status === 'update_in_progress'));

  // The worker asks (Render queues ours: 202), then looks among the queued deploys: that look is held
  // until theirs has finished and ours has left the queue.
  const triggersBefore = renderCalls(stack, accountId, 'POST', '/services/{serviceId}/deploys').length;
  const look = stack.render.holdRequest({ method: 'GET', route: '/services/{serviceId}/deploys', apiKey });
  t.teardown(look.release);
  await worker.worker.resume();
  await look.arrived;
  t.is(renderCalls(stack, accountId, 'POST', '/services/{serviceId}/deploys').length, triggersBefore + 1, 'the held look came after the ask');
  finishForeign();
  const ours = await until('ours out of the queue', async () => (await renderDeploysOf(stack, apiKey, serviceId))
    .find((d) => d.id !== foreignId && d.id !== first.deployId && d.status !== 'queued'));
  look.release();

  const redeployed = await waitFinished(agent, again.json.id);
  t.true(redeployed.timeline.some((e: { status: string }) => e.status === 'render_queued'), 'the look found none queued: the record said render_queued');
  t.is(redeployed.status, 'live', JSON.stringify(redeployed.failure));
  t.is(redeployed.deployId, ours.id, 'the redeploy follows the deploy its ask made, not the one it was queued behind');
});

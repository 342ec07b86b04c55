import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, renderCalls, signedInWithKey, waitFinished, type TestWorker } from '../helpers/pipeline.js';

// A redeploy asks Render for a deploy of its own. It used to take over any deploy of the service created
// after the record (meant for a deploy whose service this deployment created, or a retry whose answer was
// lost): a deploy someone started meanwhile — in Render's dashboard, by a push — became this record's, and
// the redeploy asked for was never made.
let stack: Stack;
let worker: TestWorker;
usePipelineStack(test, { renderOptions: { phaseMs: { created: 20, build_in_progress: 100, pre_deploy_in_progress: 20, update_in_progress: 40 } } }, (p) => {
  ({ stack, worker } = p);
});

test('a redeploy never takes over a deploy someone else started on the service meanwhile', async (t) => {
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

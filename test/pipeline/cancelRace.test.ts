import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, type PipelineStack } from '../helpers/pipelineStack.js';
import { signedInWithKey, addNodeRepo, waitFinished } from '../helpers/pipeline.js';

// A cancel that comes after the deploy already ended on Render, before the worker has seen it: nothing
// is left to cancel, so the answer is 409 and the record is not marked canceled (the worker records it
// live). Before, a deploy Render no longer ran was taken as canceled: the record said "canceled" for a
// service that was live on Render (and under load the deploy test's cancel flaked on it).
let stack: Stack;
let pipeline: PipelineStack;
usePipelineStack(test, { renderOptions: { manualDeploys: true } }, (p) => ({ stack, pipeline } = { stack: p.stack, pipeline: p }));

test('a cancel after the deploy ended on Render is a 409, and the deploy is recorded live', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'latecancel');
  addNodeRepo(stack, 'latecancel', 'app');
  const id = (await agent.post('/api/render/deploy', { github_repo: 'latecancel/app', project_name: 'latecancel-app' })).json.id as string;
  let rec: { serviceId?: string; deployId?: string; status: string } | undefined;
  for (let i = 0; i < 400 && !rec?.deployId; i++) {
    rec = (await agent.get(`/api/render/deployments/${id}`)).json;
    if (!rec?.deployId) await new Promise((r) => setTimeout(r, 25));
  }
  t.truthy(rec?.deployId, 'Render has the deploy');
  // The worker stops watching; on Render the deploy goes live meanwhile.
  await pipeline.worker.close(5_000);
  const onRender = async () => ((await (await fetch(`${stack.render.url}/services/${rec!.serviceId}/deploys/${rec!.deployId}`, { headers: { authorization: `Bearer ${apiKey}` } })).json()) as { status: string }).status;
  for (let i = 0; i < 10 && (await onRender()) !== 'live'; i++) stack.render.advanceDeploy(rec!.deployId!);
  t.is(await onRender(), 'live');

  const cancel = await agent.post(`/api/render/deployments/${id}/cancel`);
  t.is(cancel.status, 409, cancel.text);
  t.is(cancel.json.error.code, 'deployment_finished');
  t.not((await agent.get(`/api/render/deployments/${id}`)).json.status, 'canceled');

  await pipeline.startWorker();
  t.is((await waitFinished(agent, id)).status, 'live');
});

import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, type PipelineStack } from '../helpers/pipelineStack.js';
import { signedInWithKey, addNodeRepo, waitFinished } from '../helpers/pipeline.js';
import { waitUntil } from '../helpers/wait.js';
import { cancelDeployment } from '../../server/deployments/cancel.js';
import type { RenderClient } from '../../server/render/client.js';

// A cancel that comes after the deploy already ended on Render, before the worker has seen it: nothing
// is left to cancel, so the answer is 409 and the record is not marked canceled (the worker records it
// live). Before, a deploy Render no longer ran was taken as canceled: the record said "canceled" for a
// service that was live on Render (and under load the deploy test's cancel flaked on it).
// And a cancel the worker's watch records first: it sees Render's deploy canceled (by this cancel)
// between the cancel on Render and the record's write. The cancel did it, so it answers with the
// canceled record; before, it said 409 "ended before the cancel reached it" (the deployment-logs
// test's cancel flaked on it under load, where the watch's next look often falls in that gap).
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

test('a cancel whose Render cancel the worker records first still answers with the canceled record', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'watchfirst');
  addNodeRepo(stack, 'watchfirst', 'app');
  const id = (await agent.post('/api/render/deploy', { github_repo: 'watchfirst/app', project_name: 'watchfirst-app' })).json.id as string;
  const deps = stack.web.deps;
  const rec = await waitUntil('the Render deploy', async () => {
    const r = await deps.deployments.get(id);
    return r?.deployId ? r : null;
  }, 30_000, 25);
  stack.render.advanceDeploy(rec.deployId!); // building

  // The real client, with one ordering pinned: the cancel's answer comes back only once the worker
  // has recorded Render's cancel, the order a loaded machine sometimes gives.
  const client = deps.upstream.render(apiKey);
  const pinned: RenderClient = {
    ...client,
    async cancelDeploy(serviceId, deployId) {
      const deploy = await client.cancelDeploy(serviceId, deployId);
      await waitUntil('the worker to record the cancel', async () => (await deps.deployments.get(id))?.status === 'canceled', 30_000, 25);
      return deploy;
    },
  };
  const fresh = (await deps.deployments.get(id))!;
  const out = await cancelDeployment(deps, fresh, () => pinned);
  t.is(out.status, 'canceled');
  t.is(out.id, id);
  t.is((await waitFinished(agent, id)).status, 'canceled');

  // A second cancel finds it ended: 409, as before.
  const again = await agent.post(`/api/render/deployments/${id}/cancel`);
  t.is(again.status, 409, again.text);
});

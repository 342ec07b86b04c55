import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { startHoldingProxy, type HoldingProxy } from '../helpers/holdingProxy.js';
import { deployedLiveByHand, recordWithDeployId, renderDeploysOf, signedInWithKey, startTestWorker, until, waitFinished, type TestWorker } from '../helpers/pipeline.js';

// A service's records follow Render's order of its deploys (Render's createdAt), not the order our looks
// are written (workers/tasks/finishDeploy.ts followRenderOrder). Before: a redeploy's look that saw it live,
// written after a newer redeploy of the service had gone live (a slow answer, a paused worker), wrote the
// older one live and marked the newer one, the one Render runs, deactivated "replaced by" the older: older
// records were picked by our own finish times, and a deactivated record never goes back to live.
// The worker's Render answers pass through a proxy that can hold one answer Render already made.

let stack: Stack;
let worker: TestWorker;
let proxy: HoldingProxy;

test.before(async () => {
  stack = await startStack({ renderOptions: { manualDeploys: true } });
  proxy = await startHoldingProxy(stack.render.url);
  worker = await startTestWorker({ ...stack, config: { ...stack.config, renderApiUrl: proxy.url } }, { renderTimeoutMs: 20_000 });
});
test.after.always(async () => { await proxy?.close(); await worker?.close(5_000); await stack?.close(); });

test.serial('an older redeploy whose "live" look is written after the newer one went live does not deactivate the live one', async (t) => {
  t.timeout(60_000);
  const u = await signedInWithKey(stack, 'stale');
  const first = await deployedLiveByHand(stack, u.agent, 'stale');
  // B: Render starts it at once. C: queued behind B.
  const b = (await u.agent.post(`/api/render/services/${first.serviceId}/redeploy`)).json.id as string;
  const bRec = await recordWithDeployId(u.agent, b);
  const c = (await u.agent.post(`/api/render/services/${first.serviceId}/redeploy`)).json.id as string;
  const cRec = await recordWithDeployId(u.agent, c);
  t.not(bRec.deployId, cRec.deployId);
  // B's worker look that sees B live is held on its way back.
  const held = proxy.holdNext((path, body) => path.includes(`/deploys/${bRec.deployId}`) && body.includes('"status":"live"'));
  for (let i = 0; i < 3; i++) stack.render.advanceDeploy(bRec.deployId);
  const release = await held;
  // C starts on Render and goes live; its record says live.
  await until('C live on Render', async () => {
    stack.render.advanceDeploy(cRec.deployId);
    return (await renderDeploysOf(stack, u.apiKey, first.serviceId)).find((d) => d.id === cRec.deployId)?.status === 'live';
  });
  const cDone = await waitFinished(u.agent, c);
  t.is(cDone.status, 'live');
  // Now B's stale look arrives.
  release();
  const bDone = await waitFinished(u.agent, b);
  const cAfter = (await u.agent.get(`/api/render/deployments/${c}`)).json;
  const onRender = await renderDeploysOf(stack, u.apiKey, first.serviceId);
  t.is(onRender.find((d) => d.id === cRec.deployId)?.status, 'live', 'C is what Render runs');
  t.is(onRender.find((d) => d.id === bRec.deployId)?.status, 'deactivated');
  t.is(cAfter.status, 'live', `C's record (live on Render) says ${cAfter.status}, replaced by ${JSON.stringify(cAfter.replacedBy)}; B's says ${bDone.status}`);
  // And B's record says what Render says of B: live once, replaced by C.
  t.is(bDone.status, 'deactivated');
  t.like(bDone.replacedBy, { deploymentId: c, deployId: cRec.deployId });
  t.deepEqual(bDone.timeline.slice(-2).map((e: { status: string }) => e.status), ['live', 'deactivated']);
  t.is((await u.agent.get(`/api/render/deployments/${first.id}`)).json.status, 'deactivated', 'the first deploy stays replaced');
});

test.serial('a rollback going live replaces the live redeploy, and the deploy it rolled back to stays deactivated', async (t) => {
  t.timeout(60_000);
  const u = await signedInWithKey(stack, 'rollorder');
  const first = await deployedLiveByHand(stack, u.agent, 'rollorder');
  const again = (await u.agent.post(`/api/render/services/${first.serviceId}/redeploy`)).json.id as string;
  const againRec = await recordWithDeployId(u.agent, again);
  for (let i = 0; i < 3; i++) stack.render.advanceDeploy(againRec.deployId);
  t.is((await waitFinished(u.agent, again)).status, 'live');
  // Roll back to the first deploy: Render makes a new deploy (newer than both) that runs the first one's build.
  const asked = await u.agent.post(`/api/render/services/${first.serviceId}/rollback`, { deploy_id: first.deployId });
  t.is(asked.status, 202, asked.text);
  const rollback = asked.json.id as string;
  const rollbackRec = await recordWithDeployId(u.agent, rollback);
  t.not(rollbackRec.deployId, first.deployId);
  await until('the rollback live', async () => {
    stack.render.advanceDeploy(rollbackRec.deployId);
    return (await u.agent.get(`/api/render/deployments/${rollback}`)).json.finished;
  });
  const done = (await u.agent.get(`/api/render/deployments/${rollback}`)).json;
  t.is(done.status, 'live', JSON.stringify(done.replacedBy));
  const replaced = (await u.agent.get(`/api/render/deployments/${again}`)).json;
  t.is(replaced.status, 'deactivated');
  t.like(replaced.replacedBy, { deploymentId: rollback, deployId: rollbackRec.deployId });
  const target = (await u.agent.get(`/api/render/deployments/${first.id}`)).json;
  t.is(target.status, 'deactivated');
  t.like(target.replacedBy, { deploymentId: again }, 'still replaced by the redeploy that replaced it');
});

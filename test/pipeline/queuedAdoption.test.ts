import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, type PipelineStack } from '../helpers/pipelineStack.js';
import { waitUntil } from '../helpers/wait.js';
import { waitFinished, renderApi, renderDeploysOf, liveService, recordWithDeployId, rollbackHeldInLastPhase, waitStatus, type TestWorker } from '../helpers/pipeline.js';

// A deploy Render queues behind a running one (202, no body) is found by what this deployment asked
// for (workers/tasks/ownDeploy.ts). The worker used to take Render's newest queued deploy right after
// the 202, and while it had no deploy id, the newest queued or else the newest deploy of the service
// at each check: a deploy someone else started on the service (the dashboard, a push, another client
// of the key, another of our deployments) became this record's, and ours was never watched. The first
// test fails on that code; the other two keep what it got right (the newest queued was ours) true of
// the matching, whose clock slack reaches back past our ask.
let pipeline: PipelineStack;
let stack: Stack;
let worker: TestWorker;
usePipelineStack(test, { renderOptions: { phaseMs: { created: 20, build_in_progress: 100, pre_deploy_in_progress: 20, update_in_progress: 40 } } }, (p) => {
  pipeline = p;
  ({ stack, worker } = p);
});

/** Run `what` with no worker at all (a paused one may still take a job its waiting fetch returns). */
async function withoutWorker<T>(what: () => Promise<T>): Promise<T> {
  await worker.close(5_000);
  try {
    return await what();
  } finally {
    worker = await pipeline.startWorker();
  }
}

test.serial('a redeploy queued behind a running deploy takes its own deploy, not a foreign one queued after it', async (t) => {
  const u = await liveService(stack, 'queued-foreign');
  // Someone rolls the service back on Render; the rollback is held in its last phase, still running.
  const { running, finishRunning } = await rollbackHeldInLastPhase(stack, u.apiKey, u.serviceId, u.firstDeployId);
  t.teardown(finishRunning);

  // The worker's first look at the service's deploys after its trigger (answered 202) waits here.
  const look = stack.render.holdRequest({ method: 'GET', route: '/services/{serviceId}/deploys', apiKey: u.apiKey });
  t.teardown(look.release);
  const asked = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`);
  t.is(asked.status, 202, asked.text);
  await look.arrived;
  // Meanwhile someone rolls back again (queued behind ours, the newest queued deploy), and the running
  // rollback ends, so ours has left the queue when the worker looks.
  const foreign = (await renderApi(stack, u.apiKey, 'POST', `/services/${u.serviceId}/rollback`, { deployId: u.firstDeployId })).id as string;
  finishRunning();
  look.release();

  const done = await waitFinished(u.agent, asked.json.id);
  const ours = (await renderDeploysOf(stack, u.apiKey, u.serviceId)).filter((d) => d.trigger === 'api' && d.id !== u.firstDeployId);
  t.is(ours.length, 1, 'the redeploy asked Render for one deploy');
  t.is(done.deployId, ours[0]!.id, 'the record ends with the deploy the redeploy made');
  const watchedForeign = stack.render.calls.filter((c) => c.path.includes(foreign) || c.path.includes(running));
  t.deepEqual(watchedForeign.map((c) => `${c.method} ${c.path}`), [], 'the foreign deploys were never looked at as ours');
});

test.serial('two redeploys of one service asked back to back each take their own deploy', async (t) => {
  const u = await liveService(stack, 'queued-burst');
  const release = stack.render.holdPhase({ serviceId: u.serviceId }, 'build_in_progress');
  t.teardown(release);
  const first = (await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`)).json.id as string;
  const running = await waitStatus(u.agent, first, 'build_in_progress');
  // Asked while the first one's deploy runs (made well within the clock slack): Render queues it (202).
  const second = (await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`)).json.id as string;
  const queued = await recordWithDeployId(u.agent, second, 'the second redeploy\'s deploy id');
  t.not(queued.deployId, running.deployId, 'not the deploy the first redeploy recorded');
  release();
  const [a, b] = await Promise.all([waitFinished(u.agent, first), waitFinished(u.agent, second)]);
  t.is(a.deployId, running.deployId);
  t.is(b.deployId, queued.deployId);
  const asked = (await renderDeploysOf(stack, u.apiKey, u.serviceId)).filter((d) => d.trigger === 'api' && d.id !== u.firstDeployId).map((d) => d.id);
  t.deepEqual(asked.sort(), [a.deployId, b.deployId].sort(), 'each record holds one of the two deploys asked for');
});

test.serial('a redeploy queued behind a deploy someone else started just before takes its queued deploy, not the running one', async (t) => {
  const u = await liveService(stack, 'queued-after-foreign');
  const release = stack.render.holdPhase({ serviceId: u.serviceId }, 'build_in_progress');
  t.teardown(release);
  // Another client of the key redeploys (trigger api, no commit: what a redeploy of ours looks like too).
  const running = (await renderApi(stack, u.apiKey, 'POST', `/services/${u.serviceId}/deploys`, {})).id as string;
  const asked = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`);
  t.is(asked.status, 202, asked.text);
  const queued = await recordWithDeployId(u.agent, asked.json.id, 'the redeploy\'s deploy id');
  t.not(queued.deployId, running, 'the deploy running when Render queued ours is not ours');
  release();
  const done = await waitFinished(u.agent, asked.json.id);
  t.is(done.deployId, queued.deployId);
});

// Neither has recorded a deploy while the other looks, so setting aside recorded ones is not enough:
// both took the older of the two queued deploys (on 96eadc4), and the other was never watched.
test.serial('two redeploys queued at once whose looks for their deploys overlap take one deploy each', async (t) => {
  const u = await liveService(stack, 'queued-together');
  const finishRunning = stack.render.holdPhase({ serviceId: u.serviceId }, 'build_in_progress');
  t.teardown(finishRunning);
  // Another client of the key deploys, so Render queues both of ours (202).
  const running = (await renderApi(stack, u.apiKey, 'POST', `/services/${u.serviceId}/deploys`, {})).id as string;
  // The look that follows each 202 waits here until both have been made.
  const looks = [0, 1].map(() => stack.render.holdRequest({ method: 'GET', route: '/services/{serviceId}/deploys', apiKey: u.apiKey }));
  t.teardown(() => looks.forEach((l) => l.release()));
  // Asked while no worker runs, so a worker takes both at once: both asks fall within the clock slack.
  const ids = await withoutWorker(async () => {
    const asked = [];
    for (let i = 0; i < 2; i++) asked.push((await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`)).json.id as string);
    return asked;
  });
  await Promise.all(looks.map((l) => l.arrived));
  looks.forEach((l) => l.release());
  finishRunning();

  const done = await Promise.all(ids.map((id) => waitFinished(u.agent, id)));
  const asked = (await renderDeploysOf(stack, u.apiKey, u.serviceId)).filter((d) => d.trigger === 'api' && d.id !== u.firstDeployId && d.id !== running).map((d) => d.id);
  t.is(asked.length, 2, 'the two redeploys asked Render for one deploy each');
  t.not(done[0]!.deployId, done[1]!.deployId, 'not the same deploy');
  t.deepEqual(done.map((d) => d.deployId).sort(), asked.sort(), 'each record holds one of the two deploys asked for');
});

// The look used to read only the newest five deploys (queued ones after the 202, any at each check):
// with five made after ours, ours was never seen and the deployment sat `render_queued` for 3 h.
test.serial('a redeploy queued behind five deploys made after it is still found', async (t) => {
  const u = await liveService(stack, 'queued-behind-five');
  const { finishRunning } = await rollbackHeldInLastPhase(stack, u.apiKey, u.serviceId, u.firstDeployId);
  t.teardown(finishRunning);
  const look = stack.render.holdRequest({ method: 'GET', route: '/services/{serviceId}/deploys', apiKey: u.apiKey });
  t.teardown(look.release);
  const asked = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`);
  t.is(asked.status, 202, asked.text);
  await look.arrived;
  // Five rollbacks are queued after ours before the worker's first look.
  for (let i = 0; i < 5; i++) await renderApi(stack, u.apiKey, 'POST', `/services/${u.serviceId}/rollback`, { deployId: u.firstDeployId });
  // Ours is held in its last phase, then the rollbacks after it at their build, so ours stays live until the
  // worker has seen it: with 180 ms between ours going live and the next one replacing it, and up to 200 ms
  // between the worker's looks, the record ended 'deactivated' about one run in three at load 10.
  const releaseOurs = stack.render.holdPhase({ serviceId: u.serviceId }, 'update_in_progress');
  t.teardown(releaseOurs);
  look.release();
  finishRunning();
  await waitUntil('ours in its last phase', async () => (await renderDeploysOf(stack, u.apiKey, u.serviceId))
    .find((d) => d.trigger === 'api' && d.id !== u.firstDeployId && d.status === 'update_in_progress'), 15_000, 20);
  const releaseRest = stack.render.holdPhase({ serviceId: u.serviceId }, 'build_in_progress');
  t.teardown(releaseRest);
  releaseOurs();

  const done = await waitFinished(u.agent, asked.json.id);
  const ours = (await renderDeploysOf(stack, u.apiKey, u.serviceId)).filter((d) => d.trigger === 'api' && d.id !== u.firstDeployId);
  t.is(ours.length, 1, 'the redeploy asked Render for one deploy');
  t.is(done.status, 'live');
  t.is(done.deployId, ours[0]!.id, 'the record ends with the deploy the redeploy made');
});

import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, QUICK_PHASES, type PipelineStack } from '../helpers/pipelineStack.js';
import { waitFinished, renderApi, renderDeploysOf, liveService, recordWithDeployId, type TestWorker } from '../helpers/pipeline.js';

// A deploy Render queued (202, no body) is found by comparing its createdAt, Render's clock, with the
// time we asked (workers/tasks/ownDeploy.ts). That comparison used our clock less a 2 s slack: with the
// worker's clock a minute ahead of Render's, ours was never matched and the deployment sat
// `render_queued` for the watch's 3 h. Render's clock is a minute behind the worker's in this file.
// And a deploy Render answered 202 for but never lists (here: a 202 with no deploy made) waited as
// long; it now ends failed after the watch policy's queuedUnmatchedMs. Both fail on the old code.
const RENDER_BEHIND_MS = 60_000;
let pipeline: PipelineStack;
let stack: Stack;
let worker: TestWorker;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES, now: () => Date.now() - RENDER_BEHIND_MS } }, (p) => {
  pipeline = p;
  ({ stack, worker } = p);
});

test.serial('a redeploy Render queued is found though the worker\'s clock is a minute ahead of Render\'s', async (t) => {
  const u = await liveService(stack, 'queued-skew');
  const release = stack.render.holdPhase({ serviceId: u.serviceId }, 'build_in_progress');
  t.teardown(release);
  // Another client of the key deploys; ours is queued behind it (202).
  const running = (await renderApi(stack, u.apiKey, 'POST', `/services/${u.serviceId}/deploys`, {})).id as string;
  const asked = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`);
  t.is(asked.status, 202, asked.text);
  const queued = await recordWithDeployId(u.agent, asked.json.id, 'the redeploy\'s deploy id');
  release();
  const done = await waitFinished(u.agent, asked.json.id);
  const ours = (await renderDeploysOf(stack, u.apiKey, u.serviceId)).filter((d) => d.trigger === 'api' && d.id !== u.firstDeployId && d.id !== running);
  t.is(ours.length, 1);
  t.is(queued.deployId, ours[0]!.id, 'the deploy the redeploy made');
  t.is(done.status, 'live');
  t.is(done.deployId, ours[0]!.id);
});

test.serial('a deploy Render answered 202 for but never lists ends failed, telling the user to check the dashboard', async (t) => {
  const u = await liveService(stack, 'queued-never-listed');
  // A worker that gives up on an unlisted queued deploy after half a second, not a quarter of an hour.
  await worker.close(5_000);
  worker = await pipeline.startWorker({ watch: { queuedUnmatchedMs: 500 } });
  // Render says "queued" and makes no deploy.
  stack.render.setFault({ method: 'POST', route: '/services/{serviceId}/deploys', kind: 'status', status: 202, count: 1, apiKey: u.apiKey });
  t.teardown(() => stack.render.clearFaults());
  const asked = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`);
  t.is(asked.status, 202, asked.text);
  const done = await waitFinished(u.agent, asked.json.id);
  t.is(done.status, 'failed');
  t.is(done.deployId ?? null, null, 'no deploy was taken as its');
  t.is(done.failure?.code, 'queued_deploy_not_found');
  t.regex(done.failure?.message ?? '', /Render dashboard/);
  const deploys = await renderDeploysOf(stack, u.apiKey, u.serviceId);
  t.deepEqual(deploys.map((d) => d.id), [u.firstDeployId], 'Render made no deploy for it');
});

import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, QUICK_LOG_TAIL } from '../helpers/pipelineStack.js';
import { deployedLiveByHand, recordWithDeployId, renderApi, renderDeploysOf, signedInWithKey, until } from '../helpers/pipeline.js';
import { openSseAs, sseLogLines } from '../helpers/sse.js';

// A redeploy Render queued behind another deploy of the service, once the one ahead went live and Render took
// ours out of the queue (`created`) before it started: its build window began at its createdAt (when it was
// queued), so its log page, and a live tail's first look (whose lines stay in the panel), showed the end of the
// deploy ahead: its last build lines and "Your service is live" (found by a review).
let stack: Stack;
usePipelineStack(test, { renderOptions: { manualDeploys: true }, logTail: QUICK_LOG_TAIL }, (p) => { ({ stack } = p); });

// A redeploy asked through the app that Render queued behind another deploy of the service. Once the one
// ahead goes live, Render takes ours out of the queue (status `created`) before it starts building.
async function queuedBehind(login: string) {
  const { agent, apiKey } = await signedInWithKey(stack, login);
  const { serviceId } = await deployedLiveByHand(stack, agent, login);
  // A deploy started on Render's side (a push): building.
  await renderApi(stack, apiKey, 'POST', `/services/${serviceId}/deploys`, {});
  const ahead = (await renderDeploysOf(stack, apiKey, serviceId)).find((d) => d.status === 'created')!;
  stack.render.advanceDeploy(ahead.id); // build_in_progress
  stack.render.appendLog(serviceId, 'AHEAD-BUILD-LINE before ours was asked', { type: 'build' });
  const asked = await agent.post(`/api/render/services/${serviceId}/redeploy`);
  if (asked.status !== 202) throw new Error(asked.text);
  const rec = await recordWithDeployId(agent, asked.json.id);
  await new Promise((r) => setTimeout(r, 5));
  stack.render.appendLog(serviceId, 'AHEAD-BUILD-LINE after ours was queued', { type: 'build' });
  stack.render.advanceDeploy(ahead.id); // update_in_progress: "Uploading build", "Build successful"
  stack.render.advanceDeploy(ahead.id); // live: "Your service is live"; ours leaves the queue
  const ours = await until('ours out of the queue', async () => (await renderDeploysOf(stack, apiKey, serviceId)).find((d) => d.id === rec.deployId && d.status === 'created'));
  return { agent, apiKey, serviceId, id: asked.json.id as string, deployId: ours.id, aheadId: ahead.id };
}

const aheadLine = (m: string) => m.startsWith('AHEAD-BUILD-LINE') || m.includes('Build successful') || m.includes('Your service is live') || m.includes('Uploading build');

test('history: a redeploy that just left the queue shows none of the build lines of the deploy it waited behind', async (t) => {
  const q = await queuedBehind('qhist');
  const page = await q.agent.get(`/api/render/deployments/${q.id}/logs`);
  t.is(page.status, 200, page.text);
  const foreign = (page.json.logs as Array<{ message: string }>).map((l) => l.message).filter(aheadLine);
  t.deepEqual(foreign, [], 'lines of the deploy ahead in this deployment\'s log');
});

test('live tail: a redeploy that just left the queue streams none of the build lines of the deploy it waited behind', async (t) => {
  const q = await queuedBehind('qtail');
  const tab = await openSseAs(q.agent, `/api/events?logs=${q.id}`);
  t.teardown(() => tab.close());
  // Give the tail a few polls while Render has ours `created`, then let ours build.
  await new Promise((r) => setTimeout(r, 1_000));
  stack.render.advanceDeploy(q.deployId); // build_in_progress: ours clones
  await tab.waitFor((text) => sseLogLines(text).some((l) => l.message.startsWith('==> Cloning')), 15_000);
  const foreign = sseLogLines(tab.text()).map((l) => l.message).filter(aheadLine);
  t.deepEqual(foreign, [], 'lines of the deploy ahead in this deployment\'s live panel');
});

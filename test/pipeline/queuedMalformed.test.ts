import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, QUICK_PHASES } from '../helpers/pipelineStack.js';
import { liveService, renderCalls, renderDeploysOf, rollbackHeldInLastPhase, waitFinished, waitStatus } from '../helpers/pipeline.js';

// A queued deploy's look pages through the service's deploys made since the ask (workers/tasks/ownDeploy.ts)
// while every deploy on a page is one of them. An answer of the right syntax and the wrong content — full
// pages of wrappers with no deploy in them, each naming the same cursor (a broken proxy, a Render bug) —
// matched that rule on every page: the look asked for the same page again and again, spending the key's
// whole Render budget, and the deployment never got past triggering_deploy. A page with no deploy, or
// one naming the cursor it was asked with, ends the look.
let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

test.serial('a queued redeploy whose deploy list answers pages of nothing with the same cursor: the look stops, and the deploy is followed once the list is right again', async (t) => {
  const u = await liveService(stack, 'queued-garbage');
  // Someone rolls the service back on Render, held running; our redeploy is queued behind it (202).
  const { running, finishRunning } = await rollbackHeldInLastPhase(stack, u.apiKey, u.serviceId, u.firstDeployId);
  t.teardown(finishRunning);
  const route = '/services/{serviceId}/deploys';
  const listedBefore = renderCalls(stack, u.accountId, 'GET', route).length;
  stack.render.setFault({ method: 'GET', route, apiKey: u.apiKey, kind: 'body', body: Array.from({ length: 20 }, () => ({ cursor: 'same-cursor' })) });
  t.teardown(() => stack.render.clearFaults());

  const asked = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`);
  t.is(asked.status, 202, asked.text);
  await waitStatus(u.agent, asked.json.id, 'render_queued');
  const looked = renderCalls(stack, u.accountId, 'GET', route).length - listedBefore;
  t.true(looked <= 3, `the look read ${looked} pages`);

  stack.render.clearFaults();
  finishRunning();
  const done = await waitFinished(u.agent, asked.json.id);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  const ours = (await renderDeploysOf(stack, u.apiKey, u.serviceId)).filter((d) => d.trigger === 'api' && d.id !== u.firstDeployId);
  t.deepEqual(ours.map((d) => d.id), [done.deployId], 'the record follows the deploy the redeploy asked for');
  t.not(done.deployId, running);
});

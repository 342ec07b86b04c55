import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, QUICK_PHASES, type PipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, renderApi, renderCalls, renderDeploysOf, signedInWithKey, waitFinished, type TestWorker } from '../helpers/pipeline.js';

// A service creation whose answer was lost is retried by looking the service up by name: it is this
// deployment's when Render made it after the record was (workers/tasks/createService.ts), and its first
// deploy is this deployment's when made after the record too (workers/tasks/ownDeploy.ts). Both
// compared Render's createdAt with the record's time on our clock: with the worker's clock a minute
// ahead of Render's, the retry failed as service_name_taken (and, past that, would have started a
// second deploy). Now our time is moved onto Render's clock with the Date of the list answer.
// Render's clock is a minute behind the worker's in this file. Fails on the old code.
const RENDER_BEHIND_MS = 60_000;
let pipeline: PipelineStack;
let stack: Stack;
let worker: TestWorker;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES, now: () => Date.now() - RENDER_BEHIND_MS } }, (p) => {
  pipeline = p;
  ({ stack, worker } = p);
});

test.serial('a creation whose answer was lost is adopted with its first deploy though the worker\'s clock is a minute ahead of Render\'s', async (t) => {
  const u = await signedInWithKey(stack, 'create-skew');
  addNodeRepo(stack, 'create-skew', 'app');
  // A worker that loses the answer of its first service creation (it fails right after Render
  // answered, before recording the ids) and retries at once.
  await worker.close(5_000);
  let lost = 0;
  worker = await pipeline.startWorker({
    retryBackoffMs: 20,
    crashPoint: (at) => {
      if (at !== 'service_created' || lost++ > 0) return;
      throw new Error('simulated loss of the creation\'s answer');
    },
  });
  const asked = await u.agent.post('/api/render/deploy', { github_repo: 'create-skew/app', project_name: 'app' });
  t.is(asked.status, 202, asked.text);
  const done = await waitFinished(u.agent, asked.json.id);
  t.is(lost, 1, 'the creation\'s answer was lost');
  t.is(done.failure?.code, undefined, JSON.stringify(done.failure));
  t.is(done.status, 'live');
  const services = (await renderApi(stack, u.apiKey, 'GET', `/services?ownerId=${u.ownerId}`) as Array<{ service: { id: string } }>).map((e) => e.service.id);
  t.deepEqual(services, [done.serviceId], 'one service: the one the lost answer would have named');
  t.is(renderCalls(stack, u.accountId, 'POST', '/services').length, 1, 'created once');
  const deploys = await renderDeploysOf(stack, u.apiKey, done.serviceId);
  t.deepEqual(deploys.map((d) => d.id), [done.deployId], 'one deploy: the service\'s first, no second one asked');
});

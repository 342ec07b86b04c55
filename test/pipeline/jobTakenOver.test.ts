import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, renderCalls, signedInWithKey, until, waitFinished, type TestWorker } from '../helpers/pipeline.js';
import { DEPLOY_QUEUE, queuePrefix } from '../../server/queues/deployQueue.js';

// A worker that stops without dying (SIGSTOP, a paused VM, a blocked event loop) loses its job's lock
// after lockDuration, and BullMQ runs the job again elsewhere; when the first comes back it goes on with
// its run beside the new one. Both could create the service (each finding none of the other's yet): two
// services for one deployment. A run now makes a Render write that creates something (a POST) only
// while it still holds the job's lock (workers/tasks/jobFence.ts). Found by an adversarial review.
// Here the lapse is made by hand: while the run's name lookup is held at Render, the job's lock is given
// to "another run" (as BullMQ's stalled check and another worker would), for 3 s; then it lapses, and
// the job is run again (the test worker's stalled check runs every second).

let stack: Stack;
let worker: TestWorker;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack, worker } = p));

test('a run that lost its job\'s lock makes no Render write: the deployment gets one service, from the run that holds the job', async (t) => {
  const { agent, accountId, apiKey } = await signedInWithKey(stack, 'stalled');
  addNodeRepo(stack, 'stalled', 'app');
  const hold = stack.render.holdRequest({ method: 'GET', route: '/services', apiKey });
  const asked = await agent.post('/api/render/deploy', { github_repo: 'stalled/app', project_name: 'stalled-app' });
  t.is(asked.status, 202, asked.text);
  const id = asked.json.id as string;
  await hold.arrived;

  // The run is at Render (its lookup by name, before the creation). Its lock, as BullMQ keeps it:
  const lockKey = `${queuePrefix(stack.redis.prefix)}:${DEPLOY_QUEUE}:${id}:lock`;
  const token = await stack.redis.client.get(lockKey);
  t.truthy(token, 'the run holds the job\'s lock under this key');
  await stack.redis.client.set(lockKey, 'another-run', 'PX', 3_000);
  hold.release();

  // Without the fence the run went on to create the service while "another run" held the job.
  const stopped = () => worker.logs.some((l) => l.includes(id) && l.includes('taken over by another run'));
  await until('the run stops, or writes', async () => stopped() || renderCalls(stack, accountId, 'POST', '/services').length > 0);
  t.deepEqual(renderCalls(stack, accountId, 'POST', '/services').map((c) => c.status), [], 'no creation from the run that lost the lock');
  t.true(stopped());

  // The lock lapses; the job runs again and carries the deployment on.
  const done = await waitFinished(agent, id, 60_000);
  t.is(done.status, 'live');
  t.is(renderCalls(stack, accountId, 'POST', '/services').length, 1, 'one creation in all');
  const named = await fetch(`${stack.render.url}/services?name=stalled-app&limit=100`, { headers: { authorization: `Bearer ${apiKey}` } });
  t.is(((await named.json()) as unknown[]).length, 1, 'one service for the deployment');
});

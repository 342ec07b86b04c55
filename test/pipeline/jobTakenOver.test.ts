import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack, type PipelineStack } from '../helpers/pipelineStack.js';
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
let pipeline: PipelineStack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack, worker } = pipeline = p));
const lockKeyOf = (id: string) => `${queuePrefix(stack.redis.prefix)}:${DEPLOY_QUEUE}:${id}:lock`;

test.serial('a run that lost its job\'s lock makes no Render write: the deployment gets one service, from the run that holds the job', async (t) => {
  const { agent, accountId, apiKey } = await signedInWithKey(stack, 'stalled');
  addNodeRepo(stack, 'stalled', 'app');
  const hold = stack.render.holdRequest({ method: 'GET', route: '/services', apiKey });
  const asked = await agent.post('/api/render/deploy', { github_repo: 'stalled/app', project_name: 'stalled-app' });
  t.is(asked.status, 202, asked.text);
  const id = asked.json.id as string;
  await hold.arrived;

  // The run is at Render (its lookup by name, before the creation). Its lock, as BullMQ keeps it:
  const lockKey = lockKeyOf(id);
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

test.serial('a run that lost its job\'s lock while adopting the service it created writes none of its env values there', async (t) => {
  const { agent, accountId, apiKey } = await signedInWithKey(stack, 'stalled-adopt');
  addNodeRepo(stack, 'stalled-adopt', 'app');
  // A worker that loses the answer of its service creation (it fails right after Render answered) and
  // retries at once: the retry finds the service by name and adopts it, giving it the env values (PUTs).
  // That retry's lookup is held at Render while its lock goes to "another run".
  await worker.close(5_000);
  let hold: ReturnType<Stack['render']['holdRequest']> | undefined;
  worker = await pipeline.startWorker({
    retryBackoffMs: 20,
    crashPoint: (at) => {
      if (at !== 'service_created' || hold) return;
      hold = stack.render.holdRequest({ method: 'GET', route: '/services', apiKey });
      throw new Error('simulated loss of the creation\'s answer');
    },
  });
  const asked = await agent.post('/api/render/deploy', { github_repo: 'stalled-adopt/app', project_name: 'stalled-adopt', env_vars: [{ key: 'DATABASE_URL', value: 'postgres://stalled@db/app' }] });
  t.is(asked.status, 202, asked.text);
  const id = asked.json.id as string;
  await until('the retry looks the service up', async () => hold);
  await hold!.arrived;
  await stack.redis.client.set(lockKeyOf(id), 'another-run', 'PX', 3_000);
  hold!.release();

  // Without the fence on PUTs the run gave the service its env values while "another run" held the job.
  const envPuts = () => renderCalls(stack, accountId, 'PUT', '/services/{serviceId}/env-vars/{envVarKey}');
  const stopped = () => worker.logs.some((l) => l.includes(id) && l.includes('taken over by another run'));
  await until('the run stops, or writes', async () => stopped() || envPuts().length > 0);
  t.deepEqual(envPuts().map((c) => c.status), [], 'no env value written by the run that lost the lock');
  t.true(stopped());

  const done = await waitFinished(agent, id, 60_000);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  t.is(envPuts().length, 1, 'written once, by the run that holds the job');
  t.is(renderCalls(stack, accountId, 'POST', '/services').length, 1, 'one creation in all');
});

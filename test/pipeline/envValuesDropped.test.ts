import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, type PipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, signedInWithKey, waitFinished, type TestWorker } from '../helpers/pipeline.js';
import { sessionKeys } from '../../server/sessions/records.js';
import { waitUntil } from '../helpers/wait.js';

// A deployment's env values wait sealed in Redis (`deployment:<id>:env`, server/deployments/envVars.ts)
// until the worker hands them to Render. However the deployment ends, they go then, not at their TTL
// (a week): a deploy stopped because its session ended on its own (expiry: no sign-out ran, so no
// revocation dropped them) and a deploy canceled before the worker ever ran it kept them.
let pipeline: PipelineStack;
let stack: Stack;
let worker: TestWorker;
usePipelineStack(test, {}, (p) => { pipeline = p; ({ stack, worker } = p); });

/** Run `what` with no worker at all (a paused one may still take a job its waiting fetch returns). */
async function withoutWorker<T>(what: () => Promise<T>): Promise<T> {
  await worker.close(5_000);
  try {
    return await what();
  } finally {
    worker = await pipeline.startWorker();
  }
}

const envKey = (id: string) => `${stack.config.redisPrefix}:deployment:${id}:env`;

/** A deploy with env values (recorded while no worker runs). */
async function queuedWithEnv(login: string) {
  const { agent, accountId } = await signedInWithKey(stack, login);
  addNodeRepo(stack, login, 'app');
  const res = await agent.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: 'app', env_vars: { API_TOKEN: 'sekrit-value' } });
  if (res.status !== 202) throw new Error(`deploy: ${res.status} ${res.text}`);
  const id = res.json.id as string;
  if (await stack.redis.client.exists(envKey(id)) !== 1) throw new Error('the env values were not stored');
  return { agent, accountId, id };
}

test.serial('a deploy whose session expired before the worker ran it ends credentials_revoked, and its env values go', async (t) => {
  const id = await withoutWorker(async () => {
    const queued = await queuedWithEnv('expired-env');
    // The session record expires in Redis (its idle TTL): nothing in the app runs for it.
    const rec = await stack.web.deps.deployments.get(queued.id);
    t.is(await stack.redis.client.del(sessionKeys(stack.config.redisPrefix).record(rec!.sessionRef)), 1);
    return queued.id;
  });
  const b = stack.agent();
  await stack.signIn(b, 'expired-env');
  const done = await waitFinished(b, id);
  t.is(done.status, 'credentials_revoked');
  t.is(await stack.redis.client.exists(envKey(id)), 0, 'the sealed env values are gone');
});

test.serial('a deploy canceled before the worker ran it drops its env values at once', async (t) => {
  await withoutWorker(async () => {
    const { agent, id } = await queuedWithEnv('canceled-env');
    const canceled = await agent.post(`/api/render/deployments/${id}/cancel`);
    t.is(canceled.status, 200, canceled.text);
    t.is(canceled.json.status, 'canceled');
    t.is(await stack.redis.client.exists(envKey(id)), 0, 'the sealed env values are gone');
  });
});

test.serial('a deploy ended by any write through the deployments store loses its env values with that write; its job then ends with no call to Render', async (t) => {
  const { id, accountId } = await withoutWorker(async () => {
    const queued = await queuedWithEnv('store-ended-env');
    // An end path with no drop call of its own: a terminal status written straight through the store.
    const ended = await stack.web.deps.deployments.transition(queued.id, 'failed', 'orchestrator', { failure: { code: 'test_end', message: 'Ended by a new end path.' } });
    t.is(ended?.status, 'failed');
    t.is(await stack.redis.client.exists(envKey(queued.id)), 0, 'gone with the write, not when a job runs');
    return queued;
  });
  const jobState = () => stack.web.deps.queue.getJobState(id);
  await waitUntil('the job to finish', async () => ['completed', 'unknown'].includes(await jobState()), 30_000, 25);
  t.deepEqual(stack.render.calls.filter((c) => c.accountId === accountId && c.method !== 'GET'), [], 'no Render write');
  t.is((await stack.web.deps.deployments.get(id))?.status, 'failed');
});

test.serial('a record an older version ended, with its env values left and its job still queued: the job drops them', async (t) => {
  const id = await withoutWorker(async () => {
    const queued = await queuedWithEnv('leftover-env');
    // What an older version could leave: the end written, its drop (a second step) not yet made.
    await stack.web.deps.deployments.transition(queued.id, 'canceled', 'orchestrator', { failure: { code: 'canceled', message: 'You canceled this deploy.' } });
    await stack.web.deps.envVault.put(queued.id, [{ key: 'API_TOKEN', value: 'left-by-an-older-version' }]);
    return queued.id;
  });
  await waitUntil('the leftover env values to go', async () => await stack.redis.client.exists(envKey(id)) === 0, 30_000, 25);
  t.is((await stack.web.deps.deployments.get(id))?.status, 'canceled');
});

import test from 'ava';
import { randomBytes } from 'node:crypto';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack } from '../helpers/pipelineStack.js';
import { deployedLiveByHand, signedInWithKey } from '../helpers/pipeline.js';
import { waitUntil } from '../helpers/wait.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { createKeyring } from '../../server/crypto/keyring.js';
import { inItemTurn } from '../../server/deployments/retiredSecrets.js';
import { AppError } from '../../server/errors.js';

// Two changes of one env var at once (two tabs; a script and a person): each reads the value it
// replaces, to keep it for redaction, before asking Render. Without one change of an item at a time,
// both read the same value and the one written between them is replaced without being kept: a deploy
// that started with it prints it in clear on the log pages (found by an adversarial review).

const V0 = 'first-db-password-11aa22bb';
const V1 = 'first-writer-password-33cc44';
const V2 = 'second-writer-password-55ee66';
let stack: Stack;
usePipelineStack(test, { renderOptions: { manualDeploys: true } }, (p) => { ({ stack } = p); });

const ENV_ROUTE = '/services/{serviceId}/env-vars/{envVarKey}';

/**
 * The first change is held at Render (its read of the current value done, its write on its way); the
 * second is sent and given up to a second past its own service read to get anywhere. Returns both answers.
 */
async function secondChangeWhileFirstHeld(first: { method: 'PUT' | 'DELETE'; send: () => Promise<{ status: number; text: string }> }, second: () => Promise<{ status: number; text: string }>, serviceId: string) {
  const hold = stack.render.holdRequest({ method: first.method, route: ENV_ROUTE });
  const a = first.send();
  await hold.arrived;
  const serviceReads = () => stack.render.calls.filter((c) => c.method === 'GET' && c.path.endsWith(`/services/${serviceId}`)).length;
  const readsBefore = serviceReads();
  let bDone = false;
  const b = second().finally(() => { bDone = true; });
  // The second change's own service read (its scope check) came: it is in its route now.
  await waitUntil('the second change reaches its route', async () => serviceReads() > readsBefore, 10_000, 10);
  await waitUntil('the second change ends or waits', async () => bDone || null, 1000, 20).catch(() => undefined);
  hold.release();
  return Promise.all([a, b]);
}

test('two PUTs of one env var at once: every value the service held stays redacted', async (t) => {
  const { agent } = await signedInWithKey(stack, 'racer-put');
  const { id, serviceId } = await deployedLiveByHand(stack, agent, 'racer-put', { env_vars: [{ key: 'DB_PASSWORD', value: V0 }] });
  const path = `/api/render/services/${serviceId}/env-vars/DB_PASSWORD`;
  const [a, b] = await secondChangeWhileFirstHeld(
    { method: 'PUT', send: () => agent.request('PUT', path, { json: { value: V1 } }) },
    () => agent.request('PUT', path, { json: { value: V2 } }), serviceId);
  t.is(a.status, 200, a.text);
  t.is(b.status, 200, b.text);
  // The changes took turns: the second one's value is the service's now.
  const shown = await agent.get(path);
  t.is(shown.status, 200, shown.text);
  t.is((shown.json as { value: string }).value, V2);

  // A deploy that started while each value was the service's printed it.
  for (const v of [V0, V1, V2]) stack.render.appendLog(serviceId, `connecting with ${v}`, { type: 'app' });
  for (const read of [`/api/render/deployments/${id}/logs`, `/api/render/deployments/${id}/logs.txt`]) {
    const page = await agent.get(read);
    t.is(page.status, 200, page.text);
    for (const v of [V0, V1, V2]) t.false(page.text.includes(v), `${v} in clear in ${read}`);
  }
});

test('a DELETE and a PUT of one env var at once: the value the PUT wrote and the DELETE removed stays redacted', async (t) => {
  const { agent } = await signedInWithKey(stack, 'racer-del');
  const { id, serviceId } = await deployedLiveByHand(stack, agent, 'racer-del', { env_vars: [{ key: 'DB_PASSWORD', value: V0 }] });
  const path = `/api/render/services/${serviceId}/env-vars/DB_PASSWORD`;
  const [a, b] = await secondChangeWhileFirstHeld(
    { method: 'DELETE', send: () => agent.request('DELETE', path) },
    () => agent.request('PUT', path, { json: { value: V2 } }), serviceId);
  t.is(a.status, 200, a.text);
  t.is(b.status, 200, b.text);
  for (const v of [V0, V2]) stack.render.appendLog(serviceId, `connecting with ${v}`, { type: 'app' });
  const page = await agent.get(`/api/render/deployments/${id}/logs`);
  t.is(page.status, 200, page.text);
  for (const v of [V0, V2]) t.false(page.text.includes(v), `${v} in clear`);
});

test.serial('an item\'s turn: changes of one item run one at a time, of different items at once; a change that waits too long is refused and runs nothing', async (t) => {
  const redis: TestRedis = await startTestRedis();
  t.teardown(() => redis.stop());
  const d = { redis: redis.client, prefix: redis.prefix, keyring: createKeyring(randomBytes(32)) };
  let running = 0;
  let most = 0;
  const change = (ms: number) => async () => {
    running += 1; most = Math.max(most, running);
    await new Promise((r) => setTimeout(r, ms));
    running -= 1;
    return ms;
  };
  t.deepEqual(await Promise.all([1, 2, 3].map(() => inItemTurn(d, 'srv-a', 'env-vars/K', change(60)))), [60, 60, 60]);
  t.is(most, 1, 'one change of an item at a time');
  most = 0;
  await Promise.all([inItemTurn(d, 'srv-a', 'env-vars/K', change(60)), inItemTurn(d, 'srv-a', 'env-vars/OTHER', change(60)), inItemTurn(d, 'srv-b', 'env-vars/K', change(60))]);
  t.is(most, 3, 'other items and other services do not wait');

  // Held elsewhere (another web process mid-change): the change waits, then is refused, and did nothing.
  const key = `${redis.prefix}:item-turn:srv-a:env-vars/K`;
  await redis.client.set(key, 'another-process', 'PX', 60_000);
  let ran = false;
  const err = await t.throwsAsync(inItemTurn(d, 'srv-a', 'env-vars/K', async () => { ran = true; }, 300));
  t.true(err instanceof AppError && err.status === 409 && err.code === 'item_change_in_progress', String(err));
  t.false(ran);
  t.is(await redis.client.get(key), 'another-process', 'a refused change leaves the holder\'s turn alone');
  // A change that throws gives its turn back.
  await redis.client.del(key);
  await t.throwsAsync(inItemTurn(d, 'srv-a', 'env-vars/K', async () => { throw new Error('render said no'); }));
  t.is(await redis.client.get(key), null);
});

// A log read of the values while a change is made: the change keeps the value it replaces before asking
// Render. A read that took our kept values alongside Render's could take ours before the change kept the
// old value and Render's after the change wrote the new one: the old value, which the running deploy still
// prints, was in neither, and showed in clear. Ours are read after Render's.
test('a log read of the values while a change replaces one: the value replaced stays redacted', async (t) => {
  const { agent } = await signedInWithKey(stack, 'readwhilechange');
  const { id, serviceId } = await deployedLiveByHand(stack, agent, 'readwhilechange', { env_vars: [{ key: 'DB_PASSWORD', value: V0 }] });
  stack.render.appendLog(serviceId, `connecting with ${V0}`, { type: 'app' });
  // The page's read of the service's env vars waits at Render while the change is made.
  const hold = stack.render.holdRequest({ method: 'GET', route: '/services/{serviceId}/env-vars' });
  const page = agent.get(`/api/render/deployments/${id}/logs`);
  await hold.arrived;
  const put = await agent.request('PUT', `/api/render/services/${serviceId}/env-vars/DB_PASSWORD`, { json: { value: V1 } });
  t.is(put.status, 200, put.text);
  hold.release();
  const answer = await page;
  t.is(answer.status, 200, answer.text);
  t.true(answer.text.includes('connecting with [redacted]'), answer.text.slice(-300));
  t.false(answer.text.includes(V0));
});

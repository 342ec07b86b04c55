import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack } from '../helpers/pipelineStack.js';
import { deployedLiveByHand, redeployedLiveByHand, signedInWithKey } from '../helpers/pipeline.js';
import { budgetFrom, RENDER_DOCUMENTED_LIMITS } from '../../server/render/budget.js';
import { seal } from '../../server/crypto/keyring.js';

// At most 200 retired values (replaced or removed through the settings) are kept per service for log
// redaction. Rotated again and again without a redeploy, the value the running deploy started with is
// the oldest of them, yet the one its app prints: the cap drops values no running deploy has (set and
// replaced since it started) before it. Render's write limit (30 a minute) would make 201 changes take
// seven minutes: the simulator's and the app's write and read limits are raised here.

let stack: Stack;
const minute = (limit: number) => ({ limit, windowMs: 60_000 });
usePipelineStack(test, {
  renderOptions: { manualDeploys: true, rateLimits: { write: minute(2_000), read: minute(5_000) } },
  renderLimits: budgetFrom({ ...RENDER_DOCUMENTED_LIMITS, write: minute(2_000), read: minute(5_000) }),
}, (p) => { ({ stack } = p); });

const retiredKey = (serviceId: string) => `${stack.redis.prefix}:retired-secrets:${serviceId}`;

test('past the cap of retired values, the one the live deploy still runs with stays redacted', async (t) => {
  t.timeout(300_000);
  const IN_USE = 'in-use-db-password-4be19a7c';
  const { agent } = await signedInWithKey(stack, 'retiredcap');
  const { id, serviceId } = await deployedLiveByHand(stack, agent, 'retiredcap', { env_vars: [{ key: 'DB_PASSWORD', value: IN_USE }] });
  // 201 rotations, no redeploy: IN_USE, then 200 values no deploy ever had, are retired in that order.
  for (let i = 0; i <= 200; i++) {
    const put = await agent.request('PUT', `/api/render/services/${serviceId}/env-vars/DB_PASSWORD`, { json: { value: `rotated-value-${i}-c0ffee` } });
    t.is(put.status, 200, put.text);
  }
  t.is(await stack.redis.client.llen(retiredKey(serviceId)), 200, 'the cap still holds');

  // A value kept before entries carried their item and time (the value alone, sealed) is still redacted.
  const LEGACY = 'legacy-retired-value-91d3e0';
  await stack.redis.client.rpush(retiredKey(serviceId), seal(LEGACY, `retired-secret:${serviceId}`, stack.web.deps.keyring));

  stack.render.appendLog(serviceId, `connecting with ${IN_USE}`, { type: 'app' });
  stack.render.appendLog(serviceId, `legacy ${LEGACY}`, { type: 'app' });
  const page = await agent.get(`/api/render/deployments/${id}/logs`);
  t.is(page.status, 200, page.text);
  const txt = await agent.get(`/api/render/deployments/${id}/logs.txt`);
  for (const text of [page.text, txt.text]) {
    t.true(text.includes('connecting with [redacted]'), text.slice(-400));
    t.true(text.includes('legacy [redacted]'), text.slice(-400));
    for (const value of [IN_USE, LEGACY]) t.false(text.includes(value), value);
  }
});

test('after a redeploy, the value the new live deploy took stays redacted past the cap', async (t) => {
  t.timeout(300_000);
  const FIRST = 'first-db-password-5a0e6b21';
  const TAKEN = 'redeployed-db-password-d7c3f9e4';
  const { agent } = await signedInWithKey(stack, 'retiredredeploy');
  const { serviceId } = await deployedLiveByHand(stack, agent, 'retiredredeploy', { env_vars: [{ key: 'DB_PASSWORD', value: FIRST }] });
  const url = `/api/render/services/${serviceId}/env-vars/DB_PASSWORD`;
  t.is((await agent.request('PUT', url, { json: { value: TAKEN } })).status, 200);
  // The redeploy takes TAKEN; FIRST is what only the deploy before it had.
  const redeployId = await redeployedLiveByHand(stack, agent, serviceId);
  for (let i = 0; i <= 200; i++) {
    const put = await agent.request('PUT', url, { json: { value: `rotated-after-${i}-c0ffee` } });
    t.is(put.status, 200, put.text);
  }
  t.is(await stack.redis.client.llen(retiredKey(serviceId)), 200, 'the cap still holds');

  stack.render.appendLog(serviceId, `connecting with ${TAKEN}`, { type: 'app' });
  const page = await agent.get(`/api/render/deployments/${redeployId}/logs`);
  t.is(page.status, 200, page.text);
  t.true(page.text.includes('connecting with [redacted]'), page.text.slice(-400));
  t.false(page.text.includes(TAKEN));
});

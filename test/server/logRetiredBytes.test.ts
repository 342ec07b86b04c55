import test from 'ava';
import { randomBytes } from 'node:crypto';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack } from '../helpers/pipelineStack.js';
import { deployedLiveByHand, redeployedLiveByHand, signedInWithKey } from '../helpers/pipeline.js';
import { budgetFrom, RENDER_DOCUMENTED_LIMITS } from '../../server/render/budget.js';

// Retired values (replaced or removed through the settings) are kept per service for log redaction,
// bounded in bytes as well as in count: a secret file holds up to 48 KB, so 200 of them would keep
// some 13 MB of one service in the shared Redis. Past 1 MiB of sealed values, what no running deploy
// can print goes first; the file the live deploy took stays. Render's write limit (30 a minute) is
// raised here, as are the app's.

let stack: Stack;
const minute = (limit: number) => ({ limit, windowMs: 60_000 });
usePipelineStack(test, {
  renderOptions: { manualDeploys: true, rateLimits: { write: minute(2_000), read: minute(5_000) } },
  renderLimits: budgetFrom({ ...RENDER_DOCUMENTED_LIMITS, write: minute(2_000), read: minute(5_000) }),
}, (p) => { ({ stack } = p); });

const MAX_RETIRED_BYTES = 1024 * 1024;
const retiredKey = (serviceId: string) => `${stack.redis.prefix}:retired-secrets:${serviceId}`;
/** 40 KB on one line, so a log line can hold it whole. */
const bigFile = () => randomBytes(20 * 1024).toString('hex');

test('many large secret file changes keep the retired values under 1 MiB, the file the live deploy took still redacted', async (t) => {
  t.timeout(300_000);
  const { agent } = await signedInWithKey(stack, 'retiredbytes');
  const { serviceId } = await deployedLiveByHand(stack, agent, 'retiredbytes');
  const url = `/api/render/services/${serviceId}/secret-files/key.pem`;
  const IN_USE = bigFile();
  t.is((await agent.request('PUT', url, { json: { content: IN_USE } })).status, 200);
  // The redeploy takes IN_USE; 30 changes after it (no redeploy) retire IN_USE, then 29 files no deploy had.
  const redeployId = await redeployedLiveByHand(stack, agent, serviceId);
  for (let i = 0; i < 30; i++) {
    const put = await agent.request('PUT', url, { json: { content: bigFile() } });
    t.is(put.status, 200, put.text);
  }

  const kept = await stack.redis.client.lrange(retiredKey(serviceId), 0, -1);
  const bytes = kept.reduce((sum, v) => sum + Buffer.byteLength(v), 0);
  t.true(bytes <= MAX_RETIRED_BYTES, `${kept.length} retired values, ${bytes} bytes sealed`);
  t.true(kept.length >= 10, `the bound keeps the recent values: ${kept.length}`);

  stack.render.appendLog(serviceId, `loaded key ${IN_USE}`, { type: 'app' });
  const page = await agent.get(`/api/render/deployments/${redeployId}/logs`);
  t.is(page.status, 200, page.text);
  t.true(page.text.includes('loaded key [redacted]'), page.text.slice(-400));
  t.false(page.text.includes(IN_USE.slice(0, 64)));
});

import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, QUICK_LOG_TAIL } from '../helpers/pipelineStack.js';
import { deployedLiveByHand, signedInWithKey } from '../helpers/pipeline.js';
import { openSseAs, sseLogLines } from '../helpers/sse.js';

// A live tail reuses the service's values for redaction for a while (5 minutes): a value set on the
// settings page meanwhile is a secret from then on, in lines the tail shows (a new instance starting
// during the running deploy's window prints it there).

const NEW_VALUE = 'brand-new-webhook-secret-6e0f2a';
const NEW_FILE = 'new-file-line-secret-b71c55d0';
let stack: Stack;
usePipelineStack(test, {
  renderOptions: { manualDeploys: true },
  logTail: QUICK_LOG_TAIL,
}, (p) => { ({ stack } = p); });

test('a value set through the settings while a live tail runs is redacted in that tail at once', async (t) => {
  const { agent } = await signedInWithKey(stack, 'tailnew');
  const { id, serviceId } = await deployedLiveByHand(stack, agent, 'tailnew');
  const tab = await openSseAs(agent, `/api/events?logs=${id}`);
  t.teardown(() => tab.close());
  await tab.waitFor((text) => text.includes('retry:'));
  stack.render.appendLog(serviceId, 'tail running', { type: 'app' });
  await tab.waitFor((text) => sseLogLines(text).some((l) => l.message === 'tail running'), 15_000);

  const base = `/api/render/services/${serviceId}`;
  t.is((await agent.request('PUT', `${base}/env-vars/WEBHOOK_SECRET`, { json: { value: NEW_VALUE } })).status, 200);
  t.is((await agent.request('PUT', `${base}/secret-files/extra.txt`, { json: { content: `${NEW_FILE}\n` } })).status, 200);
  stack.render.appendLog(serviceId, `webhook secret ${NEW_VALUE}`, { type: 'app' });
  stack.render.appendLog(serviceId, `file ${NEW_FILE}`, { type: 'app' });
  await tab.waitFor((text) => sseLogLines(text).some((l) => l.message.startsWith('file ')), 15_000);
  const lines = sseLogLines(tab.text()).map((l) => l.message);
  t.true(lines.includes('webhook secret [redacted]'), lines.join(' | '));
  t.true(lines.includes('file [redacted]'), lines.join(' | '));
  t.false(tab.text().includes(NEW_VALUE));
  t.false(tab.text().includes(NEW_FILE));
});

import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, QUICK_LOG_TAIL } from '../helpers/pipelineStack.js';
import { deployedLiveByHand, signedInWithKey } from '../helpers/pipeline.js';
import { openSseAs, sseLogLines } from '../helpers/sse.js';

// A service's secret files are secrets like its env var values: an app that prints one (a key it
// loads, a config it dumps) has it redacted in the log pages, the download and the live tail.

const PEM_BODY = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7secretfile';
const FILE = `-----BEGIN PRIVATE KEY-----\n${PEM_BODY}\n-----END PRIVATE KEY-----\n`;
let stack: Stack;
usePipelineStack(test, {
  renderOptions: { manualDeploys: true },
  logTail: QUICK_LOG_TAIL,
}, (p) => { ({ stack } = p); });

test('a secret file\'s content printed by the app is redacted in the page, the download and the tail', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'secfile');
  const { id, ...r } = await deployedLiveByHand(stack, agent, 'secfile');
  const put = await fetch(`${stack.render.url}/services/${r.serviceId}/secret-files/key.pem`, {
    method: 'PUT', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ content: FILE }),
  });
  t.true(put.ok, await put.text());

  const tab = await openSseAs(agent, `/api/events?logs=${id}`);
  t.teardown(() => tab.close());
  await tab.waitFor((text) => text.includes('retry:'));
  stack.render.appendLog(r.serviceId, `loaded key ${PEM_BODY}`, { type: 'app' });
  await tab.waitFor((text) => sseLogLines(text).some((l) => l.message.startsWith('loaded key')), 15_000);
  const page = await agent.get(`/api/render/deployments/${id}/logs`);
  const txt = await agent.get(`/api/render/deployments/${id}/logs.txt`);
  t.true(page.json.logs.some((l: { message: string }) => l.message === 'loaded key [redacted]'));
  for (const text of [tab.text(), page.text, txt.text]) t.false(text.includes(PEM_BODY));
});

test('an env value holding a control character, set through the settings page and printed by the app, is redacted in the page and the download', async (t) => {
  const { agent } = await signedInWithKey(stack, 'ctlchars');
  const { id, ...r } = await deployedLiveByHand(stack, agent, 'ctlchars');
  // Accepted by the settings page (only NUL is refused in a value): a vertical tab, as a pasted value may hold.
  const value = 'hunter2\x0bsuper-secret-value-77';
  const set = await agent.request('PUT', `/api/render/services/${r.serviceId}/env-vars/DB_PASSWORD`, { json: { value } });
  t.is(set.status, 200, set.text);
  stack.render.appendLog(r.serviceId, `connecting with ${value}`, { type: 'app' });
  const page = await agent.get(`/api/render/deployments/${id}/logs`);
  const txt = await agent.get(`/api/render/deployments/${id}/logs.txt`);
  t.true(page.json.logs.some((l: { message: string }) => l.message === 'connecting with [redacted]'), page.text);
  for (const text of [page.text, txt.text]) t.false(text.includes('super-secret-value-77'));
});

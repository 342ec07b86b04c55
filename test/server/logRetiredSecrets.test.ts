import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack } from '../helpers/pipelineStack.js';
import { deployedLiveByHand, signedInWithKey } from '../helpers/pipeline.js';

// A value replaced or removed on the settings page stays in the running deploy until the next one
// (Render applies changes at the next deploy): the app may still print it, and it is still a secret.

const OLD_DB = 'old-db-password-7f3a9c2e51';
const OLD_FILE = 'old-private-key-body-9d81c4aa07';
let stack: Stack;
usePipelineStack(test, { renderOptions: { manualDeploys: true } }, (p) => { ({ stack } = p); });

test('an env var value or secret file replaced or removed through the settings is still redacted from the running deploy\'s logs', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'retired');
  const { id, serviceId } = await deployedLiveByHand(stack, agent, 'retired', { env_vars: [{ key: 'DB_PASSWORD', value: OLD_DB }, { key: 'TOKEN', value: 'old-token-value-5521ab' }] });
  const put = await fetch(`${stack.render.url}/services/${serviceId}/secret-files/key.pem`, {
    method: 'PUT', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ content: OLD_FILE }),
  });
  t.true(put.ok);
  const base = `/api/render/services/${serviceId}`;
  // Rotated and removed on the settings page; no redeploy yet: the live deploy still runs with the old ones.
  t.is((await agent.request('PUT', `${base}/env-vars/DB_PASSWORD`, { json: { value: 'new-db-password-0b6e4d' } })).status, 200);
  t.is((await agent.request('DELETE', `${base}/env-vars/TOKEN`)).status, 200);
  t.is((await agent.request('PUT', `${base}/secret-files/key.pem`, { json: { content: 'new-file-content-31c7e9' } })).status, 200);

  stack.render.appendLog(serviceId, `connecting with ${OLD_DB}`, { type: 'app' });
  stack.render.appendLog(serviceId, 'token old-token-value-5521ab accepted', { type: 'app' });
  stack.render.appendLog(serviceId, `key ${OLD_FILE} loaded`, { type: 'app' });
  const page = await agent.get(`/api/render/deployments/${id}/logs`);
  t.is(page.status, 200, page.text);
  const txt = await agent.get(`/api/render/deployments/${id}/logs.txt`);
  for (const text of [page.text, txt.text]) {
    t.true(text.includes('connecting with [redacted]'), text.slice(-400));
    for (const old of [OLD_DB, 'old-token-value-5521ab', OLD_FILE]) t.false(text.includes(old), old);
  }
});

import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { useScannedStack } from '../helpers/secretScan.js';
import { createService, tenant } from './support/renderTenants.js';

// Found by probing the settings routes with the Render simulator answering a reveal with a 200 of the
// right syntax and the wrong content: the route passed on whatever Render sent, so the answer broke this
// app's own API document ({"key": "…"} with no value; a value that is not text). A reveal now takes only
// an item with its name and its value as text; anything else is Render not answering properly (503).

let stack: Stack;
useScannedStack(test, {
  renderOptions: { rateLimits: { createService: { limit: 10_000 }, write: { limit: 10_000 } } },
}, (s) => ({ stack } = s));

test.serial('a reveal Render answers with something that is not the item is a 503, not a 200 without the value', async (t) => {
  const cal = await tenant(stack, 'oddanswer-cal');
  const svc = await createService(cal, 'cal-odd');
  await cal.render.putEnvVar(svc.id, 'API_TOKEN', 'cal-env-secret-value');
  await cal.render.putSecretFile(svc.id, 'cal.pem', 'cal-file-secret-content');
  t.teardown(() => { stack.render.clearFaults(); });
  const cases: Array<[string, string, unknown]> = [
    ['/services/{serviceId}/env-vars/{envVarKey}', 'env-vars/API_TOKEN', { key: 'API_TOKEN' }],
    ['/services/{serviceId}/env-vars/{envVarKey}', 'env-vars/API_TOKEN', { key: 'API_TOKEN', value: 12345 }],
    ['/services/{serviceId}/env-vars/{envVarKey}', 'env-vars/API_TOKEN', { envVar: { key: 'API_TOKEN', value: 'x' } }],
    ['/services/{serviceId}/secret-files/{secretFileName}', 'secret-files/cal.pem', { name: 'cal.pem' }],
    ['/services/{serviceId}/secret-files/{secretFileName}', 'secret-files/cal.pem', { name: 'cal.pem', content: { pem: 'x' } }],
  ];
  for (const [route, sub, body] of cases) {
    stack.render.setFault({ method: 'GET', route, apiKey: cal.apiKey, kind: 'body', body, count: 1 });
    const res = await cal.agent.get(`/api/render/services/${svc.id}/${sub}`);
    t.is(res.status, 503, `${sub} answered ${JSON.stringify(body)}: ${res.text}`);
    t.is(res.json.error.code, 'render_unavailable');
  }
  // And once Render answers properly again, the value is there.
  t.is((await cal.agent.get(`/api/render/services/${svc.id}/env-vars/API_TOKEN`)).json.value, 'cal-env-secret-value');
  t.is((await cal.agent.get(`/api/render/services/${svc.id}/secret-files/cal.pem`)).json.content, 'cal-file-secret-content');
});

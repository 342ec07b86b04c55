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

// A commit's first line is cut to 120 characters for the deploy history. The cut fell between the two
// halves of an emoji (a UTF-16 surrogate pair) when one straddled it, and the history answered a lone
// surrogate, which shows as U+FFFD (and is no text a UTF-8 reader can take).
test.serial('deploy history: a long commit message is cut before an emoji, never through it', async (t) => {
  const eve = await tenant(stack, 'oddanswer-eve');
  const svc = await createService(eve, 'eve-odd');
  t.teardown(() => { stack.render.clearFaults(); });
  const message = `${'Ship it '.repeat(15).slice(0, 118)}\u{1F680} and more after the cut\n\nbody`;
  const at = '2026-01-02T03:04:05.123456Z';
  const deploy = { id: `dep-${'e'.repeat(20)}`, status: 'live', trigger: 'api', commit: { id: 'a'.repeat(40), message, createdAt: at }, createdAt: at, updatedAt: at, finishedAt: at };
  stack.render.setFault({ method: 'GET', route: '/services/{serviceId}/deploys', apiKey: eve.apiKey, query: { limit: '20' }, kind: 'body', body: [{ deploy, cursor: 'eve-cursor' }], count: 1 });
  const res = await eve.agent.get(`/api/render/services/${svc.id}/deploys`);
  t.is(res.status, 200, res.text);
  const shown: string = res.json.deploys[0].commitMessage;
  t.false(/[\uD800-\uDFFF]/.test(shown.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, '')), `no half of a surrogate pair: ${JSON.stringify(shown.slice(-4))}`);
  t.is(shown, `${message.slice(0, 118)}…`);
});

// A reveal is a read: Render refusing it (403 for a key without the permission, 400) was worded as a
// refused change ("not allowed to change the variable. Nothing was changed.").
test.serial('a reveal Render refuses is worded as a refused read, not as a change', async (t) => {
  const dan = await tenant(stack, 'oddanswer-dan');
  const svc = await createService(dan, 'dan-odd');
  await dan.render.putEnvVar(svc.id, 'API_TOKEN', 'dan-env-secret-value');
  await dan.render.putSecretFile(svc.id, 'dan.pem', 'dan-file-secret-content');
  t.teardown(() => { stack.render.clearFaults(); });
  const cases: Array<[string, string, number, string]> = [
    ['/services/{serviceId}/env-vars/{envVarKey}', 'env-vars/API_TOKEN', 403, 'render_forbidden'],
    ['/services/{serviceId}/secret-files/{secretFileName}', 'secret-files/dan.pem', 403, 'render_forbidden'],
    ['/services/{serviceId}/env-vars/{envVarKey}', 'env-vars/API_TOKEN', 400, 'render_rejected'],
  ];
  for (const [route, sub, status, code] of cases) {
    stack.render.setFault({ method: 'GET', route, apiKey: dan.apiKey, kind: 'status', status, count: 1 });
    const res = await dan.agent.get(`/api/render/services/${svc.id}/${sub}`);
    t.is(res.status, status, `${sub} ${status}: ${res.text}`);
    t.is(res.json.error.code, code);
    t.notRegex(res.json.error.message, /change|Nothing was changed/i, `${sub} ${status}: ${res.json.error.message}`);
    t.regex(res.json.error.message, /show|read/, `${sub} ${status}: ${res.json.error.message}`);
  }
});

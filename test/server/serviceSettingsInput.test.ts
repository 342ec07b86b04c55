import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import type { Agent } from '../helpers/agent.js';
import { useScannedStack } from '../helpers/secretScan.js';
import { createService, tenant, type Tenant } from './support/renderTenants.js';

// Hostile and edge input to the service settings routes: each is a clear 4xx that reaches Render not
// at all, or reaches it as exactly what was sent.

let stack: Stack;
useScannedStack(test, {
  renderOptions: { rateLimits: { createService: { limit: 10_000 }, write: { limit: 10_000 } } },
}, (s) => ({ stack } = s));

const renderWrites = (tn: Tenant) => stack.render.calls.filter((c) => c.accountId === tn.account.id && c.method !== 'GET').length;
/** A raw JSON body, so escapes such as a lone surrogate reach the server as written. */
const putRaw = (a: Agent, path: string, body: string) => a.request('PUT', path, { body, headers: { 'content-type': 'application/json' } });

test('secret files: content with half of a surrogate pair is a field error (it has no UTF-8 form: Render would store U+FFFD)', async (t) => {
  const jo = await tenant(stack, 'input-jo');
  const svc = await createService(jo, 'jo-input');
  const base = `/api/render/services/${svc.id}/secret-files`;
  const before = renderWrites(jo);
  for (const content of ['"key\\ud800rest"', '"\\udfff"', '"tail\\ud83d"']) {
    const res = await putRaw(jo.agent, `${base}/cert.pem`, `{"content":${content}}`);
    t.is(res.status, 400, `${content}: ${res.text}`);
    t.is(res.json.error.code, 'validation_failed');
    t.is(res.json.error.field, 'content');
  }
  t.is(renderWrites(jo), before, 'nothing reached Render');
  // A whole pair, NUL and control characters are content a file can hold, and arrive as sent.
  const ok = await putRaw(jo.agent, `${base}/cert.pem`, '{"content":"\\ud83d\\ude00 a\\u0000b\\r\\n\\u001b"}');
  t.is(ok.status, 200, ok.text);
  t.is((await jo.render.getSecretFile(svc.id, 'cert.pem')).content, '\u{1F600} a\u0000b\r\n\u001b');
});

test('settings: Render\'s free instance type is offered and accepted only for web services, as on the deploy form', async (t) => {
  const kim = await tenant(stack, 'input-kim');
  const web = await createService(kim, 'kim-web');
  const { service: worker } = await kim.render.createService({
    type: 'background_worker', name: 'kim-worker', ownerId: kim.account.ownerId, repo: 'https://github.com/acme/kim-worker', branch: 'main', autoDeploy: 'yes',
    serviceDetails: { runtime: 'node', plan: 'starter', region: 'oregon', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'node worker.js' } },
  });
  const settingsOf = (id: string) => kim.agent.get(`/api/render/services/${id}/settings`);
  t.true((await settingsOf(web.id)).json.settings.plans.includes('free'));
  const shown = await settingsOf(worker!.id);
  t.is(shown.status, 200, shown.text);
  t.false(shown.json.settings.plans.includes('free'), 'the page does not offer it');

  const before = renderWrites(kim);
  const res = await kim.agent.request('PATCH', `/api/render/services/${worker!.id}/settings`, { json: { plan: 'free' } });
  t.is(res.status, 400, res.text);
  t.is(res.json.error.code, 'validation_failed');
  t.is(res.json.error.field, 'plan');
  t.regex(res.json.error.message, /no free instance type for a background worker/);
  t.is(renderWrites(kim), before, 'nothing reached Render');
  t.is(((await kim.render.getService(worker!.id)).serviceDetails as { plan: string }).plan, 'starter');
});

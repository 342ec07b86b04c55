import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { useScannedStack } from '../helpers/secretScan.js';
import { createService, tenant } from './support/renderTenants.js';

// Routes that take nothing but their path read no body; before, they ignored one: `DELETE` of a service
// with {"dry_run": true} deleted it, and an option a client meant went unread. A form's _csrf is the
// one field such a body may carry; anything else is a 400 and nothing happens.

let stack: Stack;
useScannedStack(test, {}, (s) => ({ stack } = s));

test('a body on a route that takes none is refused and changes nothing; {} and a form\'s _csrf alone still go through', async (t) => {
  const tn = await tenant(stack, 'nobody-ada');
  const svc = await createService(tn, 'ada-nobody');
  await tn.render.putEnvVar(svc.id, 'KEEP_ME', 'x');
  const writesBefore = stack.render.calls.filter((c) => c.accountId === tn.account.id && c.method !== 'GET').length;
  const refused: Array<[string, string, unknown]> = [
    ['DELETE', `/api/render/services/${svc.id}`, { dry_run: true }],
    ['POST', `/api/render/services/${svc.id}/suspend`, { reason: 'maintenance' }],
    ['POST', `/api/render/services/${svc.id}/resume`, { x: 1 }],
    ['DELETE', `/api/render/services/${svc.id}/env-vars/KEEP_ME`, { confirm: false }],
    ['POST', '/api/render/workspaces/refresh', { all: true }],
    ['POST', '/api/render/clear-credentials', { keep: true }],
    ['POST', '/api/auth/logout', { everywhere: true }],
  ];
  for (const [method, path, json] of refused) {
    const res = await tn.agent.request(method, path, { json });
    t.is(res.status, 400, `${method} ${path}: ${res.text}`);
    t.is(res.json?.error?.code, 'validation_failed', `${method} ${path}`);
    // A form with the token and one more field: refused the same way.
    const form = new URLSearchParams({ _csrf: tn.agent.csrfToken!, dry_run: 'true' });
    const asForm = await tn.agent.request(method, path, { body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    t.is(asForm.status, 400, `form ${method} ${path}: ${asForm.text}`);
  }
  // Hostile bodies: the key pasted as a field name is not echoed; deep nesting and many keys are refused whole.
  const nested = JSON.parse(`${'{"a":'.repeat(2_000)}1${'}'.repeat(2_000)}`) as unknown;
  const manyKeys = Object.fromEntries(Array.from({ length: 3_000 }, (_, i) => [`k${i}`, i]));
  for (const json of [{ [tn.apiKey]: 1 }, nested, manyKeys, { _csrf: tn.agent.csrfToken!, 'ünïcödé\u212A': 'x' }, [], 'string']) {
    const res = await tn.agent.request('DELETE', `/api/render/services/${svc.id}`, { json });
    t.is(res.status, 400, res.text.slice(0, 200));
    t.false(res.text.includes(tn.apiKey), 'the key is not echoed');
    t.true(res.text.length < 500, 'a short answer');
  }
  t.is(stack.render.calls.filter((c) => c.accountId === tn.account.id && c.method !== 'GET').length, writesBefore, 'nothing asked of Render');
  t.is((await tn.render.getService(svc.id)).suspended, 'not_suspended');
  t.is((await tn.render.getEnvVar(svc.id, 'KEEP_ME')).value, 'x');
  t.is((await tn.agent.get('/api/render/status')).json.configured, true, 'the key is kept');
  t.truthy((await tn.agent.get('/api/session')).json.user, 'still signed in');

  // The same requests as clients send them: no body, {}, or a form with the token alone.
  t.is((await tn.agent.post(`/api/render/services/${svc.id}/suspend`, {})).status, 200);
  const form = new URLSearchParams({ _csrf: tn.agent.csrfToken! });
  const resumed = await tn.agent.request('POST', `/api/render/services/${svc.id}/resume`, { body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  t.is(resumed.status, 200, resumed.text);
  t.is((await tn.agent.delete(`/api/render/services/${svc.id}`)).status, 204);
});

import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { useScannedStack } from '../helpers/secretScan.js';
import { tenant, type Tenant } from './support/renderTenants.js';

// Names the settings page lists from Render (its spec puts no rule on an env var key or a secret file's
// name: one made on the Dashboard or through Render's API may be `spring.datasource.url`): each can be
// shown and deleted from the page (keyedItems.ts LISTED_NAME; the rule for a new name refused them, 400).
// The page builds their URLs with encodeURIComponent only (web/assets/api.js), which leaves "." and ".."
// as they are, and fetch (WHATWG URL) removes dot segments: a row's Delete of a variable named ".." goes
// to /api/render/services/<id>/, which must never reach the route that deletes the whole service.

let stack: Stack;
useScannedStack(test, {
  renderOptions: { rateLimits: { createService: { limit: 10_000 }, write: { limit: 10_000 } } },
}, (s) => ({ stack } = s));

const enc = encodeURIComponent;
/** The paths web/assets/api.js builds (svc(), deleteEnvVar, revealEnvVar). */
const uiPath = (id: string, key: string) => `/api/render/services/${enc(id)}/env-vars/${enc(key)}`;

async function serviceWithKey(tn: Tenant, name: string, key: string) {
  const { service } = await tn.render.createService({
    type: 'web_service', name, ownerId: tn.account.ownerId, repo: `https://github.com/acme/${name}`, branch: 'main', autoDeploy: 'yes',
    envVars: [{ key, value: 'some-value-123' }, { key: 'KEEP_ME', value: 'keep-value-123' }],
    serviceDetails: { runtime: 'node', plan: 'starter', region: 'oregon', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'npm start' } },
  });
  return service!;
}

test('the settings page\'s Delete of an env var listed as ".." never reaches the service\'s own delete route', async (t) => {
  const u = await tenant(stack, 'pdot-del');
  const svc = await serviceWithKey(u, 'pdot-del-svc', '..');
  const list = await u.agent.get(`/api/render/services/${svc.id}/env-vars`);
  t.is(list.status, 200, list.text);
  t.deepEqual(list.json.envVars.map((v: { key: string }) => v.key), ['..', 'KEEP_ME']);
  // The row's Delete, as the page sends it: the dot segment is resolved away (a trailing slash is left).
  t.is(new URL(uiPath(svc.id, '..'), 'http://x').pathname, `/api/render/services/${svc.id}/`);
  const res = await u.agent.delete(uiPath(svc.id, '..'));
  const deletes = stack.render.calls.filter((c) => c.accountId === u.account.id && c.method === 'DELETE');
  t.false(deletes.some((c) => c.route === '/services/{serviceId}'), `the service must not be deleted (answer ${res.status} ${res.text.slice(0, 200)})`);
  t.true(await u.render.getService(svc.id).then(() => true, () => false), 'the service is still on Render');
});

test('a variable Render lists under a name the rule for new names refuses can be shown and deleted from the page', async (t) => {
  const u = await tenant(stack, 'pdot-rule');
  const svc = await serviceWithKey(u, 'pdot-rule-svc', 'spring.datasource.url');
  const list = await u.agent.get(`/api/render/services/${svc.id}/env-vars`);
  t.true(list.json.envVars.some((v: { key: string }) => v.key === 'spring.datasource.url'), 'listed on the page');
  const shown = await u.agent.get(uiPath(svc.id, 'spring.datasource.url'));
  const del = await u.agent.delete(uiPath(svc.id, 'spring.datasource.url'));
  t.is(shown.status, 200, `Show: ${shown.status} ${shown.text.slice(0, 200)}`);
  t.is(del.status, 200, `Delete: ${del.status} ${del.text.slice(0, 200)}`);
});

test('a secret file Render lists under a name the rule for new names refuses can be shown and deleted from the page', async (t) => {
  const u = await tenant(stack, 'pdot-file');
  const svc = await serviceWithKey(u, 'pdot-file-svc', 'OK_KEY');
  // Render's per-name PUT takes the name in the path; its spec puts no rule on it.
  await u.render.putSecretFile(svc.id, 'my cert+chain.pem', 'file-content-123');
  const list = await u.agent.get(`/api/render/services/${svc.id}/secret-files`);
  t.deepEqual(list.json.secretFiles, [{ name: 'my cert+chain.pem' }], 'listed on the page');
  const path = `/api/render/services/${enc(svc.id)}/secret-files/${enc('my cert+chain.pem')}`;
  const shown = await u.agent.get(path);
  const del = await u.agent.delete(path);
  t.is(shown.status, 200, `Show: ${shown.status} ${shown.text.slice(0, 200)}`);
  t.is(del.status, 200, `Delete: ${del.status} ${del.text.slice(0, 200)}`);
});

test('a name no listing could hold (over 256 characters, a control character or NUL, a slash or backslash) is a 400 to show or delete, before Render is asked', async (t) => {
  const u = await tenant(stack, 'pdot-bad');
  const svc = await serviceWithKey(u, 'pdot-bad-svc', 'OK_KEY');
  const before = stack.render.calls.filter((c) => c.accountId === u.account.id).length;
  for (const name of ['x'.repeat(257), 'a\u0007b', 'a/b', 'a\\b', 'a\u0000b', 'a\u0085b']) {
    for (const kind of ['env-vars', 'secret-files']) {
      const path = `/api/render/services/${enc(svc.id)}/${kind}/${enc(name)}`;
      const shown = await u.agent.get(path);
      const del = await u.agent.delete(path);
      t.is(shown.status, 400, `GET ${kind} ${JSON.stringify(name.slice(0, 20))}: ${shown.text.slice(0, 120)}`);
      t.is(del.status, 400, `DELETE ${kind} ${JSON.stringify(name.slice(0, 20))}: ${del.text.slice(0, 120)}`);
    }
  }
  t.is(stack.render.calls.filter((c) => c.accountId === u.account.id).length, before, 'nothing was asked of Render');
  t.deepEqual((await u.agent.get(`/api/render/services/${svc.id}/env-vars`)).json.envVars.map((v: { key: string }) => v.key).sort(), ['KEEP_ME', 'OK_KEY'], 'nothing removed');
});

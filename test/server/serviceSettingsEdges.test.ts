import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import type { Agent } from '../helpers/agent.js';
import { findSecrets, useScannedStack } from '../helpers/secretScan.js';
import { createService, tenant, type Tenant } from './support/renderTenants.js';

// Env var and secret file names and values at the edges; refusals; values never echoed.

let stack: Stack;
useScannedStack(test, {
  renderOptions: { rateLimits: { createService: { limit: 10_000 }, write: { limit: 10_000 } } },
}, (s) => ({ stack } = s));

const put = (a: Agent, path: string, json: unknown) => a.request('PUT', path, { json });
const renderWrites = (tn: Tenant) => stack.render.calls.filter((c) => c.accountId === tn.account.id && c.method !== 'GET').length;
type Entry = { action: string; detail: { lifecycleAction?: string; serviceId?: string } };
const trail = async (tn: Tenant, action: string, serviceId: string) => ((await tn.agent.get('/api/audit?limit=100')).json.entries as Entry[])
  .filter((e) => e.detail.lifecycleAction === action && e.detail.serviceId === serviceId).length;

test('edge values and names are stored exactly as sent', async (t) => {
  const u = await tenant(stack, 'pe-edge');
  const svc = await createService(u, 'pe-edge-svc');
  const base = `/api/render/services/${svc.id}/env-vars`;
  const cases: Array<[string, string]> = [
    ['EMPTY', ''],
    ['MULTI', '-----BEGIN KEY-----\nabc\r\ndef\n-----END KEY-----\n'],
    ['lower_case', 'x=y; "quoted" \'single\' $HOME `tick`'],
    ['_UNDERSCORE', '\t leading and trailing spaces \t'],
    ['EMOJI', '\u{1F600} ünïcödé'],
    ['MAX', 'z'.repeat(16 * 1024)],
    ['K'.repeat(128), 'long name'],
    ['PORT', '8080'],
    ['RENDER_EXTERNAL_URL', 'https://x.example.com'],
  ];
  for (const [key, value] of cases) {
    const res = await put(u.agent, `${base}/${key}`, { value });
    t.is(res.status, 200, `${key}: ${res.text.slice(0, 200)}`);
    t.is((await u.render.getEnvVar(svc.id, key)).value, value, key);
    const shown = await u.agent.get(`${base}/${key}`);
    t.is(shown.json?.value, value, `${key} revealed as stored`);
  }
});

test('refused names and values: a 4xx, nothing reaches Render, the value never comes back', async (t) => {
  const u = await tenant(stack, 'pe-bad');
  const svc = await createService(u, 'pe-bad-svc');
  const base = `/api/render/services/${svc.id}/env-vars`;
  const marker = 'MARKERVALUE-zq81';
  const writes = renderWrites(u);
  for (const key of ['1A', 'A%3DB', 'A-B', 'A.B', 'K'.repeat(129), 'A%00', '%C3%89', 'A%20B', 'A%0A', '%2E%2E', 'A%2FB']) {
    const res = await put(u.agent, `${base}/${key}`, { value: marker });
    t.true(res.status === 400 || res.status === 404, `${key}: ${res.status} ${res.text.slice(0, 200)}`);
    t.false(res.text.includes(marker), key);
  }
  const big = await put(u.agent, `${base}/BIG`, { value: `${marker}${'y'.repeat(64 * 1024)}` });
  t.true(big.status === 400 || big.status === 413, `${big.status} ${big.text.slice(0, 200)}`);
  t.false(big.text.includes(marker));
  const over = await put(u.agent, `${base}/OVER`, { value: `${marker}${'y'.repeat(16 * 1024)}` });
  t.is(over.status, 400);
  t.is(over.json.error.field, 'value');
  t.false(over.text.includes(marker));
  // Neither a value nor generate_value, a wrong type, an unknown member holding the value
  for (const body of [{ value: [marker] }, { val: marker }, { value: marker, generate_value: false }, { [marker]: 'x' }]) {
    const res = await put(u.agent, `${base}/OK`, body);
    t.is(res.status, 400, JSON.stringify(body));
    t.false(res.text.includes(marker), JSON.stringify(body));
  }
  t.is(renderWrites(u), writes, 'nothing reached Render');
  t.deepEqual(await findSecrets({ stack, secrets: [marker], agents: [u.agent] }), []);
});

test('deleting a key that does not exist is a 404, nothing else removed, no delete audited', async (t) => {
  const u = await tenant(stack, 'pe-del');
  const svc = await createService(u, 'pe-del-svc');
  await u.render.putEnvVar(svc.id, 'FOO', 'foo-value-1234');
  const base = `/api/render/services/${svc.id}/env-vars`;
  const before = await trail(u, 'env_var_delete', svc.id);
  for (const key of ['NOPE', 'foo', 'FOO_']) {
    const res = await u.agent.delete(`${base}/${key}`);
    t.is(res.status, 404, `${key}: ${res.text}`);
    t.is(res.json.error.message, 'Environment variable not found.');
  }
  const sf = await u.agent.delete(`/api/render/services/${svc.id}/secret-files/nope.pem`);
  t.is(sf.status, 404, sf.text);
  t.is(sf.json.error.message, 'Secret file not found.');
  t.deepEqual((await u.render.listEnvVars(svc.id)).map((v) => [v.key, v.value]), [['FOO', 'foo-value-1234']]);
  t.is(await trail(u, 'env_var_delete', svc.id), before);
});

test.serial('Render refusing a value and quoting it: the user\'s message, logs and Redis do not hold it', async (t) => {
  const u = await tenant(stack, 'pe-quote');
  const svc = await createService(u, 'pe-quote-svc');
  const value = 'quoted-secret-Xy9\nsecond line';
  const content = 'file-secret-content-Qw7';
  t.teardown(() => stack.render.clearFaults());
  stack.render.setFault({ method: 'PUT', route: '/services/{serviceId}/env-vars/{envVarKey}', apiKey: u.apiKey, kind: 'status', status: 400, message: `invalid value "${value}"`, count: 1 });
  stack.render.setFault({ method: 'PUT', route: '/services/{serviceId}/secret-files/{secretFileName}', apiKey: u.apiKey, kind: 'status', status: 400, message: `invalid content: ${content}`, count: 1 });
  stack.render.setFault({ method: 'PUT', route: '/services/{serviceId}/env-vars/{envVarKey}', apiKey: u.apiKey, kind: 'status', status: 500, message: `boom ${value}`, count: 1 });
  const logFrom = stack.logs.length;
  const r1 = await put(u.agent, `/api/render/services/${svc.id}/env-vars/QUOTED`, { value });
  t.is(r1.status, 400, r1.text);
  t.is(r1.json.error.field, 'value');
  const r2 = await put(u.agent, `/api/render/services/${svc.id}/secret-files/q.pem`, { content });
  t.is(r2.status, 400, r2.text);
  const r3 = await put(u.agent, `/api/render/services/${svc.id}/env-vars/QUOTED`, { value });
  t.true(r3.status >= 500, r3.text);
  for (const r of [r1, r2, r3]) {
    t.false(r.text.includes('quoted-secret-Xy9'), r.text);
    t.false(r.text.includes(content), r.text);
  }
  const logs = stack.logs.slice(logFrom).join('');
  t.false(logs.includes('quoted-secret-Xy9'));
  t.false(logs.includes(content));
  t.deepEqual(await findSecrets({ stack, secrets: ['quoted-secret-Xy9', content], agents: [u.agent] }), []);
});

test('secret file names at the edges', async (t) => {
  const u = await tenant(stack, 'pe-files');
  const svc = await createService(u, 'pe-files-svc');
  const base = `/api/render/services/${svc.id}/secret-files`;
  const writes = renderWrites(u);
  for (const name of ['..', '%2E%2E', '.', '%2E', 'a%2Fb', '..%2Fetc%2Fpasswd', 'n'.repeat(256), '%C3%BCni.pem', 'a%20b', 'a%5Cb', 'a%00b', '%E2%80%AE.pem']) {
    const res = await put(u.agent, `${base}/${name}`, { content: 'x' });
    t.true(res.status === 400 || res.status === 404, `${name}: ${res.status} ${res.text.slice(0, 200)}`);
  }
  t.is(renderWrites(u), writes, 'nothing reached Render');
  for (const name of ['...', 'n'.repeat(255), '.env', '-rf', 'a.b.c']) {
    const res = await put(u.agent, `${base}/${name}`, { content: `content of ${name}` });
    t.is(res.status, 200, `${name}: ${res.text.slice(0, 200)}`);
    t.is((await u.render.getSecretFile(svc.id, name)).content, `content of ${name}`);
    const del = await u.agent.delete(`${base}/${name}`);
    t.is(del.status, 200, `${name}: ${del.text.slice(0, 200)}`);
  }
  t.deepEqual(await u.render.listSecretFiles(svc.id), []);
  const exact = await put(u.agent, `${base}/big.bin`, { content: 'q'.repeat(48 * 1024) });
  t.is(exact.status, 200, exact.text.slice(0, 200));
  const over = await put(u.agent, `${base}/big.bin`, { content: 'q'.repeat(48 * 1024 + 1) });
  t.is(over.status, 400);
  t.is(over.json.error.field, 'content');
});

test.serial('two edits of one env var at once: they take turns, the last one asked wins, both are told 200', async (t) => {
  const u = await tenant(stack, 'pe-race');
  const svc = await createService(u, 'pe-race-svc');
  const path = `/api/render/services/${svc.id}/env-vars/RACE`;
  await u.render.putEnvVar(svc.id, 'RACE', 'initial-value-0');
  const hold = stack.render.holdRequest({ method: 'PUT', route: '/services/{serviceId}/env-vars/{envVarKey}', apiKey: u.apiKey });
  const first = put(u.agent, path, { value: 'first-value-1' });
  await hold.arrived;
  const second = put(u.agent, path, { value: 'second-value-2' });
  await new Promise((r) => setTimeout(r, 300));
  hold.release();
  const [a, b] = await Promise.all([first, second]);
  t.is(a.status, 200, a.text);
  t.is(b.status, 200, b.text);
  t.is((await u.render.getEnvVar(svc.id, 'RACE')).value, 'second-value-2');
  t.is(await trail(u, 'env_var_set', svc.id), 2);
});

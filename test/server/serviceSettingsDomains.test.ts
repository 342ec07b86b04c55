import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { useScannedStack } from '../helpers/secretScan.js';
import { createService, tenant, type Tenant } from './support/renderTenants.js';

// Custom domain names at the edges, and domain ids of another service / another user.

let stack: Stack;
useScannedStack(test, {
  renderOptions: { rateLimits: { createService: { limit: 10_000 }, write: { limit: 10_000 } } },
}, (s) => ({ stack } = s));

const renderWrites = (tn: Tenant) => stack.render.calls.filter((c) => c.accountId === tn.account.id && c.method !== 'GET').length;
const names = (domains: Array<{ name: string }>) => domains.map((d) => d.name).sort();

test('domain id of another service of the same user is a 404 on delete and verify, the other service keeps it', async (t) => {
  const u = await tenant(stack, 'pd-same');
  const a = await createService(u, 'pd-a');
  const b = await createService(u, 'pd-b');
  const [bDomain] = await u.render.addCustomDomain(b.id, 'pd-b.example.com');
  const writes = renderWrites(u);
  const del = await u.agent.delete(`/api/render/services/${a.id}/custom-domains/${bDomain!.id}`);
  t.is(del.status, 404, del.text);
  const ver = await u.agent.post(`/api/render/services/${a.id}/custom-domains/${bDomain!.id}/verify`);
  t.is(ver.status, 404, ver.text);
  t.deepEqual(names(await u.render.listCustomDomains(b.id)), ['pd-b.example.com']);
  t.is(renderWrites(u) - writes, 2, 'only the two refused asks');
});

test('domain id of another user\'s service through one\'s own service is a 404; theirs stays', async (t) => {
  const owner = await tenant(stack, 'pd-owner');
  const other = await tenant(stack, 'pd-other');
  const os = await createService(owner, 'pd-owner-svc');
  const ms = await createService(other, 'pd-other-svc');
  const [d] = await owner.render.addCustomDomain(os.id, 'owner-only.example.com');
  const del = await other.agent.delete(`/api/render/services/${ms.id}/custom-domains/${d!.id}`);
  t.is(del.status, 404, del.text);
  const ver = await other.agent.post(`/api/render/services/${ms.id}/custom-domains/${d!.id}/verify`);
  t.is(ver.status, 404, ver.text);
  t.deepEqual(names(await owner.render.listCustomDomains(os.id)), ['owner-only.example.com']);
  // Adding their domain: a conflict, nothing created on one's own service.
  const taken = await other.agent.post(`/api/render/services/${ms.id}/custom-domains`, { name: 'OWNER-ONLY.example.com.' });
  t.is(taken.status, 409, taken.text);
  t.is(taken.json.error.field, 'name');
  t.deepEqual(await other.render.listCustomDomains(ms.id), []);
});

test('unusual but valid names are added as Render should get them', async (t) => {
  const u = await tenant(stack, 'pd-valid');
  const svc = await createService(u, 'pd-valid-svc');
  const base = `/api/render/services/${svc.id}/custom-domains`;
  const label63 = 'a'.repeat(63);
  // 253 characters in all: 3 labels of 63, one of 61 (plus 3 dots)
  const long253 = `${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.${'e'.repeat(57)}.com`;
  t.is(long253.length, 253);
  const cases: Array<[string, string]> = [
    ['  UPPER.Example.ORG  ', 'upper.example.org'],
    ['trailing.example.net.', 'trailing.example.net'],
    ['xn--bcher-kva.example.com', 'xn--bcher-kva.example.com'],
    [`${label63}.example.com`, `${label63}.example.com`],
    [long253, long253],
    ['*.wild.example.io', '*.wild.example.io'],
    ['1.2.3.example.com', '1.2.3.example.com'],
  ];
  for (const [sent, expected] of cases) {
    const res = await u.agent.post(base, { name: sent });
    t.is(res.status, 201, `${sent}: ${res.text.slice(0, 300)}`);
    t.true(res.json.domains.some((d: { name: string }) => d.name === expected), `${sent} → ${JSON.stringify(res.json.domains?.map((d: { name: string }) => d.name))}`);
  }
});

test('adversarial names are field errors with nothing sent to Render', async (t) => {
  const u = await tenant(stack, 'pd-bad');
  const svc = await createService(u, 'pd-bad-svc');
  const base = `/api/render/services/${svc.id}/custom-domains`;
  const host = new URL(String((svc.serviceDetails as { url: string }).url)).hostname;
  const writes = renderWrites(u);
  const bad = [
    'bücher.example.com', 'ex\u0430mple.com', `${'a'.repeat(64)}.example.com`, `${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.${'e'.repeat(58)}.com`,
    '127.0.0.1', '[::1]', '::1', 'example.com..', '.example.com', 'a..b.com', '-a.example.com', 'a-.example.com', 'a_b.example.com',
    host, host.toUpperCase(), `${host}.`, `www.${host}`, 'example.com:443', 'example.com/path', 'user@example.com', '*.', '', ' ',
    'ｅxample.com', 'example\u200b.com', 'example.com\u0000', 'EXAMPLE.K\u212aM',
  ];
  for (const name of bad) {
    const res = await u.agent.post(base, { name });
    t.is(res.status, 400, `${JSON.stringify(name)}: ${res.text.slice(0, 200)}`);
    t.is(res.json?.error?.field, 'name', JSON.stringify(name));
  }
  for (const name of [5, null, ['a.example.com'], { name: 'a.example.com' }]) {
    const res = await u.agent.post(base, { name });
    t.is(res.status, 400, `${JSON.stringify(name)}: ${res.text.slice(0, 200)}`);
  }
  t.is(renderWrites(u), writes, 'nothing reached Render');
});

test('an apex whose www is on another service is refused whole; the list shows what Render has', async (t) => {
  const u = await tenant(stack, 'pd-apex');
  const a = await createService(u, 'pd-apex-a');
  const b = await createService(u, 'pd-apex-b');
  t.is((await u.agent.post(`/api/render/services/${b.id}/custom-domains`, { name: 'www.apex-probe.com' })).status, 201);
  const res = await u.agent.post(`/api/render/services/${a.id}/custom-domains`, { name: 'apex-probe.com' });
  t.is(res.status, 409, res.text);
  t.deepEqual(await u.render.listCustomDomains(a.id), []);
  const list = await u.agent.get(`/api/render/services/${b.id}/custom-domains`);
  t.deepEqual(names(list.json.domains), ['www.apex-probe.com']);
});

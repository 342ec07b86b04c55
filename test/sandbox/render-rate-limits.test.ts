import test from 'ava';
import { DEFAULT_RATE_LIMITS, startRenderSimulator } from '../../sandbox/render/index.js';
import { renderTestClient, webServiceBody, type ApiResponse } from './render-test-client.js';

// Rate limits of docs/render-api.md §9 per key (deploy-type actions per service), with shrunk windows.

const SECURITY_HEADERS: Record<string, string> = {
  'referrer-policy': 'same-origin',
  vary: 'Origin',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'x-xss-protection': '1; mode=block',
};

function assertStandardHeaders(t: { true: (v: boolean, m?: string) => void; is: (a: unknown, b: unknown, m?: string) => void; regex: (s: string, r: RegExp, m?: string) => void }, res: ApiResponse, label: string) {
  for (const h of ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset']) t.regex(res.headers.get(h) ?? '', /^\d+$/, `${label}: ${h}`);
  t.regex(res.headers.get('render-request-id') ?? '', /^api-/, `${label}: render-request-id`);
  for (const [h, v] of Object.entries(SECURITY_HEADERS)) t.is(res.headers.get(h), v, `${label}: ${h}`);
}

test('default limits are the documented ones and every response carries the headers', async (t) => {
  t.deepEqual(DEFAULT_RATE_LIMITS, {
    createService: { limit: 20, windowMs: 3_600_000 },
    deploy: { limit: 10, windowMs: 60_000 },
    write: { limit: 30, windowMs: 60_000 },
    read: { limit: 400, windowMs: 60_000 },
  });
  const sim = await startRenderSimulator({ manualDeploys: true });
  t.teardown(() => sim.close());
  const { ownerId } = sim.addAccount({ apiKey: 'rnd_h' });
  const api = renderTestClient(sim.url, 'rnd_h');
  const get = await api.get('/owners');
  assertStandardHeaders(t, get, 'GET');
  t.is(get.headers.get('ratelimit-limit'), '400');
  t.is(get.headers.get('ratelimit-remaining'), '399');
  t.true(Number(get.headers.get('ratelimit-reset')) <= 60);
  t.is(get.headers.get('content-type'), 'application/json; charset=utf-8');
  const created = await api.call('POST', '/services', webServiceBody(ownerId, 'h'));
  t.is(created.headers.get('ratelimit-limit'), '20');
  t.true(Number(created.headers.get('ratelimit-reset')) > 60, 'hourly window');
  const id = created.body.service.id;
  const dep = await api.call('POST', `/services/${id}/deploys`, {});
  t.is(dep.headers.get('ratelimit-limit'), '10');
  assertStandardHeaders(t, dep, '202');
  const put = await api.call('PUT', `/services/${id}/env-vars/X`, { value: '1' });
  t.is(put.headers.get('ratelimit-limit'), '30');
  for (const [label, res] of [
    ['401', await api.call('GET', '/owners', undefined, { key: 'rnd_bad' })],
    ['404', await api.get('/services/srv-00000000000000000000')],
    ['400', await api.get('/services?limit=0')],
    ['unknown route', await api.get('/nope')],
  ] as const) {
    assertStandardHeaders(t, res, label);
  }
  t.not(get.headers.get('render-request-id'), dep.headers.get('render-request-id'));
});

test('beyond the limit: 429, rate limit exceeded, Retry-After; the window then resets', async (t) => {
  // The simulator's clock is this test's: the 2 s window passes when the test says so, not with the load.
  let now = Date.now();
  const sim = await startRenderSimulator({ rateLimits: { read: { limit: 3, windowMs: 2000 } }, now: () => now });
  t.teardown(() => sim.close());
  sim.addAccount({ apiKey: 'rnd_a' });
  sim.addAccount({ apiKey: 'rnd_b' });
  const a = renderTestClient(sim.url, 'rnd_a');
  const b = renderTestClient(sim.url, 'rnd_b');
  const remaining: string[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await a.get('/owners');
    t.is(res.status, 200);
    remaining.push(res.headers.get('ratelimit-remaining') ?? '');
  }
  t.deepEqual(remaining, ['2', '1', '0']);
  const limited = await a.get('/owners');
  t.is(limited.status, 429);
  t.deepEqual(limited.body, { message: 'rate limit exceeded' });
  t.is(limited.headers.get('ratelimit-remaining'), '0');
  t.is(limited.headers.get('ratelimit-limit'), '3');
  t.true(['1', '2'].includes(limited.headers.get('retry-after') ?? ''), 'seconds until the 2 s window ends');
  assertStandardHeaders(t, limited, '429');
  t.is((await b.get('/owners')).status, 200, 'limits are per key');
  t.is(sim.stats().rateLimited, 1);
  const retryAfterMs = Number(limited.headers.get('retry-after')) * 1000;
  now += retryAfterMs - 1;
  t.is((await a.get('/owners')).status, 429, 'still the same window just before Retry-After');
  now += 1;
  t.is((await a.get('/owners')).status, 200, 'a new window starts after Retry-After');
});

test('deploy-type actions are limited per service; creation and writes have their own buckets', async (t) => {
  const sim = await startRenderSimulator({
    manualDeploys: true,
    rateLimits: { deploy: { limit: 2 }, createService: { limit: 3, windowMs: 60_000 }, write: { limit: 2 } },
  });
  t.teardown(() => sim.close());
  const { ownerId } = sim.addAccount({ apiKey: 'rnd_d' });
  const api = renderTestClient(sim.url, 'rnd_d');
  const s1 = (await api.call('POST', '/services', webServiceBody(ownerId, 's1'))).body.service.id;
  const s2 = (await api.call('POST', '/services', webServiceBody(ownerId, 's2'))).body.service.id;
  t.is((await api.call('POST', `/services/${s1}/deploys`, {})).status, 202);
  t.is((await api.call('PATCH', `/services/${s1}`, { branch: 'dev' })).status, 200);
  const third = await api.call('POST', `/services/${s1}/suspend`);
  t.is(third.status, 429, 'deploys, PATCH and suspend share the per-service bucket');
  t.truthy(third.headers.get('retry-after'));
  t.is((await api.call('POST', `/services/${s2}/deploys`, {})).status, 202, 'another service has its own bucket');
  t.is((await api.call('PUT', `/services/${s1}/env-vars/A`, { value: '1' })).status, 200);
  t.is((await api.call('PUT', `/services/${s1}/env-vars/B`, { value: '2' })).status, 200);
  t.is((await api.call('PUT', `/services/${s1}/env-vars/C`, { value: '3' })).status, 429, 'other writes: 2 in this window');
  t.is((await api.call('POST', '/services', webServiceBody(ownerId, 's3'))).status, 201);
  const fourth = await api.call('POST', '/services', webServiceBody(ownerId, 's4'));
  t.is(fourth.status, 429);
  t.is(fourth.headers.get('ratelimit-limit'), '3');
  t.true(Number(fourth.headers.get('retry-after')) >= 1);
  t.is((await api.get('/services')).body.length, 3);
});

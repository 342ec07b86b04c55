import test from 'ava';
import { startRenderSimulator } from '../../sandbox/render/index.js';
import { renderTestClient, webServiceBody } from './render-test-client.js';

// Fault injection per route: latency, status, reset, timeout, malformed, body, without, emptyPage.

async function setup() {
  const sim = await startRenderSimulator({ manualDeploys: true });
  const account = sim.addAccount({ apiKey: 'rnd_f' });
  sim.addAccount({ apiKey: 'rnd_g' });
  return { sim, account, api: renderTestClient(sim.url, 'rnd_f'), other: renderTestClient(sim.url, 'rnd_g') };
}

test('latency: delays, then answers normally', async (t) => {
  const { sim, api } = await setup();
  t.teardown(() => sim.close());
  sim.setFault({ route: '/owners', kind: 'latency', ms: 120 });
  const started = performance.now();
  const res = await api.get('/owners');
  const elapsed = performance.now() - started;
  t.is(res.status, 200);
  t.is(res.body.length, 1);
  t.true(elapsed >= 110, `answered after ${elapsed.toFixed(0)} ms`);
});

test('status: answers the status with an error body, count times; 429 carries Retry-After', async (t) => {
  const { sim, api, account } = await setup();
  t.teardown(() => sim.close());
  sim.setFault({ method: 'GET', route: '/services', kind: 'status', status: 500, count: 2 });
  for (let i = 0; i < 2; i++) {
    const res = await api.get('/services');
    t.is(res.status, 500);
    t.is(typeof res.body.message, 'string');
    t.truthy(res.headers.get('ratelimit-limit'));
    t.truthy(res.headers.get('render-request-id'));
  }
  t.is((await api.get('/services')).status, 200, 'count used up');
  t.is((await api.call('POST', '/services', webServiceBody(account.ownerId, 'unaffected'))).status, 201, 'method filter');

  sim.setFault({ route: '*', kind: 'status', status: 429, ms: 3000, count: 1 });
  const limited = await api.get('/users');
  t.is(limited.status, 429);
  t.is(limited.headers.get('retry-after'), '3');
  t.is(limited.headers.get('ratelimit-remaining'), '0');
  sim.setFault({ route: '/users', kind: 'status', status: 503, count: 1 });
  t.is((await api.get('/users')).status, 503);
  t.is((await api.get('/users')).status, 200);
});

test('reset: the connection is destroyed without an answer', async (t) => {
  const { sim, api } = await setup();
  t.teardown(() => sim.close());
  sim.setFault({ route: '/owners/{ownerId}', kind: 'reset', count: 1 });
  const owner = (await api.get('/owners')).body[0].owner.id;
  await t.throwsAsync(() => fetch(`${sim.url}/owners/${owner}`, { headers: { Authorization: 'Bearer rnd_f' } }));
  t.is(sim.calls.at(-1)?.status, 0);
  t.is(sim.calls.at(-1)?.route, '/owners/{ownerId}');
  t.is((await api.get(`/owners/${owner}`)).status, 200);
});

test('timeout: never answers until the client gives up; close() still returns', async (t) => {
  const { sim, api } = await setup();
  sim.setFault({ route: '/users', kind: 'timeout' });
  const err = await t.throwsAsync(() => fetch(`${sim.url}/users`, { headers: { Authorization: 'Bearer rnd_f' }, signal: AbortSignal.timeout(150) }));
  t.is(err?.name, 'TimeoutError');
  t.is((await api.get('/owners')).status, 200, 'other routes keep working');
  // A request left hanging must not keep close() from finishing.
  const hanging = fetch(`${sim.url}/users`, { headers: { Authorization: 'Bearer rnd_f' } }).catch((e: unknown) => e);
  await new Promise((r) => setTimeout(r, 30));
  await sim.close();
  t.true((await hanging) instanceof Error);
});

test('malformed: 200 with a body that is not JSON', async (t) => {
  const { sim } = await setup();
  t.teardown(() => sim.close());
  sim.setFault({ route: '/users', kind: 'malformed' });
  const res = await fetch(`${sim.url}/users`, { headers: { Authorization: 'Bearer rnd_f' } });
  t.is(res.status, 200);
  const text = await res.text();
  t.throws(() => JSON.parse(text));
});

test('without: the request is handled as usual and its answer leaves out the named fields (a creation naming no deploy)', async (t) => {
  const { sim, api, account } = await setup();
  t.teardown(() => sim.close());
  sim.setFault({ method: 'POST', route: '/services', kind: 'without', fields: ['deployId'], count: 1 });
  const created = await api.call('POST', '/services', webServiceBody(account.ownerId, 'unnamed'));
  t.is(created.status, 201);
  t.is(created.body.service.name, 'unnamed');
  t.false('deployId' in created.body, 'the answer names no deploy');
  // The service and its first deploy were made all the same.
  const deploys = await api.get(`/services/${created.body.service.id}/deploys`);
  t.is(deploys.status, 200);
  t.is(deploys.body.length, 1);
  const next = await api.call('POST', '/services', webServiceBody(account.ownerId, 'named'));
  t.is(typeof next.body.deployId, 'string', 'count used up');
  t.throws(() => sim.setFault({ route: '/services', kind: 'without' }));
});

test('emptyPage: a logs page of no lines that says there are more, its next window the one asked', async (t) => {
  const { sim, api, account } = await setup();
  t.teardown(() => sim.close());
  const svc = (await api.call('POST', '/services', webServiceBody(account.ownerId, 'quiet'))).body;
  sim.appendLog(svc.service.id, 'a line');
  const start = '2000-01-01T00:00:00.000000Z';
  const end = new Date(Date.now() + 60_000).toISOString();
  const path = `/logs?ownerId=${account.ownerId}&resource=${svc.service.id}&direction=forward&startTime=${start}&endTime=${end}`;
  sim.setFault({ method: 'GET', route: '/logs', kind: 'emptyPage', count: 1 });
  const empty = await api.get(path);
  t.is(empty.status, 200);
  t.deepEqual(empty.body, { hasMore: true, nextStartTime: start, nextEndTime: end, logs: [] });
  const next = await api.get(path);
  t.deepEqual(next.body.logs.map((l: { message: string }) => l.message), ['a line'], 'the same window read again has the line');
});

test('emptyPage with next moved: the stretch before the lines is empty, the next window starts (forward) or ends (backward) at them', async (t) => {
  const { sim, api, account } = await setup();
  t.teardown(() => sim.close());
  const svc = (await api.call('POST', '/services', webServiceBody(account.ownerId, 'quiet-moved'))).body;
  sim.appendLog(svc.service.id, 'a line');
  sim.appendLog(svc.service.id, 'b line');
  const start = '2000-01-01T00:00:00.000000Z';
  const end = new Date(Date.now() + 60_000).toISOString();
  const path = (direction: string, s: string, e: string) => `/logs?ownerId=${account.ownerId}&resource=${svc.service.id}&direction=${direction}&startTime=${s}&endTime=${e}`;
  sim.setFault({ method: 'GET', route: '/logs', kind: 'emptyPage', next: 'moved' });
  const all = (await api.get(path('forward', start, end)));
  t.deepEqual(all.body.logs, [], 'the stretch before the lines');
  const [a, b] = [all.body.nextStartTime as string, all.body.nextEndTime as string];
  t.true(all.body.hasMore);
  t.is(b, end);
  // The next window begins at the first line: read on, it holds every line (the fault finds no stretch before them).
  const next = await api.get(path('forward', a, b));
  t.deepEqual(next.body.logs.map((l: { message: string }) => l.message), ['a line', 'b line']);
  t.is(next.body.logs[0].timestamp, a);
  const back = await api.get(path('backward', start, end));
  t.deepEqual(back.body.logs, []);
  t.is(back.body.nextStartTime, start);
  const newest = await api.get(path('backward', back.body.nextStartTime, back.body.nextEndTime));
  t.deepEqual(newest.body.logs.map((l: { message: string }) => l.message), ['b line', 'a line']);
  t.throws(() => sim.setFault({ route: '/logs', kind: 'emptyPage', next: 'later' as 'moved' }));
});

test('rules match by key and probability; clearFaults removes them; the control surface sets them', async (t) => {
  const { sim, api, other } = await setup();
  t.teardown(() => sim.close());
  sim.setFault({ kind: 'status', status: 500, apiKey: 'rnd_g' });
  t.is((await api.get('/users')).status, 200);
  t.is((await other.get('/users')).status, 500);
  sim.clearFaults();
  t.is((await other.get('/users')).status, 200);
  sim.setFault({ kind: 'status', status: 500, probability: 0 });
  for (let i = 0; i < 5; i++) t.is((await api.get('/users')).status, 200);
  sim.clearFaults();

  const set = await fetch(`${sim.controlUrl}/faults`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ route: '/users', kind: 'status', status: 502 }) });
  t.is(set.status, 201);
  t.truthy(((await set.json()) as { id: string }).id);
  t.is((await api.get('/users')).status, 502);
  t.is((await fetch(`${sim.controlUrl}/faults`, { method: 'DELETE' })).status, 204);
  t.is((await api.get('/users')).status, 200);
  const bad = await fetch(`${sim.controlUrl}/faults`, { method: 'POST', body: JSON.stringify({ kind: 'explode' }) });
  t.is(bad.status, 400);
});

test('every: a schedule, the n-th matching request and each n-th after it; a rule that fired first takes the request', async (t) => {
  const { sim, api } = await setup();
  t.teardown(() => sim.close());
  sim.setFault({ method: 'GET', route: '/users', kind: 'status', status: 503, every: 3 });
  sim.setFault({ method: 'GET', route: '/users', kind: 'status', status: 500, every: 2 });
  const statuses: number[] = [];
  for (let i = 0; i < 9; i++) statuses.push((await api.get('/users')).status);
  // The 500 rule counts only the requests the 503 rule left it: 1, 2 (fires), -, 3, 4 (fires), -, 5, 6 (fires), -.
  t.deepEqual(statuses, [200, 500, 503, 200, 500, 503, 200, 500, 503]);
  t.is((await api.get('/owners')).status, 200, 'route filter');
  t.throws(() => sim.setFault({ route: '*', kind: 'status', status: 500, every: 0 }));
});

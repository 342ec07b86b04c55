import test from 'ava';
import { startRenderSimulator } from '../../sandbox/render/index.js';
import { renderTestClient, webServiceBody } from './render-test-client.js';

// GET /logs: required params, time-window paging with hasMore/nextStartTime/nextEndTime, filters,
// and the build log lines deploys write.

const T0 = Date.parse('2026-03-01T12:00:00Z');

async function setup() {
  let nowMs = T0;
  const sim = await startRenderSimulator({ manualDeploys: true, now: () => nowMs });
  const account = sim.addAccount({ apiKey: 'rnd_l' });
  sim.addAccount({ apiKey: 'rnd_m' });
  const api = renderTestClient(sim.url, 'rnd_l');
  const svc = (await api.call('POST', '/services', webServiceBody(account.ownerId, 'logger'))).body;
  return { sim, account, api, serviceId: svc.service.id as string, deployId: svc.deployId as string, tick: (ms: number) => { nowMs += ms; } };
}

test('backward and forward paging by time returns every line exactly once', async (t) => {
  const { sim, account, api, serviceId, tick } = await setup();
  t.teardown(() => sim.close());
  for (let i = 0; i < 25; i++) {
    tick(1000);
    sim.appendLog(serviceId, `line ${i}`);
  }
  const base = `/logs?ownerId=${account.ownerId}&resource=${serviceId}&type=app&limit=10`;
  for (const direction of ['backward', 'forward'] as const) {
    const seen: string[] = [];
    let window = '';
    let pages = 0;
    for (;;) {
      const res = await api.get(`${base}&direction=${direction}${window}`);
      t.is(res.status, 200);
      pages += 1;
      seen.push(...res.body.logs.map((l: { message: string }) => l.message));
      if (!res.body.hasMore) break;
      t.is(res.body.logs.length, 10);
      window = `&startTime=${encodeURIComponent(res.body.nextStartTime)}&endTime=${encodeURIComponent(res.body.nextEndTime)}`;
    }
    t.is(pages, 3, direction);
    const expected = Array.from({ length: 25 }, (_, i) => `line ${i}`);
    t.deepEqual(seen, direction === 'forward' ? expected : expected.reverse(), direction);
  }
});

test('entries have ids, microsecond timestamps and labels; filters narrow them', async (t) => {
  const { sim, account, api, serviceId, tick } = await setup();
  t.teardown(() => sim.close());
  tick(10);
  sim.appendLog(serviceId, 'GET /healthz 200', { type: 'request' });
  sim.appendLog(serviceId, 'boom: database unreachable', { level: 'error' });
  sim.appendLog(serviceId, 'listening', { level: 'info' });
  const base = `/logs?ownerId=${account.ownerId}&resource=${serviceId}`;
  const all = (await api.get(`${base}&type=app,request`)).body;
  t.is(all.logs.length, 3);
  const entry = all.logs[0];
  t.truthy(entry.id);
  t.regex(entry.timestamp, /\.\d{6}Z$/);
  t.deepEqual(entry.labels.find((l: { name: string }) => l.name === 'resource'), { name: 'resource', value: serviceId });
  t.true(entry.labels.some((l: { name: string; value: string }) => l.name === 'instance' && l.value.startsWith(`${serviceId}-`)));
  t.deepEqual((await api.get(`${base}&level=error`)).body.logs.map((l: { message: string }) => l.message), ['boom: database unreachable']);
  t.deepEqual((await api.get(`${base}&type=request`)).body.logs.map((l: { message: string }) => l.message), ['GET /healthz 200']);
  t.deepEqual((await api.get(`${base}&text=*unreachable`)).body.logs.map((l: { message: string }) => l.message), ['boom: database unreachable']);
});

test('the default window is the last hour; startTime/endTime select a window', async (t) => {
  const { sim, account, api, serviceId, tick } = await setup();
  t.teardown(() => sim.close());
  sim.appendLog(serviceId, 'old');
  tick(30 * 60_000);
  sim.appendLog(serviceId, 'middle');
  tick(45 * 60_000);
  sim.appendLog(serviceId, 'new');
  const base = `/logs?ownerId=${account.ownerId}&resource=${serviceId}&type=app&direction=forward`;
  const msgs = async (q: string) => (await api.get(`${base}${q}`)).body.logs.map((l: { message: string }) => l.message);
  t.deepEqual(await msgs(''), ['middle', 'new']);
  const start = new Date(T0 - 60_000).toISOString();
  const end = new Date(T0 + 40 * 60_000).toISOString();
  t.deepEqual(await msgs(`&startTime=${start}&endTime=${end}`), ['old', 'middle']);
});

test('deploys write realistic build logs as they move', async (t) => {
  const { sim, account, api, serviceId, deployId } = await setup();
  t.teardown(() => sim.close());
  for (let i = 0; i < 3; i++) sim.advanceDeploy(deployId);
  const logs = (await api.get(`/logs?ownerId=${account.ownerId}&resource=${serviceId}&type=build&direction=forward&limit=100`)).body.logs;
  const text = logs.map((l: { message: string }) => l.message).join('\n');
  for (const expected of ['Cloning from https://github.com/acme/logger', 'Running build command \'npm ci\'', 'Uploading build', 'Build successful', 'Deploying', 'Your service is live']) {
    t.true(text.includes(expected), expected);
  }
  const app = (await api.get(`/logs?ownerId=${account.ownerId}&resource=${serviceId}&type=app`)).body.logs;
  t.true(app.some((l: { message: string }) => l.message.includes('listening on port 10000')));
});

test('ownerId and resource are required; other accounts\' resources are 404', async (t) => {
  const { sim, account, api, serviceId } = await setup();
  t.teardown(() => sim.close());
  t.is((await api.get(`/logs?resource=${serviceId}`)).status, 400);
  t.is((await api.get(`/logs?ownerId=${account.ownerId}`)).status, 400);
  t.is((await api.get(`/logs?ownerId=${account.ownerId}&resource=${serviceId}&direction=sideways`)).status, 400);
  t.is((await api.get(`/logs?ownerId=${account.ownerId}&resource=${serviceId}&startTime=noon`)).status, 400);
  t.is((await api.get(`/logs?ownerId=${account.ownerId}&resource=${serviceId}&startTime=2026-03-02T00:00:00Z&endTime=2026-03-01T00:00:00Z`)).status, 400);
  t.is((await api.get(`/logs?ownerId=${account.ownerId}&resource=${serviceId}&limit=101`)).status, 400);
  t.is((await api.get(`/logs?ownerId=${account.ownerId}&resource=srv-zzzzzzzzzzzzzzzzzzzz`)).status, 404);
  const other = renderTestClient(sim.url, 'rnd_m');
  const otherOwner = (await other.get('/owners')).body[0].owner.id;
  t.is((await other.get(`/logs?ownerId=${account.ownerId}&resource=${serviceId}`)).status, 404);
  t.is((await other.get(`/logs?ownerId=${otherOwner}&resource=${serviceId}`)).status, 404);
});

test('appendLog over the control surface, also for resources the simulator does not model', async (t) => {
  const { sim, account, api } = await setup();
  t.teardown(() => sim.close());
  const res = await fetch(`${sim.controlUrl}/logs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ resourceId: 'dpg-aaaaaaaaaaaaaaaaaaaa', message: 'checkpoint complete', type: 'app' }) });
  t.is(res.status, 204);
  const logs = (await api.get(`/logs?ownerId=${account.ownerId}&resource=dpg-aaaaaaaaaaaaaaaaaaaa`)).body.logs;
  t.deepEqual(logs.map((l: { message: string }) => l.message), ['checkpoint complete']);
});

test('a queued deploy\'s build lines start at its startedAt, not its createdAt (which falls inside the previous build)', async (t) => {
  const { sim, account, api, serviceId, deployId, tick } = await setup();
  t.teardown(() => sim.close());
  tick(10);
  await api.call('POST', `/services/${serviceId}/deploys`, {}); // behind the active one: queued
  const list = (await api.get(`/services/${serviceId}/deploys`)).body as Array<{ deploy: { id: string; status: string } }>;
  const second = list.map((x) => x.deploy).find((d) => d.status === 'queued')!;
  t.truthy(second);
  for (let i = 0; i < 3; i++) { tick(1000); sim.advanceDeploy(deployId); } // the first goes live; the second starts
  for (let i = 0; i < 3; i++) { tick(1000); sim.advanceDeploy(second.id); }
  const d1 = (await api.get(`/services/${serviceId}/deploys/${deployId}`)).body;
  const d2 = (await api.get(`/services/${serviceId}/deploys/${second.id}`)).body;
  const build = async (from: string, to: string) => (await api.get(`/logs?ownerId=${account.ownerId}&resource=${serviceId}&type=build&direction=forward&limit=100&startTime=${encodeURIComponent(from)}&endTime=${encodeURIComponent(to)}`)).body.logs.map((l: { message: string }) => l.message) as string[];
  const own1 = await build(d1.startedAt, d1.finishedAt);
  const own2 = await build(d2.startedAt, d2.finishedAt);
  for (const own of [own1, own2]) {
    t.is(own.filter((m) => m.startsWith('==> Cloning from')).length, 1);
    t.is(own.filter((m) => m.includes('Your service is live')).length, 1);
  }
  const fromCreated = await build(d2.createdAt, d2.finishedAt);
  t.is(fromCreated.filter((m) => m.startsWith('==> Cloning from')).length, 2, 'createdAt of a queued deploy reaches into the previous build');
});

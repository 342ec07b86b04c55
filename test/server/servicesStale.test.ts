import test from 'ava';
import { manualClock } from '../../server/clock.js';
import type { Stack } from '../helpers/stack.js';
import { useScannedStack } from '../helpers/secretScan.js';
import { waitUntil } from '../helpers/wait.js';
import { createService, listCalls as listCallsOf, names, tenant as tenantOf, type Tenant } from './support/renderTenants.js';

// The service list's stale-while-revalidate (server/render/serviceCache.ts), as a polling client sees
// it: fresh for 8 s; from 8 to 20 s the cached list at once while one refresh runs behind it; older,
// invalidated by a change, or dropped by a refresh Render refused (a revoked key), never served.
// The file moves the web process's clock, so its tests run one at a time.

const clock = manualClock(Date.parse('2026-12-01T12:00:00Z'));
let stack: Stack;
useScannedStack(test, { clock }, (s) => ({ stack } = s));

const tenant = (name: string) => tenantOf(stack, name);
const listCalls = (tn: Tenant) => listCallsOf(stack, tn);
const list = (tn: Tenant) => tn.agent.get('/api/render/services');

/** The background refresh has ended: its lock (per list and generation) is given back after its write or drop. */
const refreshEnded = () => waitUntil('the background refresh to end', async () =>
  (await stack.redis.client.keys(`${stack.redis.prefix}:svc-cache:*:lock:*`)).length === 0, 10_000, 10);

test.serial('past 8 s a poll gets the cached list at once and one refresh runs behind it; later polls get the fresh list', async (t) => {
  const tn = await tenant('swr-ada');
  await createService(tn, 'ada-a');
  t.deepEqual(names(await list(tn)), ['ada-a']);
  await createService(tn, 'ada-b'); // made on Render behind the cache's back
  clock.advance(7_000);
  t.deepEqual(names(await list(tn)), ['ada-a'], 'fresh: no Render call');
  t.is(listCalls(tn), 1);

  clock.advance(2_000);
  // A poll that waited for Render would already see ada-b: this one was answered from the cache.
  const stale = await list(tn);
  t.is(stale.status, 200);
  t.deepEqual(names(stale), ['ada-a']);
  const fresh = await waitUntil('the refreshed list', async () => {
    const res = await list(tn);
    return res.json.services.length === 2 && res;
  }, 10_000, 10);
  t.deepEqual(names(fresh), ['ada-a', 'ada-b']);
  t.is(listCalls(tn), 2, 'one refresh, however many polls came while it ran');
});

test.serial('a list older than 20 s is not served: the poll waits for Render', async (t) => {
  const tn = await tenant('swr-old');
  await createService(tn, 'old-a');
  await list(tn);
  await createService(tn, 'old-b');
  clock.advance(20_000);
  t.deepEqual(names(await list(tn)), ['old-a', 'old-b']);
  t.is(listCalls(tn), 2);
});

test.serial('a change is never answered from the stale list, even with a refresh of the old list in flight', async (t) => {
  const tn = await tenant('swr-sam');
  const svc = await createService(tn, 'sam-web');
  t.false((await list(tn)).json.services[0].suspended);
  clock.advance(9_000);
  // The refresh reads the list at once, then waits on each service's latest deploy: the change lands in between.
  stack.render.setFault({ kind: 'latency', ms: 300, method: 'GET', route: '/services/{serviceId}/deploys', apiKey: tn.apiKey, count: 1 });
  t.false((await list(tn)).json.services[0].suspended, 'stale, and a refresh started');
  t.is((await tn.agent.post(`/api/render/services/${svc.id}/suspend`)).status, 200);
  const after = await list(tn);
  t.true(after.json.services[0].suspended, 'the poll after the change waited for Render');
  await refreshEnded();
  t.true((await list(tn)).json.services[0].suspended, 'the old refresh did not write its list over the new one');
  t.is(listCalls(tn), 3, 'first load, the old refresh, the load after the change');
});

test.serial('a revoked key: the refresh\'s 401 drops the list, so the next poll says render_key_invalid', async (t) => {
  const tn = await tenant('swr-rev');
  await createService(tn, 'rev-web');
  await list(tn);
  clock.advance(9_000);
  stack.render.revokeKey(tn.apiKey);
  const from = stack.render.calls.length;
  t.is((await list(tn)).status, 200, 'the poll that starts the refresh still has the list');
  await waitUntil('the refresh\'s 401', async () => stack.render.calls.slice(from).some((c) => c.route === '/services' && c.status === 401), 10_000, 10);
  await refreshEnded();
  for (let i = 0; i < 2; i++) {
    const res = await list(tn);
    t.is(res.status, 400, res.text);
    t.is(res.json.error.code, 'render_key_invalid');
  }
});

test.serial('Render failing during a refresh keeps the list until it is 20 s old; then the poll says so', async (t) => {
  const tn = await tenant('swr-busy');
  await createService(tn, 'busy-a');
  await list(tn);
  await createService(tn, 'busy-b');
  clock.advance(9_000);
  stack.render.setFault({ kind: 'status', status: 503, method: 'GET', route: '/services', apiKey: tn.apiKey });
  try {
    const from = stack.render.calls.length;
    t.deepEqual(names(await list(tn)), ['busy-a']);
    await waitUntil('the refresh\'s 503', async () => stack.render.calls.slice(from).some((c) => c.route === '/services' && c.status === 503), 10_000, 10);
    await refreshEnded();
    const kept = await list(tn);
    t.is(kept.status, 200);
    t.deepEqual(names(kept), ['busy-a'], 'Render busy: the list is still the best answer');
    await refreshEnded();
    clock.advance(11_000);
    const old = await list(tn);
    t.is(old.status, 503, old.text);
    t.is(old.json.error.code, 'render_unavailable');
  } finally {
    stack.render.clearFaults();
  }
  t.deepEqual(names(await list(tn)), ['busy-a', 'busy-b']);
});

test.serial('whether a service never live has been is asked of Render once per newest deploy, not at every refresh', async (t) => {
  const tn = await tenant('swr-never');
  stack.render.failBuilds({ repo: 'https://github.com/acme/never-web' }, 'build_failed');
  const svc = await createService(tn, 'never-web');
  await waitUntil('its first build to fail', async () => (await tn.render.listDeploys(svc.id))[0]?.status === 'build_failed', 10_000, 10);
  // The extra GET a card's "Open site" needs: the service's deploys that are or were live.
  const historyReads = () => stack.render.calls.filter((c) => c.accountId === tn.account.id && c.route === '/services/{serviceId}/deploys' && c.query.includes('status')).length;
  t.false((await list(tn)).json.services[0].beenLive);
  t.is(historyReads(), 1);
  for (let i = 0; i < 3; i++) {
    clock.advance(21_000);
    t.false((await list(tn)).json.services[0].beenLive);
  }
  t.is(listCalls(tn), 4, 'each list was read from Render again');
  t.is(historyReads(), 1, 'the newest deploy is the same one: its history was not asked again');

  // A new deploy that goes live says so itself; one failing after it is asked about once, then remembered.
  await tn.render.triggerDeploy(svc.id);
  await waitUntil('the new deploy to go live', async () => (await tn.render.listDeploys(svc.id))[0]?.status === 'live', 10_000, 10);
  clock.advance(21_000);
  t.true((await list(tn)).json.services[0].beenLive);
  stack.render.failBuilds({ repo: 'https://github.com/acme/never-web' }, 'build_failed');
  await tn.render.triggerDeploy(svc.id);
  await waitUntil('the next build to fail', async () => (await tn.render.listDeploys(svc.id))[0]?.status === 'build_failed', 10_000, 10);
  for (let i = 0; i < 2; i++) {
    clock.advance(21_000);
    t.true((await list(tn)).json.services[0].beenLive, 'Render still serves the deploy that was live');
  }
  t.is(historyReads(), 2);
});

test.serial('a service whose first deploy went live after a newer one was queued behind it says it has been live', async (t) => {
  // Asked while the first deploy still built and a second one waited behind it, the history said "never
  // live", and that was remembered for the newest deploy (the queued one): once the first went live and
  // the second failed, the card still said never live, until yet another deploy.
  const tn = await tenant('swr-queued');
  const release = stack.render.holdPhase({ repo: 'https://github.com/acme/queued-web' }, 'build_in_progress');
  t.teardown(release);
  const svc = await createService(tn, 'queued-web');
  await waitUntil('the first build to start', async () => (await tn.render.listDeploys(svc.id))[0]?.status === 'build_in_progress', 10_000, 10);
  stack.render.failBuilds({ repo: 'https://github.com/acme/queued-web' }, 'build_failed', 1);
  await tn.render.triggerDeploy(svc.id);
  await waitUntil('the second deploy to wait', async () => (await tn.render.listDeploys(svc.id))[0]?.status === 'queued', 10_000, 10);
  t.false((await list(tn)).json.services[0].beenLive, 'nothing was live yet');

  release();
  await waitUntil('the first to go live and the second to fail', async () => {
    const [second, first] = await tn.render.listDeploys(svc.id);
    return second?.status === 'build_failed' && first?.status === 'live';
  }, 10_000, 10);
  clock.advance(21_000);
  t.true((await list(tn)).json.services[0].beenLive, 'the first deploy is live');
});

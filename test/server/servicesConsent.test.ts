import test, { type ExecutionContext } from 'ava';
import { manualClock } from '../../server/clock.js';
import type { Stack } from '../helpers/stack.js';
import type { Agent } from '../helpers/agent.js';
import { useScannedStack } from '../helpers/secretScan.js';
import { waitUntil } from '../helpers/wait.js';
import { createRenderClient } from '../../server/render/client.js';
import { createService, names, tenant as tenantOf, type Tenant } from './support/renderTenants.js';

// The services list is loaded once for every session of a user with the same key (serviceCache.ts:
// single flight, and a refresh behind a stale list that nobody waits for), with the key of the request
// that started the load: Render's list, then each service's latest deploy. The user may withdraw that
// key while the load is at Render (sign out, clear the key, connect another): from the moment that
// answer arrives, no Render call of the load goes out with the withdrawn key unless another session of
// theirs that asked for the list still holds it, as deploy runs, Sentinel rounds and log tails stop (SECURITY.md).
// The file moves the web process's clock, so its tests run one at a time.

const clock = manualClock(Date.parse('2026-12-01T12:00:00Z'));
let stack: Stack;
useScannedStack(test, { clock }, (s) => ({ stack } = s));

const LIST_ROUTE = '/services';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const list = (agent: Agent) => agent.get('/api/render/services');
const keyCalls = (tn: Tenant, from: number) => stack.render.calls.slice(from).filter((c) => c.accountId === tn.account.id).map((c) => `${c.method} ${c.route}`);

/** Every load of the list has ended: its lock (per list and generation) is given back after its write or stop. */
const loadsEnded = () => waitUntil('the list\'s load to end', async () =>
  (await stack.redis.client.keys(`${stack.redis.prefix}:svc-cache:*:lock:*`)).length === 0, 10_000, 10);

const signOut = async (t: ExecutionContext, agent: Agent): Promise<void> => { t.is((await agent.post('/api/auth/logout')).status, 200); };

/** A tenant with two services (so a load makes a deploy read for each after its list), the list cached and now stale. */
async function staleList(login: string): Promise<Tenant> {
  const tn = await tenantOf(stack, login);
  await createService(tn, `${login}-a`);
  await createService(tn, `${login}-b`);
  if ((await list(tn.agent)).status !== 200) throw new Error('the first list');
  clock.advance(9_000);
  return tn;
}

/** The background refresh a stale poll starts, held at its list call, then `withdraw`; the calls made with the key after it was answered. */
async function withdrawnDuringRefresh(t: ExecutionContext, login: string, withdraw: (tn: Tenant) => Promise<void>): Promise<string[]> {
  const tn = await staleList(login);
  const held = stack.render.holdRequest({ method: 'GET', route: LIST_ROUTE, apiKey: tn.apiKey });
  const stale = await list(tn.agent);
  t.is(stale.status, 200, 'the stale list at once');
  await held.arrived;
  await withdraw(tn);
  const mark = stack.render.calls.length;
  held.release();
  await loadsEnded();
  return keyCalls(tn, mark);
}

test.serial('signed out while a background refresh is at Render: no later Render call with that key', async (t) => {
  const late = await withdrawnDuringRefresh(t, 'svcout', (tn) => signOut(t, tn.agent));
  t.deepEqual(late, [], 'Render calls with the key after sign-out');
});

test.serial('key cleared while a background refresh is at Render: no later Render call with that key', async (t) => {
  const late = await withdrawnDuringRefresh(t, 'svcclear', async (tn) => {
    t.is((await tn.agent.post('/api/render/clear-credentials')).status, 200);
  });
  t.deepEqual(late, [], 'Render calls with the cleared key');
});

test.serial('key replaced while a background refresh is at Render: no later Render call with the old key', async (t) => {
  const newKey = `rnd_svcreplaced${'n'.repeat(20)}`;
  stack.render.addAccount({ apiKey: newKey });
  const late = await withdrawnDuringRefresh(t, 'svcreplace', async (tn) => {
    t.is((await tn.agent.post('/api/render/setup', { api_key: newKey })).status, 200);
  });
  t.deepEqual(late, [], 'Render calls with the replaced key');
});

test.serial('signed out while the list it waits for is at Render: 401 as after sign-out, and no later Render call with that key', async (t) => {
  const tn = await tenantOf(stack, 'svcwait');
  await createService(tn, 'svcwait-a');
  const held = stack.render.holdRequest({ method: 'GET', route: LIST_ROUTE, apiKey: tn.apiKey });
  const waiting = list(tn.agent);
  await held.arrived;
  await signOut(t, tn.agent);
  const mark = stack.render.calls.length;
  held.release();
  const res = await waiting;
  t.is(res.status, 401, res.text);
  t.is(res.json.error.code, 'unauthenticated');
  await loadsEnded();
  t.deepEqual(keyCalls(tn, mark), [], 'Render calls with the key after sign-out');
});

test.serial('key cleared while the list it waits for is at Render: render_key_missing as after the clear, no later Render call with that key', async (t) => {
  const tn = await tenantOf(stack, 'svcwaitclr');
  await createService(tn, 'svcwaitclr-a');
  const held = stack.render.holdRequest({ method: 'GET', route: LIST_ROUTE, apiKey: tn.apiKey });
  const waiting = list(tn.agent);
  await held.arrived;
  t.is((await tn.agent.post('/api/render/clear-credentials')).status, 200);
  const mark = stack.render.calls.length;
  held.release();
  const res = await waiting;
  t.is(res.status, 400, res.text);
  t.is(res.json.error.code, 'render_key_missing');
  await loadsEnded();
  t.deepEqual(keyCalls(tn, mark), [], 'Render calls with the cleared key');
});

test.serial('key replaced while the list it waits for is at Render: the new key\'s list, no later Render call with the old key', async (t) => {
  const tn = await tenantOf(stack, 'svcwaitnew');
  await createService(tn, 'svcwaitnew-a');
  const newKey = `rnd_svcwaitnew${'n'.repeat(20)}`;
  const second = stack.render.addAccount({ apiKey: newKey });
  await createService({ ...tn, account: second, apiKey: newKey, render: createRenderClient({ baseUrl: stack.render.url, apiKey: newKey }) }, 'svcwaitnew-second');
  const held = stack.render.holdRequest({ method: 'GET', route: LIST_ROUTE, apiKey: tn.apiKey });
  const waiting = list(tn.agent);
  await held.arrived;
  t.is((await tn.agent.post('/api/render/setup', { api_key: newKey })).status, 200);
  const mark = stack.render.calls.length;
  held.release();
  const res = await waiting;
  t.is(res.status, 200, res.text);
  t.deepEqual(names(res), ['svcwaitnew-second']);
  await loadsEnded();
  t.deepEqual(keyCalls(tn, mark), [], 'Render calls with the replaced key');
});

/** The load read both services' latest deploys (and, for a deploy not live yet, whether one ever was). */
const wentOn = (late: string[]) => late.filter((c) => c === 'GET /services/{serviceId}/deploys').length >= 2 && late.every((c) => c === 'GET /services/{serviceId}/deploys');

/** A second session of the tenant's user (another browser), holding the same key. */
async function secondSession(tn: Tenant, login: string): Promise<Agent> {
  const other = stack.agent();
  await stack.signIn(other, login);
  const setup = await other.post('/api/render/setup', { api_key: tn.apiKey });
  if (setup.status !== 200) throw new Error(`setup: ${setup.status} ${setup.text}`);
  return other;
}

test.serial('two sessions with the same key wait for one load; one signs out: the load goes on for the other, which gets its list', async (t) => {
  const tn = await tenantOf(stack, 'svctwo');
  await createService(tn, 'svctwo-a');
  await createService(tn, 'svctwo-b');
  const other = await secondSession(tn, 'svctwo');
  const held = stack.render.holdRequest({ method: 'GET', route: LIST_ROUTE, apiKey: tn.apiKey });
  const first = list(tn.agent);
  await held.arrived;
  const second = list(other);
  await sleep(300); // its request has joined the load at Render
  await signOut(t, tn.agent);
  const mark = stack.render.calls.length;
  held.release();
  const res = await second;
  t.is(res.status, 200, res.text);
  t.deepEqual(names(res), ['svctwo-a', 'svctwo-b']);
  await first;
  t.true(wentOn(keyCalls(tn, mark)), 'the load went on with the key the other session holds');
  t.deepEqual(keyCalls(tn, 0).filter((c) => c === `GET ${LIST_ROUTE}`), [`GET ${LIST_ROUTE}`], 'one load for both');
});

test.serial('two sessions with the same key poll a stale list; the one whose poll started the refresh signs out: the refresh goes on', async (t) => {
  const tn = await staleList('svcbg');
  const other = await secondSession(tn, 'svcbg');
  const held = stack.render.holdRequest({ method: 'GET', route: LIST_ROUTE, apiKey: tn.apiKey });
  t.is((await list(tn.agent)).status, 200, 'the stale list at once, a refresh behind it');
  await held.arrived;
  t.is((await list(other)).status, 200, 'the other session polls the same stale list while the refresh runs');
  await signOut(t, tn.agent);
  const mark = stack.render.calls.length;
  held.release();
  await loadsEnded();
  t.true(wentOn(keyCalls(tn, mark)), 'the refresh went on with the key the other session holds');
  const listCalls = stack.render.calls.filter((c) => c.accountId === tn.account.id && c.route === LIST_ROUTE).length;
  t.deepEqual(names(await list(other)), ['svcbg-a', 'svcbg-b'], 'the refreshed list, without another load');
  t.is(stack.render.calls.filter((c) => c.accountId === tn.account.id && c.route === LIST_ROUTE).length, listCalls);
});

import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack } from '../helpers/pipelineStack.js';
import type { Agent } from '../helpers/agent.js';
import { deployedLiveByHand, renderCalls, signedInWithKey } from '../helpers/pipeline.js';
import { createRenderClient } from '../../server/render/client.js';
import { createPageSecrets } from '../../server/deployments/pageSecrets.js';
import { retiredDeps } from '../../server/deployments/retiredSecrets.js';

// The values a log page is redacted with (server/deployments/pageSecrets.ts): a newest page reads them from
// Render; the pages after it (a catch-up, "Load earlier lines") reuse them, until a change through the
// settings, so paging back through a log costs the key one Render read a page, not four.

const TOKEN = 'tok_live_pagesecret4f81d2';
/** Printed by the app before it was a secret: set through the settings afterwards, it must be redacted then. */
const LATER = 'later-secret-value-5c1e9a';
let stack: Stack;
usePipelineStack(test, { renderOptions: { manualDeploys: true } }, (p) => { ({ stack } = p); });

interface Page { status: number; text: string; json: { logs: Array<{ message: string }>; nextCursor: string | null } }
/** The account's reads of a service's env vars on Render: one per reading of the values to redact with. */
const valueReadsOf = (accountId: string) => renderCalls(stack, accountId, 'GET', '/services/{serviceId}/env-vars').length;
const logPage = (agent: Agent, id: string, cursor?: string | null): Promise<Page> =>
  agent.get(`/api/render/deployments/${id}/logs${cursor ? `?cursor=${cursor}` : ''}`);

test('pages after the newest reuse its values; a change through the settings makes the next page read them again', async (t) => {
  const { agent, accountId } = await signedInWithKey(stack, 'pagesecrets');
  const { id, serviceId } = await deployedLiveByHand(stack, agent, 'pagesecrets', { env_vars: { API_TOKEN: TOKEN } });
  stack.render.appendLog(serviceId, `an early line that prints ${LATER}`, { type: 'app' });
  stack.render.appendLog(serviceId, `booted with ${TOKEN}`, { type: 'app' });
  for (let i = 0; i < 250; i++) stack.render.appendLog(serviceId, `request ${i} served`, { type: 'app' });
  const valueReads = () => valueReadsOf(accountId);

  const before = valueReads();
  const newest = await logPage(agent, id);
  t.is(newest.status, 200, newest.text);
  t.is(valueReads(), before + 1, 'a newest page reads the values');
  const second = await logPage(agent, id, newest.json.nextCursor);
  const oldest = await logPage(agent, id, second.json.nextCursor);
  t.is(oldest.status, 200, oldest.text);
  t.is(oldest.json.nextCursor, null, 'three pages hold the log');
  t.is(valueReads(), before + 1, 'the pages after it reuse them');
  t.true(oldest.json.logs.some((l) => l.message === 'booted with [redacted]'), 'redacted with the values reused');
  t.true(oldest.json.logs.some((l) => l.message === `an early line that prints ${LATER}`), 'not a secret yet');

  // Another newest page (a panel opened again) reads them afresh.
  await logPage(agent, id);
  t.is(valueReads(), before + 2);

  // Set through the settings: the next page, even one after the newest, reads the values again.
  const put = await agent.request('PUT', `/api/render/services/${serviceId}/env-vars/LATER_TOKEN`, { json: { value: LATER } });
  t.is(put.status, 200, put.text);
  const readsAfterPut = valueReads();
  const again = await logPage(agent, id, second.json.nextCursor);
  t.is(again.status, 200, again.text);
  t.is(valueReads(), readsAfterPut + 1, 'the change made the kept values stale');
  t.true(again.json.logs.some((l) => l.message === 'an early line that prints [redacted]'), 'the new secret is redacted on an older page');
  t.false(again.text.includes(LATER));
});

test('values whose read failed are not kept: the next page asks Render again', async (t) => {
  const { agent, apiKey, accountId } = await signedInWithKey(stack, 'pagefail');
  const { id, serviceId } = await deployedLiveByHand(stack, agent, 'pagefail', { env_vars: { API_TOKEN: TOKEN } });
  stack.render.appendLog(serviceId, `booted with ${TOKEN}`, { type: 'app' });
  for (let i = 0; i < 150; i++) stack.render.appendLog(serviceId, `job ${i} done`, { type: 'app' });
  const valueReads = () => valueReadsOf(accountId);

  // Each fault removed on its own: this file's tests run at once, and clearing them all at the end of another
  // test once removed the second fault below before its page was read (a 200 where the 503 was expected).
  const firstFault = stack.render.setFault({ method: 'GET', route: '/services/{serviceId}/env-vars', kind: 'status', status: 500, count: 1, apiKey });
  t.teardown(() => stack.render.clearFault(firstFault));
  const failed = await logPage(agent, id);
  t.is(failed.status, 503, failed.text);
  t.false(failed.text.includes(TOKEN));

  const newest = await logPage(agent, id);
  t.is(newest.status, 200, newest.text);
  const reads = valueReads();
  const older = await logPage(agent, id, newest.json.nextCursor);
  t.is(older.status, 200, older.text);
  t.is(valueReads(), reads, 'the newest page\'s values, read without fault, serve the next');
  t.true(older.json.logs.some((l) => l.message === 'booted with [redacted]'));

  // A failed read while paging back (the values went stale meanwhile) is not what the next page reuses.
  const changed = await agent.request('PUT', `/api/render/services/${serviceId}/env-vars/OTHER`, { json: { value: 'other-value-1b2c3d' } });
  t.is(changed.status, 200, changed.text);
  const secondFault = stack.render.setFault({ method: 'GET', route: '/services/{serviceId}/env-vars', kind: 'status', status: 500, count: 1, apiKey });
  t.teardown(() => stack.render.clearFault(secondFault));
  const stale = await logPage(agent, id, newest.json.nextCursor);
  t.is(stale.status, 503, stale.text);
  const retried = await logPage(agent, id, newest.json.nextCursor);
  t.is(retried.status, 200, retried.text);
  t.true(retried.json.logs.some((l) => l.message === 'booted with [redacted]'));
});

test('values are kept a minute at most, and within their bound in characters: the oldest service\'s go first', async (t) => {
  const services: Array<{ ownerId: string; serviceId: string; accountId: string; client: ReturnType<typeof createRenderClient>; fp: string }> = [];
  for (const login of ['pagebound1', 'pagebound2']) {
    const { agent, apiKey, ownerId, accountId } = await signedInWithKey(stack, login);
    const { serviceId } = await deployedLiveByHand(stack, agent, login, { env_vars: { BIG: `${login}-${'v'.repeat(600)}` } });
    services.push({ ownerId, serviceId, accountId, client: createRenderClient({ baseUrl: stack.render.url, apiKey }), fp: `fp-${login}` });
  }
  let now = 1_000_000;
  const cache = createPageSecrets({ clock: { now: () => now }, retired: retiredDeps(stack.web.deps), maxChars: 1_000 });
  const valueReads = (i: number) => valueReadsOf(services[i]!.accountId);
  const read = (i: number) => {
    const s = services[i]!;
    return cache.source({ userId: i, keyFingerprint: s.fp }, false)(s.client, { ownerId: s.ownerId, serviceId: s.serviceId });
  };

  const first = valueReads(0);
  t.true((await read(0)).some((v) => v.startsWith('pagebound1-')));
  await read(0);
  t.is(valueReads(0), first + 1, 'kept');
  now += 60_000;
  await read(0);
  t.is(valueReads(0), first + 2, 'read again after its minute');

  const second = valueReads(1);
  await read(1); // ~620 characters more: past the bound of 1,000, the first service's go
  await read(1);
  t.is(valueReads(1), second + 1, 'the newest kept');
  const before = valueReads(0);
  await read(0);
  t.is(valueReads(0), before + 1, 'the oldest went when the bound was passed');
});

// A change whose answer never came fails the request, and may well have been made: the next page after a
// newest one reads the values again all the same.
test('a change whose answer failed still makes the next page read the values again', async (t) => {
  const { agent, apiKey, accountId } = await signedInWithKey(stack, 'pagelost');
  const { id, serviceId } = await deployedLiveByHand(stack, agent, 'pagelost', { env_vars: { API_TOKEN: TOKEN } });
  stack.render.appendLog(serviceId, `an early line that prints ${LATER}`, { type: 'app' });
  for (let i = 0; i < 150; i++) stack.render.appendLog(serviceId, `task ${i} ran`, { type: 'app' });
  const valueReads = () => valueReadsOf(accountId);
  const newest = await logPage(agent, id);
  t.is(newest.status, 200, newest.text);

  // Render sets the value, and its answer never comes (the connection cut), nor that of the app's retries.
  const fault = stack.render.setFault({ method: 'PUT', route: '/services/{serviceId}/env-vars/{envVarKey}', kind: 'lost', apiKey });
  t.teardown(() => stack.render.clearFault(fault));
  const put = await agent.request('PUT', `/api/render/services/${serviceId}/env-vars/LATER_TOKEN`, { json: { value: LATER } });
  t.true(put.status >= 500, `${put.status} ${put.text}`);
  const reads = valueReads();
  const older = await logPage(agent, id, newest.json.nextCursor);
  t.is(older.status, 200, older.text);
  t.is(valueReads(), reads + 1, 'the values were read again');
  t.true(older.json.logs.some((l) => l.message === 'an early line that prints [redacted]'));
});

// Two pages at once (a catch-up and a "Load earlier lines" click) after the kept values went stale: one read
// of the values, both pages redacted with it.
test('two pages at once after a change share one read of the values', async (t) => {
  const { agent, accountId } = await signedInWithKey(stack, 'pagetwice');
  const { id, serviceId } = await deployedLiveByHand(stack, agent, 'pagetwice', { env_vars: { API_TOKEN: TOKEN } });
  stack.render.appendLog(serviceId, `booted with ${TOKEN}`, { type: 'app' });
  for (let i = 0; i < 150; i++) stack.render.appendLog(serviceId, `event ${i} handled`, { type: 'app' });
  const newest = await logPage(agent, id);
  t.is(newest.status, 200, newest.text);
  t.is((await agent.request('PUT', `/api/render/services/${serviceId}/env-vars/OTHER`, { json: { value: 'other-value-9e8d7c' } })).status, 200);

  const reads = valueReadsOf(accountId);
  const hold = stack.render.holdRequest({ method: 'GET', route: '/services/{serviceId}/env-vars' });
  const both = Promise.all([logPage(agent, id, newest.json.nextCursor), logPage(agent, id, newest.json.nextCursor)]);
  await hold.arrived;
  hold.release();
  for (const page of await both) {
    t.is(page.status, 200, page.text);
    t.true(page.json.logs.some((l) => l.message === 'booted with [redacted]'));
  }
  t.is(valueReadsOf(accountId), reads + 1, 'one read of the values for both pages');
});

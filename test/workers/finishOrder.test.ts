import test from 'ava';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { systemClock } from '../../server/clock.js';
import { createKeyring } from '../../server/crypto/keyring.js';
import { createLogger } from '../../server/logger.js';
import { createDeploymentStore, newDeploymentId, type DeploymentStore } from '../../server/deployments/store.js';
import type { DeploymentRecord } from '../../server/deployments/types.js';
import { finish } from '../../workers/tasks/finishDeploy.js';
import type { WorkerContext } from '../../workers/context.js';

// A deploy going live and the user's other records of its service (workers/tasks/finishDeploy.ts
// followRenderOrder): they follow Render's order of the deploys (Render's createdAt, kept on each record as
// deployCreatedAt), not the order our writes land in. Before, the records were ordered by our own finish
// times, so a late "live" look of an older deploy deactivated the newer one Render runs, and was written live.

let redis: TestRedis;
const keyring = createKeyring(randomBytes(32));
const clients: Redis[] = [];
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { for (const c of clients) c.disconnect(); await redis?.stop(); });

/** A store and the worker context finish() uses, on their own connection; `sent` lists the commands sent. */
function worker(): { ctx: WorkerContext; store: DeploymentStore; sent: string[] } {
  const client = new Redis(redis.url, { maxRetriesPerRequest: null });
  clients.push(client);
  const sent: string[] = [];
  const send = client.sendCommand.bind(client);
  client.sendCommand = (command, stream) => { sent.push(command.name); return send(command, stream); };
  const store = createDeploymentStore({ redis: client, prefix: redis.prefix, clock: systemClock, keyring });
  const ctx = { deployments: store, clock: systemClock, logger: createLogger({ level: 'silent' }) } as unknown as WorkerContext;
  return { ctx, store, sent };
}

let users = 0;
const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();
/** Render's time of a deploy, as Render writes it (microseconds). */
const renderTime = (m: number, us = 0) => `${minutesAgo(m).slice(0, 23)}${String(us).padStart(3, '0')}Z`;

/** A record of `serviceId` for `userId` in `status`, naming a deploy made at `deployCreatedAt` (undefined: a record made before it was kept). */
function record(userId: number, serviceId: string, status: DeploymentRecord['status'], deployCreatedAt: string | undefined, finishedAt: string | null = null): DeploymentRecord {
  const now = new Date().toISOString();
  return {
    id: newDeploymentId(), userId, kind: 'redeploy', status,
    request: { githubRepo: 'octo/app', serviceName: 'app', branch: 'main', ownerId: 'tea-owner', region: 'oregon', plan: 'free', envVarKeys: [], buildCommand: null, startCommand: null },
    timeline: [{ status, at: now, source: 'render' }],
    stack: null, commitSha: null, serviceId, deployId: `dep-${randomBytes(8).toString('hex')}`, deployRequestedAt: null, rollbackToDeployId: null,
    ...(deployCreatedAt === undefined ? {} : { deployCreatedAt }),
    dashboardUrl: null, serviceUrl: null, failure: null, sessionRef: 'ref', keyFingerprint: 'fp', requestMac: '', watchChecks: 0,
    createdAt: now, updatedAt: finishedAt ?? now, finishedAt,
  };
}

async function made(store: DeploymentStore, ...recs: DeploymentRecord[]) {
  for (const rec of recs) await store.create(rec);
  return recs;
}

test('a live look of an older deploy, written after a newer deploy of the service went live, is written deactivated, replaced by it', async (t) => {
  const { ctx, store } = worker();
  const user = ++users;
  const [newer, older] = await made(store,
    record(user, 'srv-a', 'live', renderTime(5), minutesAgo(1)),
    record(user, 'srv-a', 'update_in_progress', renderTime(6)));
  const done = await finish(ctx, older!, 'live', null, { deployId: older!.deployId, deployCreatedAt: older!.deployCreatedAt });
  t.is(done?.status, 'deactivated');
  t.like(done?.replacedBy, { deploymentId: newer!.id, deployId: newer!.deployId, at: newer!.finishedAt });
  t.deepEqual(done?.timeline.map((e) => e.status), ['update_in_progress', 'live', 'deactivated']);
  t.truthy(done?.finishedAt);
  t.is((await store.get(older!.id))?.status, 'deactivated', 'as stored');
  t.deepEqual(await store.activeIds(user), [], 'ended: out of the unfinished set');
  const kept = await store.get(newer!.id);
  t.is(kept?.status, 'live', 'the deploy Render runs stays live');
  t.falsy(kept?.replacedBy);
});

test('one that went live and was replaced since counts too: the older one is replaced by the first newer one that went live', async (t) => {
  const { ctx, store } = worker();
  const user = ++users;
  const [second, third, first] = await made(store,
    record(user, 'srv-b', 'deactivated', renderTime(5), minutesAgo(2)),
    record(user, 'srv-b', 'live', renderTime(4), minutesAgo(1)),
    record(user, 'srv-b', 'update_in_progress', renderTime(6)));
  const done = await finish(ctx, first!, 'live', null, { deployCreatedAt: first!.deployCreatedAt });
  t.is(done?.status, 'deactivated');
  t.like(done?.replacedBy, { deploymentId: second!.id });
  t.is((await store.get(third!.id))?.status, 'live');
});

test('a live write deactivates the live records of older deploys by Render\'s order, even one our clock finished later', async (t) => {
  const { ctx, store } = worker();
  const user = ++users;
  // A record written live by a worker whose clock runs ahead: its finish time is after ours, its deploy older.
  const ahead = new Date(Date.now() + 10 * 60_000).toISOString();
  const [older, failed, mine] = await made(store,
    record(user, 'srv-c', 'live', renderTime(10, 1), ahead),
    record(user, 'srv-c', 'build_failed', renderTime(8), minutesAgo(7)),
    record(user, 'srv-c', 'update_in_progress', renderTime(10, 2)));
  const done = await finish(ctx, mine!, 'live', null, { deployCreatedAt: mine!.deployCreatedAt });
  t.is(done?.status, 'live');
  const replaced = await store.get(older!.id);
  t.is(replaced?.status, 'deactivated', 'made a microsecond before ours on Render: older');
  t.like(replaced?.replacedBy, { deploymentId: mine!.id, deployId: mine!.deployId });
  t.is((await store.get(failed!.id))?.status, 'build_failed');
});

test('records made before Render\'s time was kept are judged by our finish times as before, and never make the live write deactivated', async (t) => {
  const { ctx, store } = worker();
  const user = ++users;
  const [oldLive, mine] = await made(store,
    record(user, 'srv-d', 'live', undefined, minutesAgo(3)),
    record(user, 'srv-d', 'update_in_progress', renderTime(9)));
  const done = await finish(ctx, mine!, 'live', null, { deployCreatedAt: mine!.deployCreatedAt });
  t.is(done?.status, 'live');
  t.is((await store.get(oldLive!.id))?.status, 'deactivated');

  // One with no time of its own that finished after now (another worker's clock ahead): left live, as before.
  const user2 = ++users;
  const [aheadLive, mine2] = await made(store,
    record(user2, 'srv-e', 'live', undefined, new Date(Date.now() + 10 * 60_000).toISOString()),
    record(user2, 'srv-e', 'update_in_progress', undefined));
  const done2 = await finish(ctx, mine2!, 'live', null);
  t.is(done2?.status, 'live', 'no time of its own either: written live');
  t.is((await store.get(aheadLive!.id))?.status, 'live');
});

test('the first deploy of a service goes live in one command: no other record is read', async (t) => {
  const { ctx, store, sent } = worker();
  const [mine] = await made(store, record(++users, 'srv-f', 'update_in_progress', renderTime(1)));
  await store.update(mine!.id, { watchChecks: 1 }); // the write script loaded: its EVALSHA finds it
  sent.length = 0;
  const done = await finish(ctx, mine!, 'live', null, { deployCreatedAt: mine!.deployCreatedAt });
  t.is(done?.status, 'live');
  t.deepEqual(sent, ['evalsha']);
});

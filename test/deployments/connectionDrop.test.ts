import test from 'ava';
import { randomBytes } from 'node:crypto';
import { systemClock } from '../../server/clock.js';
import { createKeyring } from '../../server/crypto/keyring.js';
import { createRedis } from '../../server/redis.js';
import { createDeploymentStore, newDeploymentId } from '../../server/deployments/store.js';
import type { DeploymentRecord } from '../../server/deployments/types.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { cuttingProxy } from '../helpers/cuttingProxy.js';

// A record write whose answer a dropped Redis connection lost, Redis having run it: ioredis sends the
// script again once reconnected (the worker's connections always do, the web's on a quick reconnect).
// That second run found the record already written (not the copy the write was planned on) and answered
// "changed": a change was planned and written again on what it had itself written (its timeline entry
// twice), an end found the record ended and reported "ended elsewhere" (so no audit entry, final commit
// status or Slack result from the run that ended it), and a new record's creation found it there, failed
// the deploy request and deleted the record. Each now sees that the record holds what it wrote.

let redis: TestRedis;
const keyring = createKeyring(randomBytes(32));
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { await redis?.stop(); });

let users = 0;
function blank(serviceName = 'app'): DeploymentRecord {
  const now = new Date().toISOString();
  return {
    id: newDeploymentId(), userId: 2000 + ++users, kind: 'deploy', status: 'queued',
    request: { githubRepo: 'octo/app', serviceName, branch: 'main', ownerId: 'tea-owner', region: 'oregon', plan: 'free', envVarKeys: [], buildCommand: null, startCommand: null },
    timeline: [{ status: 'queued', at: now, source: 'orchestrator' }],
    stack: null, commitSha: null, serviceId: null, deployId: null, deployRequestedAt: null, rollbackToDeployId: null,
    dashboardUrl: null, serviceUrl: null, failure: null, sessionRef: 'ref', keyFingerprint: 'fp', requestMac: '', watchChecks: 0,
    createdAt: now, updatedAt: now, finishedAt: null,
  };
}

/** A store whose connection (the worker's or the web's settings) goes through a proxy that drops the answer to the write holding `marker`. */
async function storeBehindCut(t: import('ava').ExecutionContext, role: 'worker' | 'web', marker: string) {
  const proxy = await cuttingProxy(redis.url, marker, 'after_redis_ran_it', false);
  const conn = createRedis(proxy.url, role);
  t.teardown(async () => { conn.disconnect(); await proxy.close(); });
  return { store: createDeploymentStore({ redis: conn, prefix: redis.prefix, clock: systemClock, keyring }), proxy };
}

for (const role of ['worker', 'web'] as const) {
  test.serial(`${role}: a change whose answer was lost is written once`, async (t) => {
    const marker = `marker-${randomBytes(6).toString('hex')}`;
    const { store, proxy } = await storeBehindCut(t, role, marker);
    const rec = blank();
    await store.create(rec);
    const written = await store.transition(rec.id, 'detecting', 'orchestrator', {}, marker);
    await proxy.cut;
    t.is(written?.status, 'detecting');
    const stored = await store.get(rec.id);
    t.deepEqual(stored?.timeline.map((e) => e.status), ['queued', 'detecting'], 'its timeline entry once');
  });

  test.serial(`${role}: an end whose answer was lost is this call's end`, async (t) => {
    const marker = `marker-${randomBytes(6).toString('hex')}`;
    const { store, proxy } = await storeBehindCut(t, role, marker);
    const rec = blank();
    await store.create(rec);
    await store.transition(rec.id, 'build_in_progress', 'render');
    const ended = await store.transition(rec.id, 'live', 'render', {}, marker);
    await proxy.cut;
    t.is(ended?.status, 'live', 'the call that ended it is told so (null means someone else ended it)');
    t.deepEqual((await store.get(rec.id))?.timeline.map((e) => e.status), ['queued', 'build_in_progress', 'live']);
  });
}

test.serial('web: a new record whose creation\'s answer was lost is created', async (t) => {
  const marker = `mk${randomBytes(6).toString('hex')}`;
  const { store, proxy } = await storeBehindCut(t, 'web', marker);
  const rec = blank(marker);
  const created = await store.create(rec).then(() => 'created', (err: Error) => `failed: ${err.message}`);
  await proxy.cut;
  t.is(created, 'created');
  t.is((await store.get(rec.id))?.status, 'queued');
});

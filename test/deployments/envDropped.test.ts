import test from 'ava';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { systemClock } from '../../server/clock.js';
import { createKeyring } from '../../server/crypto/keyring.js';
import { createEnvVault } from '../../server/deployments/envVars.js';
import { createDeploymentStore, newDeploymentId, type DeploymentStore } from '../../server/deployments/store.js';
import { TERMINAL_STATUSES, type DeploymentRecord } from '../../server/deployments/types.js';

// A deployment's sealed env values (`deployment:<id>:env`) go with the record write that ends it,
// whatever ends it (server/deployments/transition.ts): an end path written later needs no drop call of
// its own. Here the store is driven directly, as any new end path would use it.

let redis: TestRedis;
let client: Redis;
let store: DeploymentStore;
let vault: ReturnType<typeof createEnvVault>;
const keyring = createKeyring(randomBytes(32));
const sent: string[] = [];

test.before(async () => {
  redis = await startTestRedis();
  client = new Redis(redis.url, { maxRetriesPerRequest: null });
  const send = client.sendCommand.bind(client);
  client.sendCommand = (command, stream) => { sent.push(command.name); return send(command, stream); };
  store = createDeploymentStore({ redis: client, prefix: redis.prefix, clock: systemClock, keyring });
  vault = createEnvVault({ redis: client, prefix: redis.prefix, keyring });
});
test.after.always(async () => { client?.disconnect(); await redis?.stop(); });

let users = 0;
/** A new queued record with sealed env values, as a deploy request leaves it. */
async function queuedWithEnv(): Promise<DeploymentRecord> {
  const now = new Date().toISOString();
  const rec: DeploymentRecord = {
    id: newDeploymentId(), userId: 2000 + ++users, kind: 'deploy', status: 'queued',
    request: { githubRepo: 'octo/app', serviceName: 'app', branch: 'main', ownerId: 'tea-owner', region: 'oregon', plan: 'free', envVarKeys: ['API_TOKEN'], buildCommand: null, startCommand: null },
    timeline: [{ status: 'queued', at: now, source: 'orchestrator' }],
    stack: null, commitSha: null, serviceId: null, deployId: null, deployRequestedAt: null, rollbackToDeployId: null,
    dashboardUrl: null, serviceUrl: null, failure: null, sessionRef: 'ref', keyFingerprint: 'fp', requestMac: '', watchChecks: 0,
    createdAt: now, updatedAt: now, finishedAt: null,
  };
  await Promise.all([vault.put(rec.id, [{ key: 'API_TOKEN', value: 'sealed-secret' }]), store.create(rec)]);
  return rec;
}
const envKey = (id: string) => `${redis.prefix}:deployment:${id}:env`;
const envLeft = (id: string) => client.exists(envKey(id));

test.serial('a transition to any terminal status written through the store deletes the env values in its one script', async (t) => {
  for (const status of TERMINAL_STATUSES) {
    const rec = await queuedWithEnv();
    await store.transition(rec.id, 'creating_service', 'orchestrator', { serviceId: 'srv-envdrop' });
    t.is(await envLeft(rec.id), 1, 'an unfinished deployment keeps them');
    sent.length = 0;
    const ended = await store.transition(rec.id, status, 'orchestrator');
    t.is(ended?.status, status);
    t.deepEqual(sent, ['evalsha'], 'one command: the write itself');
    t.is(await envLeft(rec.id), 0, `gone once it is ${status}`);
    t.deepEqual(await store.activeIds(rec.userId), []);
  }
});

test.serial('a whole record written over a tampered one (quarantined, failed) deletes them too', async (t) => {
  const rec = await queuedWithEnv();
  await client.hset(store.keys.record(rec.id), 'json', JSON.stringify({ ...rec, serviceId: 'srv-forged' }));
  t.is((await store.inspect(rec.id)).state, 'tampered');
  const quarantined = await store.quarantine(rec.id, rec.userId, { forged: true });
  t.is(quarantined.status, 'failed');
  t.is(await envLeft(rec.id), 0);
});

test.serial('a record an older version ended with its values still there loses them at its next write', async (t) => {
  // The stored record is the same whichever version wrote it; an older version ended it and then
  // dropped its values in a second step, which did not happen (a crash between the two).
  const rec = await queuedWithEnv();
  await store.transition(rec.id, 'live', 'render', { serviceId: 'srv-leftover' });
  await vault.put(rec.id, [{ key: 'API_TOKEN', value: 'left-by-an-older-version' }]);
  const replaced = await store.markReplaced(rec.id, { deploymentId: null, deployId: 'dep-newer', at: new Date().toISOString() });
  t.is(replaced?.status, 'deactivated');
  t.is(await envLeft(rec.id), 0);
});

test.serial('writes that do not end a deployment leave the values for the worker', async (t) => {
  const rec = await queuedWithEnv();
  await store.transition(rec.id, 'verifying', 'orchestrator');
  await store.transition(rec.id, 'build_in_progress', 'render', { serviceId: 'srv-keeps' });
  await store.update(rec.id, { deployId: 'dep-1' });
  t.is(await envLeft(rec.id), 1);
  t.deepEqual((await vault.get(rec.id)).map((v) => v.value), ['sealed-secret']);
  t.true(await client.pttl(envKey(rec.id)) > 0, 'still on their TTL');
});

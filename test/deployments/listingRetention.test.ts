import test from 'ava';
import { randomBytes } from 'node:crypto';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { manualClock } from '../../server/clock.js';
import { createKeyring } from '../../server/crypto/keyring.js';
import { createDeploymentStore, newDeploymentId } from '../../server/deployments/store.js';
import type { DeploymentRecord } from '../../server/deployments/types.js';

// A user's list of deployments (`user:<id>:deployments`) next to the records' retention: the records expire
// RETENTION after their creation, their ids stayed in the list for good. It grew with every deployment ever made,
// and "Load older" paged through empty pages that still offered older ones (found by a probe of paging at scale).
const RETENTION_MS = 2_000;
let redis: TestRedis;
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { await redis?.stop(); });

const keyring = createKeyring(randomBytes(32));
function blank(userId: number, at: number): DeploymentRecord {
  const iso = new Date(at).toISOString();
  return {
    id: newDeploymentId(), userId, kind: 'deploy', status: 'queued',
    request: { githubRepo: 'octo/app', serviceName: 'app', branch: 'main', ownerId: 'tea-owner', region: 'oregon', plan: 'free', envVarKeys: [], buildCommand: null, startCommand: null },
    timeline: [{ status: 'queued', at: iso, source: 'orchestrator' }],
    stack: null, commitSha: null, serviceId: null, deployId: null, deployRequestedAt: null, rollbackToDeployId: null,
    dashboardUrl: null, serviceUrl: null, failure: null, sessionRef: 'ref', keyFingerprint: 'fp', requestMac: '', watchChecks: 0,
    createdAt: iso, updatedAt: iso, finishedAt: null,
  };
}

/** Every page of the user's list, `limit` at a time: sizes and whether each offered another. */
async function pages(store: ReturnType<typeof createDeploymentStore>, userId: number, limit: number) {
  const seen: Array<{ size: number; more: boolean }> = [];
  let cursor: string | null = null;
  for (let i = 0; i < 100; i++) {
    const page = await store.listForUser(userId, { limit, cursor });
    seen.push({ size: page.items.length, more: page.nextCursor !== null });
    if (!(cursor = page.nextCursor)) break;
  }
  return seen;
}

/** `n` records of the user created at `at(i)`; their ids. */
async function created(store: ReturnType<typeof createDeploymentStore>, userId: number, n: number, at: (i: number) => number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const rec = blank(userId, at(i));
    await store.create(rec);
    ids.push(rec.id);
  }
  return ids;
}

/** Waits (bounded) until Redis has expired the records (their TTL, on Redis' own clock). */
async function expired(ids: string[]) {
  for (let i = 0; i < 200 && (await redis.client.exists(...ids.map((id) => `${redis.prefix}:deployment:${id}`))) > 0; i++) await new Promise((r) => setTimeout(r, 25));
}

test.serial('records past the retention leave the list when the user deploys again: no empty pages, a bounded list', async (t) => {
  const clock = manualClock(Date.now());
  const store = createDeploymentStore({ redis: redis.client, prefix: redis.prefix, clock, keyring, retentionMs: RETENTION_MS });
  const userId = 501;
  await expired(await created(store, userId, 30, () => clock.now()));
  clock.advance(RETENTION_MS + 1);
  for (let i = 0; i < 3; i++) await store.create(blank(userId, clock.now()));
  const list = `${redis.prefix}:user:${userId}:deployments`;
  t.is(await redis.client.zcard(list), 3, 'only records that still exist are listed');
  t.true((await redis.client.pttl(list)) > 0, 'the list expires with its newest record');
  t.deepEqual(await pages(store, userId, 2), [{ size: 2, more: true }, { size: 1, more: false }]);
});

test.serial('records past the retention of a user who deploys no more: read as gone, no page offers more', async (t) => {
  const clock = manualClock(Date.now());
  const store = createDeploymentStore({ redis: redis.client, prefix: redis.prefix, clock, keyring, retentionMs: RETENTION_MS });
  const userId = 502;
  await expired(await created(store, userId, 12, (i) => clock.now() + i));
  clock.advance(RETENTION_MS + 20);
  t.deepEqual(await pages(store, userId, 5), [{ size: 0, more: false }]);
  t.is(await redis.client.zcard(`${redis.prefix}:user:${userId}:deployments`), 0);
});

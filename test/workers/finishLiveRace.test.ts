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

// A redeploy and the rollback Render queued behind it go live one right after the other (a rollback has no
// build to wait for). Their two watches (two worker slots, or two workers) write their ends at about the same
// moment. Each finish() reads the service's other records before its own write (finishDeploy.ts
// followRenderOrder) and neither saw the other live yet: both records stayed `live` (18 of 20 runs). Each now
// looks again, after its write, at those that had not ended (recheckUnfinished): one record stays live, Render's.

let redis: TestRedis;
const keyring = createKeyring(randomBytes(32));
const clients: Redis[] = [];
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { for (const c of clients) c.disconnect(); await redis?.stop(); });

function worker(): { ctx: WorkerContext; store: DeploymentStore } {
  const client = new Redis(redis.url, { maxRetriesPerRequest: null });
  clients.push(client);
  const store = createDeploymentStore({ redis: client, prefix: redis.prefix, clock: systemClock, keyring });
  return { ctx: { deployments: store, clock: systemClock, logger: createLogger({ level: 'silent' }) } as unknown as WorkerContext, store };
}

const renderTime = (msAgo: number) => `${new Date(Date.now() - msAgo).toISOString().slice(0, 23)}000Z`;

function record(userId: number, serviceId: string, kind: DeploymentRecord['kind'], status: DeploymentRecord['status'], deployCreatedAt: string, finishedAt: string | null = null): DeploymentRecord {
  const now = new Date().toISOString();
  return {
    id: newDeploymentId(), userId, kind, status,
    request: { githubRepo: 'octo/app', serviceName: 'app', branch: 'main', ownerId: 'tea-owner', region: 'oregon', plan: 'free', envVarKeys: [], buildCommand: null, startCommand: null },
    timeline: [{ status, at: now, source: 'render' }],
    stack: null, commitSha: null, serviceId, deployId: `dep-${randomBytes(8).toString('hex')}`, deployRequestedAt: null, rollbackToDeployId: kind === 'rollback' ? 'dep-target' : null,
    deployCreatedAt, dashboardUrl: null, serviceUrl: null, failure: null, sessionRef: 'ref', keyFingerprint: 'fp', requestMac: '', watchChecks: 0,
    createdAt: now, updatedAt: finishedAt ?? now, finishedAt,
  };
}

test('a redeploy and the rollback queued behind it, their live looks written at the same moment: one record stays live, the rollback\'s', async (t) => {
  const a = worker();
  const b = worker();
  const doubled: string[] = [];
  for (let i = 0; i < 20; i++) {
    const user = 1000 + i;
    const service = `srv-race${i}`;
    const previous = record(user, service, 'deploy', 'live', renderTime(60_000), new Date(Date.now() - 50_000).toISOString());
    const redeploy = record(user, service, 'redeploy', 'build_in_progress', renderTime(2_000));
    const rollback = record(user, service, 'rollback', 'render_queued', renderTime(1_000));
    for (const r of [previous, redeploy, rollback]) await a.store.create(r);
    // Render: the redeploy went live, then the rollback a moment later; each watch writes what its look saw.
    await Promise.all([
      finish(a.ctx, redeploy, 'live', null, { deployId: redeploy.deployId, deployCreatedAt: redeploy.deployCreatedAt }),
      finish(b.ctx, rollback, 'live', null, { deployId: rollback.deployId, deployCreatedAt: rollback.deployCreatedAt }),
    ]);
    const now = await Promise.all([previous, redeploy, rollback].map((r) => a.store.get(r.id)));
    const live = now.filter((r) => r?.status === 'live');
    if (live.length !== 1 || live[0]!.id !== rollback.id) doubled.push(`run ${i}: ${now.map((r) => `${r?.kind}:${r?.status}`).join(' ')}`);
  }
  t.deepEqual(doubled, [], `records of one service left live together:\n${doubled.join('\n')}`);
});

import test from 'ava';
import { randomBytes } from 'node:crypto';
import type { Job } from 'bullmq';
import { createKeyring } from '../../server/crypto/keyring.js';
import { sealGithubToken } from '../../server/sessions/credentials.js';
import { commitStatusJobId, type CommitStatusJobData } from '../../server/queues/commitStatusQueue.js';
import { runCommitStatusJob } from '../../workers/tasks/commitStatus.js';
import { createWritePacer, type WritePacer } from '../../workers/tasks/writePacer.js';
import { createScopeCache } from '../../workers/tasks/scopeCache.js';
import { commitStatusState } from '../../server/queues/commitStatusState.js';
import type { WorkerContext } from '../../workers/context.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

let redis: TestRedis;
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { redis?.client.disconnect(); await redis?.stop(); });

// A status job that waits its pacing turn in its slot must not post with the token of a session that
// ended during the wait: the token is read from the session again after the wait (a job never uses
// the token of an ended session, SECURITY.md). Before, it was read once, before the wait.
test('a session that ends while the job waits its pacing turn gets no status posted', async (t) => {
  const keyring = createKeyring(randomBytes(32));
  const rec = {
    id: 'dpl-0123456789abcdefghij', userId: 7, requestMac: 'mac', sessionRef: 'ref', status: 'live',
    commitSha: 'a'.repeat(40), request: { githubRepo: 'alice/app', serviceName: 'app' },
  };
  let sessionAlive = true;
  const session = { user: { id: 7, login: 'alice' }, githubTokenSealed: sealGithubToken(7, 'gho_token', keyring) };
  const posted: string[] = [];
  const quiet = { debug() {}, warn() {} };
  const ctx = {
    keyring,
    redis: redis.client,
    config: { baseUrl: 'http://app.test', redisPrefix: redis.prefix },
    logger: { child: () => quiet },
    deployments: { get: async (id: string) => (id === rec.id ? rec : null) },
    sessions: { loadByRef: async (ref: string) => (sessionAlive && ref === rec.sessionRef ? session : undefined) },
    upstream: {
      github: (token: string) => ({
        tokenScopes: async () => ['repo'],
        createCommitStatus: async () => { posted.push(token); },
      }),
    },
  } as unknown as WorkerContext;
  // Another of the user's writes is in flight: this job's wait (a spacing) is slept in its slot, and
  // the user signs out during it.
  const real = createWritePacer({ intervalMs: 100, now: () => Date.now() });
  let signOutDuringWait = true;
  const pacer: WritePacer = {
    holdMaxMs: real.holdMaxMs,
    wrote: (user) => real.wrote(user),
    leave: (user, jobId) => real.leave(user, jobId),
    book: (user, jobId) => {
      const wait = real.book(user, jobId);
      if (wait > 0 && signOutDuringWait) {
        signOutDuringWait = false;
        setTimeout(() => { sessionAlive = false; real.wrote(7); }, 10);
      }
      return wait;
    },
  };
  const run = { pacer, scopes: createScopeCache({ ttlMs: 60_000, now: () => Date.now() }) };
  t.is(real.book(7, 'another-job'), 0);
  t.true(await commitStatusState(redis.client, redis.prefix, rec.id).ask('pending'));
  const job = {
    name: 'pending', id: commitStatusJobId(rec.id, 'pending'), attemptsMade: 0, opts: {},
    data: { deploymentId: rec.id, userId: 7, requestMac: 'mac' },
  } as unknown as Job<CommitStatusJobData>;

  await runCommitStatusJob(ctx, job, 'lock', run);
  t.deepEqual(posted, [], 'no status posted with the ended session\'s token');

  // Control: the same job with the session alive throughout posts once, with the session's token.
  // (The first run's turn ended a spacing ago, so this one sleeps before it posts too.)
  sessionAlive = true;
  await runCommitStatusJob(ctx, job, 'lock', run);
  t.deepEqual(posted, ['gho_token']);
});

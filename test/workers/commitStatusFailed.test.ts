import test from 'ava';
import { randomBytes } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { createKeyring } from '../../server/crypto/keyring.js';
import { sealGithubToken } from '../../server/sessions/credentials.js';
import { queuePrefix } from '../../server/queues/deployQueue.js';
import { COMMIT_STATUS_QUEUE, commitStatusJobId, type CommitStatusJobData } from '../../server/queues/commitStatusQueue.js';
import { runCommitStatusJob, sweepFailedCommitStatusJobs } from '../../workers/tasks/commitStatus.js';
import { requestCommitStatus } from '../../server/queues/commitStatusQueue.js';
import { createScopeCache } from '../../workers/tasks/scopeCache.js';
import { commitStatusState } from '../../server/queues/commitStatusState.js';
import { createCommitStatusWorker } from '../../workers/commitStatusWorker.js';
import type { WorkerContext } from '../../workers/context.js';
import type { DeploymentRecord } from '../../server/deployments/types.js';
import { createRedis } from '../../server/redis.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

// One status job of a deployment posts at a time (workers/tasks/commitStatusState.ts). A job that fails
// for good without reaching its DONE (here: reading the record fails on every attempt, as when Redis
// fails) used to leave the deployment owned for ever, so its final status was never posted.
let redis: TestRedis;
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { redis?.client.disconnect(); await redis?.stop(); });

const waitFor = async (what: () => Promise<boolean> | boolean, ms = 30_000) => {
  for (const end = Date.now() + ms; Date.now() < end && !(await what());) await new Promise((r) => setTimeout(r, 20));
};

async function statusStack(t: { teardown(fn: () => unknown): void }) {
  // A queue of its own per test: another test's worker would take this one's jobs.
  const prefix = `${redis.prefix}-${randomBytes(4).toString('hex')}`;
  const keyring = createKeyring(randomBytes(32));
  const recs = new Map<string, DeploymentRecord>();
  /** Reads of a record that fail (each waits for `gate` first, when set). */
  const failing = new Map<string, { left: number; gate?: Promise<void> }>();
  const posted = new Map<string, string[]>();
  const session = { user: { id: 7, login: 'alice' }, githubTokenSealed: sealGithubToken(7, 'gho_token', keyring) };
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const connection = createRedis(redis.url, 'worker');
  // Two attempts a few ms apart: the job is retried once, then fails for good.
  const queue = new Queue<CommitStatusJobData>(COMMIT_STATUS_QUEUE, {
    connection, prefix: queuePrefix(prefix),
    defaultJobOptions: { attempts: 2, backoff: { type: 'fixed', delay: 50 }, removeOnComplete: true, removeOnFail: false },
  });
  const ctx = {
    keyring,
    redis: redis.client,
    config: { baseUrl: 'http://app.test', redisPrefix: prefix },
    logger: { ...quiet, child: () => quiet },
    commitStatusQueue: queue,
    deployments: {
      get: async (id: string) => {
        const f = failing.get(id);
        if (f && f.left > 0) {
          await f.gate;
          f.left--;
          throw new Error('Connection is closed.');
        }
        return recs.get(id) ?? null;
      },
    },
    sessions: { loadByRef: async () => session },
    upstream: {
      github: () => ({
        tokenScopes: async () => ['repo'],
        createCommitStatus: async (_o: string, repo: string, _sha: string, body: { state: string }) => {
          posted.set(repo, [...posted.get(repo) ?? [], body.state]);
        },
      }),
    },
  } as unknown as WorkerContext;
  const closers: Array<() => Promise<void>> = [];
  t.teardown(async () => { for (const close of closers.reverse()) await close(); await queue.close(); connection.disconnect(); });
  /** Start a commit status worker as the worker process does (on a connection of its own). */
  const startWorker = () => {
    const workerConnection = createRedis(redis.url, 'worker');
    const worker = createCommitStatusWorker(ctx, workerConnection, { writeIntervalMs: 0 });
    closers.push(async () => { await worker.close(); workerConnection.disconnect(); });
    return worker;
  };
  /**
   * A process that dies after BullMQ failed a job for good and before the worker's `failed` handler ran:
   * the same processor, without the handler. Stopped once it is done with `until`.
   */
  const crashingWorker = async (until: () => Promise<boolean>) => {
    const workerConnection = createRedis(redis.url, 'worker');
    const run = { pacer: null, scopes: createScopeCache({ ttlMs: 60_000, now: () => Date.now() }) };
    const worker = new Worker<CommitStatusJobData>(COMMIT_STATUS_QUEUE, (job, token) => runCommitStatusJob(ctx, job, token, run), { connection: workerConnection, prefix: queuePrefix(prefix) });
    try {
      await waitFor(until);
    } finally {
      await worker.close();
      workerConnection.disconnect();
    }
  };
  const record = (n: number): DeploymentRecord => {
    const rec = {
      id: `dpl-${String(n).padStart(20, '0')}`, userId: 7, requestMac: 'mac', sessionRef: 'ref', status: 'build_in_progress',
      commitSha: 'a'.repeat(40), request: { githubRepo: `alice/app${n}`, serviceName: `app${n}` },
    } as unknown as DeploymentRecord;
    recs.set(rec.id, rec);
    return rec;
  };
  const failedForGood = (rec: DeploymentRecord) => async () => (await queue.getJobState(commitStatusJobId(rec.id, 'pending'))) === 'failed';
  const stateKey = (rec: DeploymentRecord) => `${prefix}:deployment:${rec.id}:commit-status`;
  /** Deployment n's pending status job, failed on both attempts by a worker that died before its failed handler. */
  const pendingFailedInDeadProcess = async (n: number) => {
    const rec = record(n);
    failing.set(rec.id, { left: 2 });
    await requestCommitStatus(ctx, rec, 'pending');
    await crashingWorker(failedForGood(rec));
    return rec;
  };
  return { ctx, queue, prefix, record, failing, posted, failedForGood, startWorker, crashingWorker, stateKey, pendingFailedInDeadProcess };
}

test('a pending status job that failed for good lets go: the final status asked later is posted', async (t) => {
  const s = await statusStack(t);
  s.startWorker();
  const rec = s.record(1);
  s.failing.set(rec.id, { left: 2 });
  await requestCommitStatus(s.ctx, rec, 'pending');
  await waitFor(s.failedForGood(rec));
  t.true(await s.failedForGood(rec)(), 'the pending job failed on both attempts');
  const key = s.stateKey(rec);
  await waitFor(async () => (await redis.client.hget(key, 'owned')) === '0');

  (rec as { status: string }).status = 'live';
  await requestCommitStatus(s.ctx, rec, 'final');
  await waitFor(() => (s.posted.get('app1') ?? []).length > 0);
  t.deepEqual(s.posted.get('app1'), ['success']);
});

test('a final status asked while the pending job was failing is posted once that job failed for good', async (t) => {
  const s = await statusStack(t);
  s.startWorker();
  const rec = s.record(2);
  let open!: () => void;
  s.failing.set(rec.id, { left: 2, gate: new Promise<void>((r) => { open = r; }) });
  await requestCommitStatus(s.ctx, rec, 'pending');
  // The pending job is running (its record read is held) when the deploy ends and asks for its final
  // status: the job owns the posting, so no job is added for it.
  await waitFor(async () => (await s.queue.getJobState(commitStatusJobId(rec.id, 'pending'))) === 'active');
  (rec as { status: string }).status = 'live';
  await requestCommitStatus(s.ctx, rec, 'final');
  t.is(await s.queue.getJobState(commitStatusJobId(rec.id, 'final')), 'unknown', 'the owning job was to post it');
  open();
  await waitFor(s.failedForGood(rec));
  t.true(await s.failedForGood(rec)());
  await waitFor(() => (s.posted.get('app2') ?? []).length > 0);
  t.deepEqual(s.posted.get('app2'), ['success']);
});

test('a pending job failed for good by a process that died before its failed handler: the next worker start hands the final status on', async (t) => {
  const s = await statusStack(t);
  const rec = await s.pendingFailedInDeadProcess(3);
  t.true(await s.failedForGood(rec)(), 'the pending job failed on both attempts');
  // The deploy ends: the dead job still owns the posting, so asking adds no job.
  (rec as { status: string }).status = 'live';
  await requestCommitStatus(s.ctx, rec, 'final');
  t.is(await s.queue.getJobState(commitStatusJobId(rec.id, 'final')), 'unknown');

  s.startWorker();
  await waitFor(() => (s.posted.get('app3') ?? []).length > 0);
  t.deepEqual(s.posted.get('app3'), ['success']);
  // Another worker's start sweeps the same failed job again: its ownership was handed on and let go, so
  // no job is added and nothing more is posted.
  await waitFor(async () => (await s.queue.getJobState(commitStatusJobId(rec.id, 'final'))) === 'unknown');
  t.true(await sweepFailedCommitStatusJobs(s.ctx) >= 1);
  t.is(await s.queue.getJobState(commitStatusJobId(rec.id, 'final')), 'unknown', 'no second final job');
  t.is(await redis.client.hget(s.stateKey(rec), 'owned'), '0');
  t.deepEqual(s.posted.get('app3'), ['success']);
});

test('a pending job failed for good by a dead process, the deploy ending later: the next worker start lets go', async (t) => {
  const s = await statusStack(t);
  const rec = await s.pendingFailedInDeadProcess(4);
  s.startWorker();
  const key = s.stateKey(rec);
  await waitFor(async () => (await redis.client.hget(key, 'owned')) === '0');
  t.is(await redis.client.hget(key, 'owned'), '0', 'the sweep let go');
  (rec as { status: string }).status = 'failed';
  await requestCommitStatus(s.ctx, rec, 'final');
  await waitFor(() => (s.posted.get('app4') ?? []).length > 0);
  t.deepEqual(s.posted.get('app4'), ['failure']);
});

// A rolling upgrade: the version before named no owner ('owned' = '1', a job of either phase). A failed
// job of a deployment it left in that state must still let go, or hand the owed final status on.
test('a state written before owners were named (owned = 1): a failed job still lets go or hands the final status on', async (t) => {
  const s = await statusStack(t);
  const [pendingOnly, finalOwed] = [s.record(5), s.record(6)];
  await redis.client.hset(s.stateKey(pendingOnly), 'asked', 'pending', 'owned', '1');
  await redis.client.hset(s.stateKey(finalOwed), 'asked', 'final', 'owned', '1');
  t.false(await commitStatusState(redis.client, s.prefix, pendingOnly.id).failed('pending'), 'nothing more owed');
  t.is(await redis.client.hget(s.stateKey(pendingOnly), 'owned'), '0');
  t.true(await commitStatusState(redis.client, s.prefix, finalOwed.id).failed('pending'), 'the final status is owed: its job is to be added');
  t.is(await redis.client.hget(s.stateKey(finalOwed), 'owned'), 'final');
  // Handled again (the sweep at the next worker start): nothing changes.
  t.false(await commitStatusState(redis.client, s.prefix, finalOwed.id).failed('pending'));
  t.is(await redis.client.hget(s.stateKey(finalOwed), 'owned'), 'final');
});

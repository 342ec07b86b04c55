import test from 'ava';
import { manualClock } from '../../server/clock.js';
import { removeDeployJob } from '../../server/queues/deployQueue.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { QUICK_PHASES } from '../helpers/pipelineStack.js';
import { addNodeRepo, signedInWithKey, startTestWorker, waitFinished, type TestWorker } from '../helpers/pipeline.js';

// A deploy request writes its record, then adds its job (server/deployments/requests.ts). When Redis
// dropped in between and the record's rollback failed with it, the record stayed `queued` with no job:
// "Queued" for good. What that leaves is made here as it happens: the request's record is written and
// its job is not there (taken out before any worker ran). A worker's sweep (workers/orphanSweep.ts)
// finds such a record once it is older than the grace period and adds its job again; the deploy then
// runs as the lost job would have.
const GRACE_MS = 2 * 60_000;
const clock = manualClock();
let stack: Stack;
const workers: TestWorker[] = [];
test.before(async () => { stack = await startStack({ clock, renderOptions: { phaseMs: QUICK_PHASES } }); });
test.after.always(async () => {
  await Promise.all(workers.map((w) => w.close(5_000)));
  await stack?.close();
});

async function worker(): Promise<TestWorker> {
  const w = await startTestWorker(stack, { clock, orphanSweep: { graceMs: GRACE_MS, everyMs: 0 } });
  workers.push(w);
  return w;
}

/** A deploy request whose job was never added: its record written, no job in the queue. */
async function orphanedDeploy(agent: Awaited<ReturnType<typeof signedInWithKey>>['agent'], repo: string, name: string): Promise<string> {
  const res = await agent.post('/api/render/deploy', { github_repo: repo, project_name: name });
  if (res.status !== 202) throw new Error(`deploy: ${res.status} ${res.text}`);
  if (!(await removeDeployJob(stack.web.deps.queue, res.json.id))) throw new Error('job not removed');
  return res.json.id as string;
}

test.serial('a queued deployment whose job was never added gets it from a worker\'s sweep, once older than the grace period, and goes live', async (t) => {
  const u = await signedInWithKey(stack, 'orphan-one');
  addNodeRepo(stack, 'orphan-one', 'app');
  const id = await orphanedDeploy(u.agent, 'orphan-one/app', 'orphan-one-app');

  // Younger than the grace period: its request may still be adding the job; the sweep leaves it.
  const early = await worker();
  t.deepEqual(await early.orphanSweeps.first, { looked: 0, requeued: 0, retried: 0 });
  t.is(await stack.web.deps.queue.getJob(id), undefined);
  t.is((await u.agent.get(`/api/render/deployments/${id}`)).json.status, 'queued');

  clock.advance(GRACE_MS + 1_000);
  t.deepEqual(await early.orphanSweeps.sweep(), { looked: 1, requeued: 1, retried: 0 });
  const done = await waitFinished(u.agent, id);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  // Off the index once its job ran: later sweeps look at nothing.
  t.deepEqual(await early.orphanSweeps.sweep(), { looked: 0, requeued: 0, retried: 0 });
  await early.close(5_000);
});

test.serial('a queued deployment whose job is merely waiting is left alone, and two workers sweeping at once add one job for an orphan', async (t) => {
  const u = await signedInWithKey(stack, 'orphan-two');
  addNodeRepo(stack, 'orphan-two', 'app');
  const queue = stack.web.deps.queue;
  // No worker takes a job meanwhile: the waiting one stays waiting.
  await queue.pause();
  t.teardown(() => queue.resume());
  const waiting = await u.agent.post('/api/render/deploy', { github_repo: 'orphan-two/app', project_name: 'orphan-two-waits' });
  t.is(waiting.status, 202);
  const waitingJob = await queue.getJob(waiting.json.id);
  t.truthy(waitingJob);
  const orphan = await orphanedDeploy(u.agent, 'orphan-two/app', 'orphan-two-orphan');
  clock.advance(GRACE_MS + 1_000);

  const [a, b] = await Promise.all([worker(), worker()]);
  const swept = await Promise.all([a.orphanSweeps.first, b.orphanSweeps.first, a.orphanSweeps.sweep(), b.orphanSweeps.sweep()]);
  t.is(swept.reduce((n, s) => n + s.requeued, 0), 1, JSON.stringify(swept));
  const jobs = await queue.getJobs(['waiting', 'prioritized', 'delayed', 'active']);
  t.deepEqual(jobs.map((j) => j.id).sort(), [waiting.json.id, orphan].sort());
  const after = await queue.getJob(waiting.json.id);
  t.is(after?.timestamp, waitingJob!.timestamp, 'the waiting job is the one its request added');

  await queue.resume();
  t.is((await waitFinished(u.agent, waiting.json.id)).status, 'live');
  t.is((await waitFinished(u.agent, orphan)).status, 'live');
});

test.serial('a queued record written before the queued index existed is indexed once at a worker\'s start, and its lost job added again', async (t) => {
  // No worker runs while the orphan is made (one would take its job before it is taken out).
  await Promise.all(workers.splice(0).map((w) => w.close(5_000)));
  const u = await signedInWithKey(stack, 'orphan-old');
  addNodeRepo(stack, 'orphan-old', 'app');
  const id = await orphanedDeploy(u.agent, 'orphan-old/app', 'orphan-old-app');
  // As an older version left it: the record and no index entry; and this Redis never backfilled.
  const { redis, config } = stack.web.deps;
  const queuedIndex = `${config.redisPrefix}:deployments:queued`;
  await redis.zrem(queuedIndex, id);
  await redis.del(`${config.redisPrefix}:deployments:queued:backfilled`);
  clock.advance(GRACE_MS + 1_000);

  // Two workers start at once: one indexes it (the other finds the backfill taken), then a sweep adds its job.
  const [a, b] = await Promise.all([worker(), worker()]);
  const swept = await Promise.all([a.orphanSweeps.first, b.orphanSweeps.first]);
  t.is(swept.reduce((n, s) => n + s.requeued, 0), 1, JSON.stringify(swept));
  t.is((await waitFinished(u.agent, id)).status, 'live');
  t.is(await redis.zscore(queuedIndex, id), null, 'off the index once its job ran');
  t.is(a.logs.concat(b.logs).filter((l) => l.includes('written before the queued index were indexed')).length, 1, 'indexed by one worker');

  // Done once: a later worker start does not scan again, even for a record the index lacks.
  await Promise.all(workers.splice(0).map((w) => w.close(5_000)));
  const stray = await orphanedDeploy(u.agent, 'orphan-old/app', 'orphan-old-stray');
  await redis.zrem(queuedIndex, stray);
  clock.advance(GRACE_MS + 1_000);
  const c = await worker();
  t.deepEqual(await c.orphanSweeps.first, { looked: 0, requeued: 0, retried: 0 });
  t.is(await redis.zscore(queuedIndex, stray), null);
  t.is((await u.agent.get(`/api/render/deployments/${stray}`)).json.status, 'queued');
});

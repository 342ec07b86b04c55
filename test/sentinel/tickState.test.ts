import test from 'ava';
import { createLogger } from '../../server/logger.js';
import { startWorker, type WorkerProcess } from '../../workers/process.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { BUDGET_FOR_TESTS } from './limits.js';
import { enable, tenant, waitFor } from './support.js';
import { nextDue, scheduleKeys } from '../../server/sentinel/schedule.js';
import { createSentinelQueue, schedulerId } from '../../server/sentinel/queue.js';
import { queuePrefix } from '../../server/queues/deployQueue.js';
import { sentinelKeys } from '../../server/sentinel/store.js';
import type { SentinelWorkerOptions } from '../../workers/sentinelWorker.js';

// The batched tick's state (workers/sentinelTick.ts, server/sentinel/schedule.ts): what the old design
// left in Redis, what a worker remembers of watches, and the rounds' rhythm.

let stack: Stack;
const workers: WorkerProcess[] = [];
test.before(async () => { stack = await startStack({ env: { SENTINEL_INTERVAL_SECONDS: '1' } }); });
test.after.always(async () => {
  await Promise.all(workers.map((w) => w.close(5_000)));
  await stack?.close();
});

async function worker(sentinel: SentinelWorkerOptions = {}): Promise<WorkerProcess> {
  const w = await startWorker({ config: stack.config, logger: createLogger({ level: 'silent' }), renderLimits: BUDGET_FOR_TESTS, sentinel: { minLeaseMs: 3_000, ...sentinel } });
  workers.push(w);
  return w;
}

const audits = (accountId: string) => stack.render.calls.filter((c) => c.accountId === accountId && c.route === '/owners/{ownerId}/audit-logs').length;
const userIdOf = async (agent: { get(p: string): Promise<{ json: any }> }) => (await agent.get('/api/session')).json.user.id as number;

test('the next due time keeps the round\'s rhythm; a round that ran late skips the points it missed', (t) => {
  t.is(nextDue(1_000, 60_000, 1_300), 61_000);
  t.is(nextDue(1_000, 60_000, 61_000), 121_000);
  t.is(nextDue(1_000, 60_000, 130_000), 181_000);
  t.is(nextDue(5_000, 60_000, 4_000), 65_000, 'a clock a little behind the one that claimed');
});

test.serial('a worker starting moves the old design\'s per-user job schedulers onto the schedule and removes the sentinel queue', async (t) => {
  t.timeout(120_000);
  const cat = await tenant(stack, 'cat-migrate');
  const userId = await userIdOf(cat.agent);
  await enable(cat.agent);
  // What the old design left: the watch as a BullMQ job scheduler (its first job waiting), not on the schedule.
  const { due, intervals } = scheduleKeys(stack.config.redisPrefix);
  await stack.redis.client.multi().zrem(due, String(userId)).hdel(intervals, String(userId)).exec();
  const queue = createSentinelQueue(stack.redis.client, stack.config.redisPrefix);
  try {
    await queue.upsertJobScheduler(schedulerId(userId), { every: 1_000 }, { name: 'watch', data: { userId } });
    t.is(await queue.getJobSchedulersCount(), 1);
  } finally { await queue.close(); }

  await worker();
  t.not(await stack.redis.client.zscore(due, String(userId)), null, 'the watch is on the schedule');
  t.is(await stack.redis.client.hget(intervals, String(userId)), '1000', 'with its interval');
  const left = await stack.redis.client.keys(`${queuePrefix(stack.config.redisPrefix)}:sentinel:*`);
  t.deepEqual(left, [], 'nothing of the sentinel queue is left');
  const before = audits(cat.accountId);
  await waitFor('rounds from the schedule', async () => audits(cat.accountId) >= before + 2);
  t.pass();
});

test.serial('rounds keep the watch\'s rhythm: each due time is a whole number of intervals after the first', async (t) => {
  t.timeout(120_000);
  if (workers.length === 0) await worker();
  const dot = await tenant(stack, 'dot-rhythm');
  const userId = String(await userIdOf(dot.agent));
  const { due } = scheduleKeys(stack.config.redisPrefix);
  await enable(dot.agent);
  // Between rounds the score is the next due time; during one, the claim's lease (claim time + 3 s, off
  // the rhythm). Scores seen, by their place within a second: the due times share one.
  const byPhase = new Map<number, Set<number>>();
  const rhythm = await waitFor('three due times on one rhythm', async () => {
    const score = Number(await stack.redis.client.zscore(due, userId));
    const seen = byPhase.get(score % 1_000) ?? new Set<number>();
    byPhase.set(score % 1_000, seen.add(score));
    return seen.size >= 3 ? [...seen].sort((a, b) => a - b) : null;
  }, 60_000);
  for (const [i, at] of rhythm.entries()) if (i > 0) t.is((at - rhythm[0]!) % 1_000, 0);
});

test.serial('a worker forgets a watch stopped elsewhere (its last round\'s session and key are not kept for good)', async (t) => {
  t.timeout(120_000);
  const w = workers[0] ?? await worker();
  const eli = await tenant(stack, 'eli-forget');
  const userId = await userIdOf(eli.agent);
  await enable(eli.agent);
  await waitFor('a round in this worker', async () => w.sentinel.remembered().includes(userId));
  // Stopped by the web process, not by a round of this worker.
  const off = await eli.agent.request('PUT', '/api/sentinel', { json: { enabled: false } });
  t.is(off.status, 200, off.text);
  await waitFor('the worker to forget it', async () => !w.sentinel.remembered().includes(userId));
  t.false(w.sentinel.remembered().includes(userId));
});

// A rolling upgrade: web processes of the old design still run beside the new workers for a while.
test.serial('a job scheduler an old web process adds after the worker started is moved onto the schedule, and the watch\'s rounds run without a restart', async (t) => {
  t.timeout(120_000);
  await worker({ oldSchedulersEveryMs: 200 });
  const gus = await tenant(stack, 'gus-late');
  const userId = await userIdOf(gus.agent);
  await enable(gus.agent);
  // The old web process turned the watch on: the same settings, but the watch a job scheduler, not on the schedule.
  const { due, intervals } = scheduleKeys(stack.config.redisPrefix);
  await stack.redis.client.multi().zrem(due, String(userId)).hdel(intervals, String(userId)).exec();
  // A round claimed before may still be running (at most one); none starts after it while nothing schedules the user.
  const lock = sentinelKeys(stack.config.redisPrefix).lock(userId);
  await waitFor('no round of this user running', async () => (await stack.redis.client.exists(lock)) === 0);
  const before = audits(gus.accountId);
  const queue = createSentinelQueue(stack.redis.client, stack.config.redisPrefix);
  try {
    await queue.upsertJobScheduler(schedulerId(userId), { every: 1_000 }, { name: 'watch', data: { userId } });
    await waitFor('the scheduler moved onto the schedule', async () => (await stack.redis.client.zscore(due, String(userId))) !== null && await queue.getJobSchedulersCount() === 0);
  } finally { await queue.close(); }
  t.is(await stack.redis.client.hget(intervals, String(userId)), '1000', 'with its interval');
  await waitFor('rounds from the schedule', async () => audits(gus.accountId) >= before + 2);
  t.pass();
});

test.serial('a watch stopped by an old web process after the move leaves the schedule: the round finds its settings gone', async (t) => {
  t.timeout(120_000);
  if (workers.length === 0) await worker();
  const hal = await tenant(stack, 'hal-oldstop');
  const userId = await userIdOf(hal.agent);
  await enable(hal.agent);
  await waitFor('a round', async () => audits(hal.accountId) >= 1);
  // The old web process's stop: its job scheduler removed (there is none after the move) and the watch's
  // keys deleted (the old dropWatch); it knows nothing of the schedule.
  const queue = createSentinelQueue(stack.redis.client, stack.config.redisPrefix);
  try { await queue.removeJobScheduler(schedulerId(userId)); } finally { await queue.close(); }
  const keys = sentinelKeys(stack.config.redisPrefix);
  await stack.redis.client.del(keys.settings(userId), keys.cursors(userId), keys.groups(userId), keys.selfCalls(userId), keys.lock(userId));
  const { due, intervals } = scheduleKeys(stack.config.redisPrefix);
  await waitFor('the watch off the schedule', async () => (await stack.redis.client.zscore(due, String(userId))) === null && (await stack.redis.client.hget(intervals, String(userId))) === null);
  t.pass();
});

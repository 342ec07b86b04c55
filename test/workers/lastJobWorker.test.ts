import test, { type ExecutionContext } from 'ava';
import { startMonitor } from '../helpers/redisMonitor.js';
import { Queue, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { waitUntil } from '../helpers/wait.js';
import { createRedis } from '../../server/redis.js';
import { LastJobWorker } from '../../workers/lastJobWorker.js';

// workers/lastJobWorker.ts: a worker that took the queue's last job waits for the next one at once
// (one take and one blocking wait per lone job, not three and two), and loses no job doing so.

let redis: TestRedis;
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { redis?.client.disconnect(); await redis?.stop(); });

const WORKER_REDIS = { enableAutoPipelining: true, autoPipeliningIgnoredCommands: ['bzpopmin'] };

interface Setup { queue: Queue; prefix: string; connections: Redis[] }

function setUp(t: ExecutionContext, name: string): Setup {
  const prefix = `{${redis.prefix}-bull}`;
  const queueConn = createRedis(redis.url, 'worker', { enableAutoPipelining: true });
  const queue = new Queue(name, { connection: queueConn, prefix });
  const connections = [queueConn];
  t.teardown(async () => { await queue.close(); connections.forEach((c) => c.disconnect()); });
  return { queue, prefix, connections };
}

function startWorker(t: ExecutionContext, s: Setup, name: string, run: (job: Job) => Promise<unknown>, opts: { drainDelay?: number } = {}) {
  const conn = createRedis(redis.url, 'worker', WORKER_REDIS);
  s.connections.push(conn);
  const worker = new LastJobWorker(name, run, { connection: conn, prefix: s.prefix, concurrency: 20, ...opts });
  t.teardown(() => worker.close());
  return worker;
}

/** Every command Redis runs from now on (MONITOR), as its arguments. */
async function monitor(t: ExecutionContext): Promise<string[][]> {
  const seen: string[][] = [];
  const m = await startMonitor(redis.url);
  m.on((args) => seen.push(args));
  t.teardown(() => m.stop());
  return seen;
}

/** A client blocked in BZPOPMIN (the worker's wait), and no marker left to wake it. */
const blockedOn = async (marker: string) => (await redis.client.client('LIST') as string).split('\n').some((l) => l.includes('flags=b ') && l.includes('cmd=bzpopmin'))
  && (await redis.client.zcard(marker)) === 0;

test.serial('a lone job: one take and one blocking wait, and the worker waits again with no marker left', async (t) => {
  const s = setUp(t, 'lone');
  const done: string[] = [];
  const worker = startWorker(t, s, 'lone', async (job) => { done.push(job.id!); });
  await worker.waitUntilReady();
  const marker = s.queue.keys.marker!;
  await waitUntil('the worker blocked on the empty queue', () => blockedOn(marker), 10_000, 10);
  const seen = await monitor(t);
  const job = await s.queue.add('j', { n: 1 });
  await waitUntil('the job done', async () => done.length === 1 && await job.isCompleted(), 10_000, 10);
  await waitUntil('the worker blocked again', () => blockedOn(marker), 10_000, 10);
  const waits = seen.filter((a) => a[0]!.toLowerCase() === 'bzpopmin');
  // Takes are our script (EVALSHA, the wait key first) or BullMQ's own moveToActive if it ever ran.
  const takes = seen.filter((a) => /^evalsha$/i.test(a[0]!) && a[3] === s.queue.keys.wait && a[4] === s.queue.keys.active && a[2] === '11');
  t.is(takes.length, 1, 'one moveToActive: the job, no empty look after it');
  t.is(waits.length, 1, 'one blocking wait after the job, which blocks (no marker made it return at once)');
  t.is(await redis.client.zcard(marker), 0);
});

test.serial('jobs one by one, in bulk, prioritized and delayed, across two workers: each done once', async (t) => {
  const s = setUp(t, 'mixed');
  const done: number[] = [];
  const run = async (job: Job) => { done.push(job.data.n as number); };
  const workers = [startWorker(t, s, 'mixed', run), startWorker(t, s, 'mixed', run)];
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  let n = 0;
  for (let i = 0; i < 20; i++) {
    await s.queue.add('j', { n: n++ });
    await waitUntil('the lone job done', async () => done.length === n, 10_000, 2);
  }
  await s.queue.addBulk(Array.from({ length: 100 }, () => ({ name: 'j', data: { n: n++ } })));
  await Promise.all(Array.from({ length: 100 }, (_, i) => s.queue.add('j', { n: n++ }, { priority: 1 + (i % 3) })));
  await Promise.all(Array.from({ length: 10 }, (_, i) => s.queue.add('j', { n: n++ }, { delay: 50 * i })));
  await waitUntil('every job done', async () => done.length >= n && (await s.queue.getCompletedCount()) === n, 30_000, 10);
  t.deepEqual([...done].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i), 'each job once');
});

test.serial('the last job taken while a delayed one waits: the worker blocks until that one is due, not for its drain delay', async (t) => {
  const s = setUp(t, 'delayed');
  const done: string[] = [];
  const worker = startWorker(t, s, 'delayed', async (job) => { done.push(job.name); }, { drainDelay: 300 });
  await worker.waitUntilReady();
  const marker = s.queue.keys.marker!;
  await waitUntil('the worker blocked on the empty queue', () => blockedOn(marker), 10_000, 10);
  await s.queue.add('later', {}, { delay: 60_000 });
  // The delayed job's marker wakes the worker, which then waits until the job is due.
  await waitUntil('the worker waiting for the delayed job', () => blockedOn(marker), 10_000, 10);
  const seen = await monitor(t);
  await s.queue.add('now', {});
  await waitUntil('the job done', async () => done.includes('now'), 10_000, 10);
  const waits = () => seen.filter((a) => a[0]!.toLowerCase() === 'bzpopmin');
  await waitUntil('the worker blocked again', async () => waits().length >= 1, 10_000, 10);
  // drainDelay is in seconds: without the delayed job's time the wait would be 300 s.
  const timeout = Number(waits()[0]![2]);
  t.true(timeout > 0 && timeout <= 10, `waits toward the delayed job (10 s at most per wait, BullMQ's cap), not the 300 s drain delay: ${timeout}`);
});

import test from 'ava';
import { Queue, Worker } from 'bullmq';
import { Pipeline } from 'ioredis';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { createRedis } from '../../server/redis.js';

// server/redisPipelines.ts: an auto-pipelined connection's batches are pipelines that find the
// connection's scripts on their prototype instead of copying each one (BullMQ defines ~60).

let redis: TestRedis;
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { redis?.client.disconnect(); await redis?.stop(); });

const ownScriptProps = (p: object) => Object.keys(p).filter((k) => k.startsWith('bump')).length;

test('a batch finds the connection\'s scripts without copies of its own; one defined later is found too; a NOSCRIPT is loaded and run', async (t) => {
  const conn = createRedis(redis.url, 'worker', { enableAutoPipelining: true });
  t.teardown(() => conn.disconnect());
  const key = `${redis.prefix}:n`;
  conn.defineCommand('bump', { numberOfKeys: 1, lua: 'return redis.call("INCRBY", KEYS[1], ARGV[1])' });
  const p = conn.pipeline();
  t.true(p instanceof Pipeline);
  t.is(ownScriptProps(p), 0, 'no per-pipeline copies');
  t.is(typeof (p as unknown as { bump: unknown }).bump, 'function');
  // Auto-pipelined: the commands of one tick share a batch, scripts among them.
  const bump = (by: number) => (conn as unknown as { bump(k: string, n: number): Promise<number> }).bump(key, by);
  t.deepEqual(await Promise.all([bump(1), bump(2), conn.get(key)]), [1, 3, '3']);
  conn.defineCommand('bumpTwice', { numberOfKeys: 1, lua: 'return redis.call("INCRBY", KEYS[1], 2 * ARGV[1])' });
  t.is(await (conn as unknown as { bumpTwice(k: string, n: number): Promise<number> }).bumpTwice(key, 5), 13);
  // The server forgets its scripts: the next call gets NOSCRIPT and is sent again with the script's text.
  await redis.client.script('FLUSH');
  t.deepEqual(await Promise.all([bump(1), bump(1)]), [14, 15]);
  // An explicit pipeline and a MULTI keep working as ioredis' own.
  t.deepEqual(await conn.pipeline([['incr', key], ['get', key]]).exec(), [[null, 16], [null, '16']]);
  t.deepEqual(await conn.multi().incr(key).exec(), [[null, 17]]);
});

test('BullMQ on such connections: jobs added, run and completed', async (t) => {
  const queueConn = createRedis(redis.url, 'worker', { enableAutoPipelining: true });
  const workerConn = createRedis(redis.url, 'worker', { enableAutoPipelining: true, autoPipeliningIgnoredCommands: ['bzpopmin'] });
  const prefix = `{${redis.prefix}-bull}`;
  const queue = new Queue('pipes', { connection: queueConn, prefix });
  const seen: number[] = [];
  const worker = new Worker('pipes', async (job) => { seen.push(job.data.n as number); return job.data.n as number * 2; }, { connection: workerConn, prefix, concurrency: 20 });
  t.teardown(async () => { await worker.close(); await queue.close(); queueConn.disconnect(); workerConn.disconnect(); });
  let completed = 0;
  const all = new Promise<void>((resolve) => worker.on('completed', () => { if (++completed === 200) resolve(); }));
  await queue.addBulk(Array.from({ length: 100 }, (_, n) => ({ name: 'j', data: { n } })));
  await Promise.all(Array.from({ length: 100 }, (_, i) => queue.add('j', { n: 100 + i }, { priority: 1 + (i % 3) })));
  await all;
  t.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: 200 }, (_, n) => n));
  t.is(await queue.getCompletedCount(), 200);
  t.true(Object.keys((queueConn as unknown as { scriptsSet: object }).scriptsSet).length > 20, 'BullMQ defined its scripts on the connection');
  t.is(Object.keys(queueConn.pipeline()).filter((k) => k.startsWith('moveToActive') || k.startsWith('addStandardJob')).length, 0);
});

import test from 'ava';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { publishSnapshots, readSnapshots } from '../../server/metrics/snapshots.js';
import { startTestRedis } from '../helpers/redis.js';
import { startRedisHold } from '../helpers/redisHold.js';
import { until } from '../helpers/pipeline.js';

// Workers push their metrics to Redis and the web's /metrics merges the fresh snapshots, removing the
// expired ones it read. A worker that stalled past its snapshot's expiry pushes a fresh one as soon as
// it runs again: a /metrics that read the expired one just before must not remove the fresh one.

test('a fresh snapshot pushed between a /metrics read and its clean-up is kept; the expired one read is removed', async (t) => {
  const r = await startTestRedis();
  const hold = await startRedisHold(r.url);
  const web = new Redis(hold.url, { maxRetriesPerRequest: null });
  t.teardown(async () => { web.disconnect(); await hold.close(); await r.stop(); });
  const key = `${r.prefix}:metrics:workers`;
  await r.client.hset(key, 'worker-a', JSON.stringify({ expiresAt: Date.now() - 1_000, metrics: [] }), 'worker-gone', JSON.stringify({ expiresAt: Date.now() - 1_000, metrics: [] }));

  // The read passes; the clean-up that follows it on the connection waits.
  hold.holdAt('hgetall', 'after');
  const read = readSnapshots(web, r.prefix);
  await hold.held();
  t.deepEqual(await read, [], 'both read as expired');
  // worker-a runs again and pushes (publishSnapshots' write, on its own connection).
  const registry = new Registry();
  const worker = publishSnapshots({ redis: r.client, prefix: r.prefix, instance: 'worker-a', registry, intervalMs: 60_000 });
  t.teardown(() => worker.stop());
  await worker.publish();
  hold.release();

  // The clean-up ran (a fresh Redis has no script cached: its EVAL follows the EVALSHA's answer).
  await until('the gone worker\'s snapshot removed', async () => ((await r.client.hexists(key, 'worker-gone')) ? null : true), 10_000);
  t.deepEqual(Object.keys(await r.client.hgetall(key)), ['worker-a'], 'the fresh one kept');
  t.is((await readSnapshots(web, r.prefix)).length, 1);
});

import test from 'ava';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { deleteIfOurs } from '../../server/redisOwned.js';

// The one "give back a lock only while it is still ours" step (server/redisOwned.ts), used by the
// service cache's loader lock, the log tail's lease, Idempotency-Key claims and the detector's run lock.

let redis: TestRedis;
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { await redis?.stop(); });

test('deletes the key while it holds our token, and only then', async (t) => {
  const key = `${redis.prefix}:lock:a`;
  await redis.client.set(key, 'ours', 'PX', 60_000);
  t.true(await deleteIfOurs(redis.client, key, 'ours'));
  t.is(await redis.client.exists(key), 0);
  t.false(await deleteIfOurs(redis.client, key, 'ours'), 'already gone');
});

test('a key another holder took after our lease ran out is left alone', async (t) => {
  const key = `${redis.prefix}:lock:b`;
  await redis.client.set(key, 'theirs', 'PX', 60_000);
  t.false(await deleteIfOurs(redis.client, key, 'ours'));
  t.is(await redis.client.get(key), 'theirs');
  t.true((await redis.client.pttl(key)) > 0, 'their expiry untouched');
});

test('works again after Redis forgot its scripts (EVALSHA falls back to EVAL)', async (t) => {
  const key = `${redis.prefix}:lock:c`;
  await redis.client.script('FLUSH');
  await redis.client.set(key, 'ours');
  t.true(await deleteIfOurs(redis.client, key, 'ours'));
  t.is(await redis.client.exists(key), 0);
});

import test from 'ava';
import { Redis } from 'ioredis';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { createKeyLockout } from '../../server/security/lockout.js';

// The lock-out's give-back (`release`: Render could not judge a claimed key) against a lock set at the
// same time by another web process, and against counts another request cleared. Two lock-outs on two
// connections to one real Redis stand for two web processes. The race is made deterministic by holding
// the first process's connection: a BLPOP sent on it after the give-back's first command keeps Redis
// from reading anything that process sends later, until the test pushes to the list.

const rule = { maxInvalid: 5, windowSec: 600, lockSec: 600, maxInvalidPerUser: 100 };
let redis: TestRedis;
const connections: Redis[] = [];
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { for (const c of connections) c.disconnect(); redis?.client.disconnect(); await redis?.stop(); });

async function webProcess() {
  const conn = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  connections.push(conn);
  await conn.ping(); // rate-limiter-flexible refuses a connection not yet ready
  return { conn, lockout: createKeyLockout(conn, redis.prefix, rule) };
}

test('a give-back racing a lock set by another process does not lower the lock: no try passes while it is reported', async (t) => {
  const [a, b] = [await webProcess(), await webProcess()];
  const [user, fp] = [1, 'fp-race'];
  // Five tries in flight: the allowance is claimed.
  for (let i = 0; i < rule.maxInvalid; i++) t.true((await a.lockout.claim(user, fp)).claimed);

  // Process A: Render was unavailable for two of its tries; it gives them back. Its connection is held
  // right behind the give-backs' first commands.
  const hold = `${redis.prefix}:hold`;
  const givebacks = [a.lockout.release(user, fp, true), a.lockout.release(user, fp, true)];
  const held = a.conn.blpop(hold, 0);
  // Process B: Render rejected one of the tries in flight; the allowance is used up, so it locks.
  const rejected = await b.lockout.recordInvalid(user, fp, true);
  await redis.client.lpush(hold, 'go');
  await held;
  await Promise.all(givebacks);

  // One serial order or the other: the give-backs first (then B's rejection found tries left and set
  // no lock), or the lock first (then it holds and the give-backs change nothing). Never a lock that
  // was reported and then let a try through.
  const next = await b.lockout.claim(user, fp);
  if (rejected.lockedForSec > 0) t.false(next.claimed, `B reported a lock of ${rejected.lockedForSec} s, and a try was then claimed through it`);
  else t.true(next.claimed);
});

test('give-backs that reach Redis after a lock leave it as it is', async (t) => {
  const [a, b] = [await webProcess(), await webProcess()];
  const [user, fp] = [3, 'fp-after'];
  for (let i = 0; i < rule.maxInvalid; i++) t.true((await a.lockout.claim(user, fp)).claimed);
  const hold = `${redis.prefix}:hold-before`;
  const held = a.conn.blpop(hold, 0); // held before the give-backs are sent this time
  const givebacks = [a.lockout.release(user, fp, true), a.lockout.release(user, fp, true)];
  t.true((await b.lockout.recordInvalid(user, fp, true)).lockedForSec > 0);
  await redis.client.lpush(hold, 'go');
  await held;
  await Promise.all(givebacks);
  t.false((await b.lockout.claim(user, fp)).claimed);
});

test('a give-back after the counts were cleared (the key accepted by another request) does not leave a try in credit', async (t) => {
  const { lockout } = await webProcess();
  const [user, fp] = [2, 'fp-cleared'];
  t.true((await lockout.claim(user, fp)).claimed);
  await lockout.clear(user, fp); // another request with the same key was accepted meanwhile
  await redis.client.del(`${redis.prefix}:rl:key-accepted:user:${user}:${fp}`); // …and the key rejected later (recordInvalid drops the mark)
  await lockout.release(user, fp, true); // this request's try: Render could not judge it
  for (let i = 0; i < rule.maxInvalid; i++) t.true((await lockout.claim(user, fp)).claimed, `try ${i + 1}`);
  t.false((await lockout.claim(user, fp)).claimed, 'the allowance, not one more');
});

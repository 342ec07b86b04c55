import test from 'ava';
import type { Redis } from 'ioredis';
import { createSessionCache, trackingConnection, type SessionCache } from '../../server/sessions/cache.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { waitUntil } from '../helpers/wait.js';
import { startTrackingProxy } from '../ops/support/trackingProxy.js';

// The session cache's heartbeat (server/sessions/cache.ts): a tracking connection that stalls (open,
// silent) is no source of invalidations, so nothing is served from it and it is dropped and set up
// again; an event loop that was merely busy past a deadline is no stall.
let redis: TestRedis;
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { redis?.client.disconnect(); await redis?.stop(); });

const HEARTBEAT_MS = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cacheOn(t: { teardown(fn: () => Promise<void>): void }, url: string, recordPrefix: string, onConnect: (conn: Redis) => void = () => {}) {
  const errors: string[] = [];
  const cache: SessionCache<string> = createSessionCache<string>({
    connect: () => {
      const conn = trackingConnection(url);
      onConnect(conn);
      return conn;
    },
    recordPrefix, heartbeatMs: HEARTBEAT_MS, onError: (err) => errors.push(err.message),
  });
  t.teardown(() => cache.close());
  return { cache, errors };
}

/** Ids of the connections tracking with a redirect (the caches'). */
async function trackingIds(): Promise<string[]> {
  const list = await redis.client.client('LIST') as string;
  return list.split('\n').filter((l) => /\bredir=\d+/.test(l)).map((l) => /\bid=(\d+)/.exec(l)![1]!);
}

test.serial('a silent tracking connection: its entries are not served, it is dropped and set up again, and then serves and invalidates again', async (t) => {
  const recordPrefix = `${redis.prefix}:stall:sess:`;
  const proxy = await startTrackingProxy(redis.url, recordPrefix);
  t.teardown(async () => { proxy.release(); await proxy.close(); });
  const { cache, errors } = cacheOn(t, proxy.url, recordPrefix);
  await waitUntil('tracking set up', async () => cache.active, 20_000, 10);
  cache.fill(cache.begin('a'), 'session a');
  t.is(cache.lookup('a'), 'session a');

  proxy.hold();
  const heldAt = performance.now();
  await waitUntil('entry no longer served', async () => cache.lookup('a') === undefined, 20_000, 5);
  const refusedAfter = performance.now() - heldAt;
  t.false(cache.active);
  await waitUntil('the silence reported', async () => errors.some((e) => /silent/.test(e)), 20_000, 10);
  // Every new connection's setup is held as well: the cache stays off, however long the stall.
  await sleep(5 * HEARTBEAT_MS);
  t.false(cache.active, 'no setup answered, no cache');
  cache.fill(cache.begin('a'), 'session a');
  t.is(cache.lookup('a'), undefined);
  t.true(errors.filter((e) => /silent/.test(e)).length >= 2, `each silent setup dropped in turn: ${errors.join('; ')}`);
  t.log(`refused ${Math.round(refusedAfter)} ms after the stall began (bound ${2 * HEARTBEAT_MS} ms + a PING's way)`);
  t.true(refusedAfter < 20 * HEARTBEAT_MS, `refused after ${Math.round(refusedAfter)} ms`);

  proxy.release();
  await waitUntil('tracking set up again', async () => cache.active, 20_000, 10);
  cache.fill(cache.begin('a'), 'session a');
  t.is(cache.lookup('a'), 'session a', 'served again');
  await redis.client.set(`${recordPrefix}a`, 'changed');
  await waitUntil('invalidated', async () => cache.lookup('a') === undefined, 20_000, 5);
});

test.serial('an event loop blocked past the deadline, the PING\'s answer waiting in the socket, is no stall', async (t) => {
  const recordPrefix = `${redis.prefix}:busy:sess:`;
  const blockMs = 4 * HEARTBEAT_MS;
  let blocks = 0;
  const { cache, errors } = cacheOn(t, redis.url, recordPrefix, (conn) => {
    // The process goes busy right after a PING went out, past the poll for I/O that would have read its
    // answer (a long GC, a CPU-bound request): when it comes back, timers run first, the PING's deadline
    // is past, and its answer is in the socket, not yet read.
    const ping = conn.ping.bind(conn) as () => Promise<string>;
    Object.assign(conn, {
      ping: () => {
        const answer = ping();
        if (blocks < 3) setImmediate(() => { blocks++; const until = performance.now() + blockMs; while (performance.now() < until) { /* busy */ } });
        return answer;
      },
    });
  });
  await waitUntil('tracking set up', async () => cache.active, 20_000, 10);
  const [id] = await trackingIds();
  await waitUntil('three blocks', async () => blocks === 3, 20_000, 10);
  await sleep(3 * HEARTBEAT_MS);
  t.deepEqual(errors, []);
  t.deepEqual(await trackingIds(), [id], 'the same tracking connection');
  // Serving from memory again once a PING answered in time (on a loaded machine the last one may not have yet).
  await waitUntil('serving from memory', async () => cache.active, 20_000, 10);
  t.deepEqual(errors, []);
});

import test from 'ava';
import { spawnSync } from 'node:child_process';
import { createRedis } from '../../server/redis.js';
import { createSessionCache } from '../../server/sessions/cache.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

// The session cache (server/sessions/cache.ts) may serve an entry only while its tracking connection
// delivers invalidations. A write made after that connection was dropped reaches this process as no
// invalidation, only as the connection's end, which a hit's one-turn wait (`settle`) must have seen.
let redis: TestRedis;
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { redis?.client.disconnect(); await redis?.stop(); });

/** redis-cli run while this process's event loop is blocked: nothing Redis sends us is read meanwhile. */
function blockedCli(...args: string[]): string {
  const url = new URL(redis.url);
  const out = spawnSync('redis-cli', ['-h', url.hostname, '-p', url.port, ...args], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${out.stderr}`);
  return out.stdout.trim();
}

// CLIENT KILL of the one tracking connection needs a private redis-server, as ops/cache-recovery.
const run = process.env.REDIS_URL ? test.skip : test;

run('a tracking connection dropped before a write: a request read after it does not get the entry', async (t) => {
  const recordPrefix = `${redis.prefix}:sess:`;
  const cache = createSessionCache<string>({ connect: () => createRedis(redis.url, 'subscriber', { protocol: 2, autoResubscribe: false }), recordPrefix });
  // A request stands in as a message on a connection of its own: it is read in the same turn as
  // whatever Redis sent this process before it, as an HTTP request would be.
  const requests = createRedis(redis.url, 'subscriber', { protocol: 2 });
  t.teardown(async () => { requests.disconnect(); await cache.close(); });
  await requests.subscribe('request');
  /** What a request read next is served (a hit only after its settle, as readThrough does). */
  const nextRequest = () => new Promise<string | undefined>((resolve) => {
    requests.once('message', () => void (async () => {
      if (cache.lookup('a') === undefined) return resolve(undefined);
      await cache.settle();
      resolve(cache.lookup('a'));
    })());
  });
  for (const end = Date.now() + 20_000; !cache.active && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
  t.true(cache.active, 'tracking set up');
  const fill = () => cache.fill(cache.begin('a'), 'session a');
  fill();
  let served = nextRequest();
  blockedCli('PUBLISH', 'request', '1');
  t.is(await served, 'session a', 'a hit while nothing changed');

  // Control: a write while the connection is up is an invalidation, read before the request.
  served = nextRequest();
  blockedCli('SET', `${recordPrefix}a`, 'changed');
  blockedCli('PUBLISH', 'request', '2');
  t.is(await served, undefined);
  fill();

  // The connection is killed, then the record changes (a logout through another process), then the
  // request comes: all while this process is busy, so they are read in one turn.
  const list = await redis.client.client('LIST') as string;
  const ids = list.split('\n').filter((l) => /\bredir=\d+/.test(l)).map((l) => /\bid=(\d+)/.exec(l)![1]!);
  t.is(ids.length, 1);
  served = nextRequest();
  t.is(blockedCli('CLIENT', 'KILL', 'ID', ids[0]!), '1');
  blockedCli('DEL', `${recordPrefix}a`);
  blockedCli('PUBLISH', 'request', '3');
  t.is(await served, undefined, 'the entry of a session ended while tracking was down is not served');
});

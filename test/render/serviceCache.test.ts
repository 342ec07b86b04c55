import test from 'ava';
import { Redis } from 'ioredis';
import { createServiceCache } from '../../server/render/serviceCache.js';
import { manualClock } from '../../server/clock.js';
import type { PresentedService } from '../../server/presenters/service.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { waitUntil } from '../helpers/wait.js';

// What a list that is not cached asks of Redis (issue 17's services row: each first poll of 200 users
// waits for its Redis round trips as well as Render's two), on a private redis-server.

let r: TestRedis;
let redis: Redis;
test.before(async () => {
  r = await startTestRedis();
  redis = new Redis(r.url, { maxRetriesPerRequest: null, enableAutoPipelining: true });
});
test.after.always(async () => { redis?.disconnect(); await r?.stop(); });

/** Names of the commands the cache sends, in order, until `restore`. */
function spy(conn: Redis): { sent: string[]; restore: () => void } {
  const sent: string[] = [];
  const original = conn.sendCommand.bind(conn);
  type Args = Parameters<typeof original>;
  conn.sendCommand = (command: Args[0], stream?: Args[1]) => {
    sent.push(command.name);
    return original(command, stream);
  };
  return { sent, restore: () => { conn.sendCommand = original; } };
}

const list = (name: string): PresentedService[] => [{ id: `srv-${name}`, name } as PresentedService];
const gated = () => {
  let release!: () => void;
  const gate = new Promise<void>((ok) => { release = ok; });
  return { gate, release };
};
const keysOf = async (prefix: string, suffix: string) => r.client.keys(`${prefix}:svc-cache:*${suffix}`);

test.serial('a list not cached: one command before the load (its read claims it), one after (the write gives the lock back)', async (t) => {
  const prefix = `${r.prefix}-trips`;
  const cache = createServiceCache({ redis, prefix });
  // The scripts are loaded into Redis once (EVALSHA's first call falls back to EVAL): not counted.
  await cache.get({ userId: 1, keyFingerprint: 'fp', ownerIds: ['tea-1'] }, async () => list('warm'));
  await waitUntil('the warm-up written', async () => (await keysOf(prefix, ':lock:*')).length === 0 && (await keysOf(prefix, ':data')).length === 1, 10_000, 5);

  const { sent, restore } = spy(redis);
  t.teardown(restore);
  let beforeLoad: string[] = [];
  const got = await cache.get({ userId: 2, keyFingerprint: 'fp', ownerIds: ['tea-1'] }, async () => {
    beforeLoad = [...sent];
    return list('two');
  });
  t.deepEqual(got, list('two'));
  t.deepEqual(beforeLoad, ['evalsha'], 'read and claim in one command');
  await waitUntil('the list written', async () => (await keysOf(prefix, ':lock:*')).length === 0 && (await keysOf(prefix, ':data')).length === 2, 10_000, 5);
  t.deepEqual(sent.slice(beforeLoad.length), ['evalsha'], 'write and lock release in one command');
});

test.serial('the list is answered before its write, and a read meanwhile joins the flight instead of loading again', async (t) => {
  const prefix = `${r.prefix}-early`;
  const cache = createServiceCache({ redis, prefix });
  const scope = { userId: 3, keyFingerprint: 'fp', ownerIds: ['tea-1'] };
  const { gate, release } = gated();
  let loads = 0;
  let loading!: () => void;
  const started = new Promise<void>((ok) => { loading = ok; });
  const answer = cache.get(scope, async () => { loads++; loading(); await gate; return list('early'); });
  await started;
  // Writes wait in Redis from here on (reads go on): the cache's write cannot land until the unpause.
  const admin = new Redis(r.url);
  t.teardown(async () => { await admin.call('client', 'unpause'); admin.disconnect(); });
  await admin.call('client', 'pause', '20000', 'WRITE');
  release();
  t.deepEqual(await answer, list('early'));
  t.deepEqual(await keysOf(prefix, ':data'), [], 'answered while its write waits');
  t.deepEqual(await cache.get(scope, async () => { loads++; return list('again'); }), list('early'));
  t.is(loads, 1);
  await admin.call('client', 'unpause');
  await waitUntil('the list written', async () => (await keysOf(prefix, ':data')).length === 1, 10_000, 5);
  t.deepEqual(await cache.get(scope, async () => { loads++; return list('again'); }), list('early'));
  t.is(loads, 1);
});

// The flake behind CI's servicesStale failures: a poll that came while the first load's write was still
// on its way joined that flight whatever the list's age by then, so past freshMs it was served with no
// refresh behind it (and past maxStaleMs served at all). Now a flight answered freshMs ago is not joined:
// the read waits for its write and is judged by age like any other.
test.serial('a read after freshMs does not join a flight whose write is still pending: it is judged by age after that write', async (t) => {
  const prefix = `${r.prefix}-aged`;
  const clock = manualClock(Date.parse('2026-12-01T12:00:00Z'));
  const cache = createServiceCache({ redis, prefix, clock });
  const scope = { userId: 5, keyFingerprint: 'fp', ownerIds: ['tea-1'] };
  let loads = 0;
  const admin = new Redis(r.url);
  t.teardown(async () => { await admin.call('client', 'unpause'); admin.disconnect(); });
  const { gate, release } = gated();
  let loading!: () => void;
  const started = new Promise<void>((ok) => { loading = ok; });
  const answer = cache.get(scope, async () => { loads++; loading(); await gate; return list('first'); });
  await started;
  await admin.call('client', 'pause', '20000', 'WRITE');
  release();
  t.deepEqual(await answer, list('first'));
  clock.advance(9_000);
  // Stale by now: answered from the list once its write landed, with one refresh behind it.
  const stale = cache.get(scope, async () => { loads++; return list('refreshed'); });
  await admin.call('client', 'unpause');
  t.deepEqual(await stale, list('first'));
  await waitUntil('the refresh behind the stale list', async () => loads === 2 && (await keysOf(prefix, ':lock:*')).length === 0, 10_000, 5);
  t.deepEqual(await cache.get(scope, async () => { loads++; return list('third'); }), list('refreshed'));
  t.is(loads, 2);
});

test.serial('a generation changed by another process: the read asks again with its lock, and claims it', async (t) => {
  const prefix = `${r.prefix}-gen`;
  const [here, there] = [createServiceCache({ redis, prefix }), createServiceCache({ redis, prefix })];
  const scope = { userId: 4, keyFingerprint: 'fp', ownerIds: ['tea-1'] };
  t.deepEqual(await here.get(scope, async () => list('first')), list('first'));
  await waitUntil('the list written', async () => (await keysOf(prefix, ':data')).length === 1, 10_000, 5);
  await there.invalidate(scope);
  let loads = 0;
  t.deepEqual(await here.get(scope, async () => { loads++; return list('after'); }), list('after'), 'not the list from before the change');
  t.is(loads, 1);
  await waitUntil('the new list written', async () => (await keysOf(prefix, ':lock:*')).length === 0, 10_000, 5);
  t.deepEqual(await there.get(scope, async () => { loads++; return list('again'); }), list('after'));
  t.is(loads, 1);
});

// Two web processes: the list's load in this one began before a change answered by the other (a
// suspend in another tab). A read here after that change joined the load, and showed the service as it
// was before the change the user had just seen answered.
test.serial('a read after a change made in another process does not join a load of this one that began before it', async (t) => {
  const prefix = `${r.prefix}-join`;
  const [here, there] = [createServiceCache({ redis, prefix }), createServiceCache({ redis, prefix })];
  const scope = { userId: 6, keyFingerprint: 'fp', ownerIds: ['tea-1'] };
  const { gate, release } = gated();
  let loading!: () => void;
  const started = new Promise<void>((ok) => { loading = ok; });
  const before = here.get(scope, async () => { loading(); await gate; return list('before'); });
  await started;
  await there.invalidate(scope);
  let loads = 0;
  const after = here.get(scope, async () => { loads++; return list('after'); });
  const alsoAfter = here.get(scope, async () => { loads++; return list('after'); });
  release();
  t.deepEqual(await before, list('before'), 'the read that began before the change');
  t.deepEqual(await after, list('after'));
  t.deepEqual(await alsoAfter, list('after'));
  t.is(loads, 1, 'reads after the change share one load');
  // Without a change meanwhile, a read still joins the load in flight.
  const other = { ...scope, userId: 7 };
  const { gate: gate2, release: release2 } = gated();
  const first = here.get(other, async () => { loads++; await gate2; return list('next'); });
  await waitUntil('the flight is under way', async () => loads === 2, 10_000, 5);
  const joined = here.get(other, async () => { loads++; return list('other'); });
  release2();
  t.deepEqual(await first, list('next'));
  t.deepEqual(await joined, list('next'));
  t.is(loads, 2);
});

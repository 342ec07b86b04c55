import test from 'ava';
import { createGuardCache, createGuardStore, type GuardEntry } from '../../server/telemetry/guards.js';
import { telemetryKeys } from '../../server/telemetry/keys.js';
import { SIGNALS } from '../../server/telemetry/options.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

// each web process's copy of the telemetry guards (throttles and blocks, server/telemetry/guards.ts)
// is re-read only when the `tel:guard:ver` counter differs from the one it last read. A Redis that came
// back empty restarts that counter: the first guard change after it INCRs it to 1 again. A process
// whose last read was at 1 (one change ever before), and that did not happen to sync while the counter
// was absent (it syncs every second), takes the new counter for the one it has: it keeps answering from
// its old copy, missing the new block (and still refusing a user whose block went with the data).
const run = process.env.REDIS_URL ? test.skip : test; // restarting redis-server needs a private one

let redis: TestRedis;
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { await redis?.stop(); });

const entry = (state: GuardEntry['state']): GuardEntry => ({ state, until: Date.now() + 3_600_000, since: Date.now(), strikes: 3, signal: SIGNALS[0], observed: 900, threshold: 100, login: 'probe' });

run('a block written right after Redis came back empty reaches a process that last read the counter at the same number', async (t) => {
  const keys = telemetryKeys(redis.prefix);
  const store = createGuardStore(redis.client, keys);
  const cache = createGuardCache(store, { syncMs: 3_600_000 }); // synced by hand below
  t.teardown(() => cache.close());
  await store.set(101, entry('blocked'));
  await cache.sync();
  t.is(cache.lookup(101, Date.now())?.state, 'blocked', 'the first block is in the copy (counter 1)');

  await redis.restart({ downMs: 100 });
  await redis.client.ping();
  await store.set(202, entry('blocked')); // the first change after the restart: counter 1 again
  await cache.sync();
  t.is(cache.lookup(202, Date.now())?.state, 'blocked', 'the new block is enforced');
  t.is(cache.lookup(101, Date.now()), null, 'the block that went with the data is not');
});

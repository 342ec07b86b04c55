import test from 'ava';
import { createGuardCache, createGuardStore, type GuardStore } from '../../server/telemetry/guards.js';
import { telemetryKeys } from '../../server/telemetry/keys.js';
import { startTestRedis } from '../helpers/redis.js';

// sync() promises a read of Redis as it is when called. A sync already on its way (the timer's) read
// the entries before a block written meanwhile; joining it answered before the block was seen, so a
// just-blocked user was still let through (test/telemetry/escape failed so under load in CI).
test('sync() called while an earlier sync is in flight reads again after it: a block written meanwhile is seen', async (t) => {
  const redis = await startTestRedis();
  t.teardown(() => redis.stop());
  const real = createGuardStore(redis.client, telemetryKeys(redis.prefix));
  let holdRead: (() => void) | null = null;
  let readDone: () => void = () => {};
  const read = new Promise<void>((resolve) => { readDone = resolve; });
  // The real store, its first read of the entries answered only after the block below is written.
  const store: GuardStore = {
    ...real,
    async all() {
      const entries = await real.all();
      if (!holdRead) {
        const held = new Promise<void>((resolve) => { holdRead = resolve; });
        readDone();
        await held;
      }
      return entries;
    },
  };
  const cache = createGuardCache(store, { syncMs: 60_000 });
  t.teardown(() => cache.close());
  const now = Date.now();
  const first = cache.sync(); // the timer's read: its entries are read, their answer held
  await read;
  await real.set(7, { state: 'blocked', until: now + 60_000, since: now, strikes: 3, signal: 'requests', observed: 100, threshold: 40, login: 'held' });
  const second = cache.sync();
  holdRead!();
  await Promise.all([first, second]);
  t.is(cache.lookup(7, now)?.state, 'blocked');
});

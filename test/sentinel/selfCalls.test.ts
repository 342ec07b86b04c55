import test from 'ava';
import { randomBytes } from 'node:crypto';
import { createKeyring } from '../../server/crypto/keyring.js';
import { createSentinelStore } from '../../server/sentinel/store.js';
import { startTestRedis } from '../helpers/redis.js';

// Our own env-var reads (to redact logs) are in Render's audit log too, noted before they are made so the
// watch does not report them. A note matched any number of entries near it: each of ours hid everyone's
// reads of that service within ±2 minutes (a colleague's read with their own key never reported while a
// crash loop kept the app reading). One note now stands for one entry.

test('one note of our own read stands for one audit entry: a colleague\'s read beside it is reported', async (t) => {
  const r = await startTestRedis();
  t.teardown(() => r.stop());
  const store = createSentinelStore({ redis: r.client, prefix: r.prefix, keyring: createKeyring(randomBytes(32)), absoluteMs: 3_600_000 });
  const t0 = Date.parse('2026-12-04T12:00:00Z');
  await store.noteSelfCall(1, 'ViewEnvVarValuesEvent', 'srv-a', t0);
  t.true(await store.isSelfCaused(1, 'ViewEnvVarValuesEvent', 'srv-a', t0 + 800, 'aud-ours'), 'ours');
  t.false(await store.isSelfCaused(1, 'ViewEnvVarValuesEvent', 'srv-a', t0 + 5_000, 'aud-colleague'), 'a colleague\'s, 5 s later');
  t.true(await store.isSelfCaused(1, 'ViewEnvVarValuesEvent', 'srv-a', t0 + 800, 'aud-ours'), 'ours, read again by a round run again');
  // Another service, another user: their own notes.
  await store.noteSelfCall(1, 'ViewEnvVarValuesEvent', 'srv-b', t0);
  t.false(await store.isSelfCaused(2, 'ViewEnvVarValuesEvent', 'srv-b', t0, 'aud-b2'));
  t.false(await store.isSelfCaused(1, 'ViewEnvVarValuesEvent', 'srv-c', t0, 'aud-c'));
  t.true(await store.isSelfCaused(1, 'ViewEnvVarValuesEvent', 'srv-b', t0 + 100_000, 'aud-b'), 'within the window');
  t.false(await store.isSelfCaused(1, 'ViewEnvVarValuesEvent', 'srv-b', t0 + 100_000, 'aud-b-again'));
});

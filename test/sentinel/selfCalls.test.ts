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
  // Our reads of env values, noted as a client of ours notes them before the call (at t0).
  const noteRead = (userId: number, serviceId: string) => store.auditedReadNotes(userId, () => t0).before({ method: 'GET', route: '/services/{serviceId}/env-vars', serviceId });
  await noteRead(1, 'srv-a');
  t.true(await store.isSelfCaused(1, 'ViewEnvVarValuesEvent', 'srv-a', t0 + 800, 'aud-ours'), 'ours');
  t.false(await store.isSelfCaused(1, 'ViewEnvVarValuesEvent', 'srv-a', t0 + 5_000, 'aud-colleague'), 'a colleague\'s, 5 s later');
  t.true(await store.isSelfCaused(1, 'ViewEnvVarValuesEvent', 'srv-a', t0 + 800, 'aud-ours'), 'ours, read again by a round run again');
  // Another service, another user: their own notes.
  await noteRead(1, 'srv-b');
  t.false(await store.isSelfCaused(2, 'ViewEnvVarValuesEvent', 'srv-b', t0, 'aud-b2'));
  t.false(await store.isSelfCaused(1, 'ViewEnvVarValuesEvent', 'srv-c', t0, 'aud-c'));
  t.true(await store.isSelfCaused(1, 'ViewEnvVarValuesEvent', 'srv-b', t0 + 100_000, 'aud-b'), 'within the window');
  t.false(await store.isSelfCaused(1, 'ViewEnvVarValuesEvent', 'srv-b', t0 + 100_000, 'aud-b-again'));
});

test('a read Render refused gives its note back, also when an entry of another read of ours took that note meanwhile', async (t) => {
  const r = await startTestRedis();
  t.teardown(() => r.stop());
  const store = createSentinelStore({ redis: r.client, prefix: r.prefix, keyring: createKeyring(randomBytes(32)), absoluteMs: 3_600_000 });
  let now = Date.parse('2026-12-04T12:00:00Z');
  const notes = store.auditedReadNotes(1, () => now);
  const read = { method: 'GET' as const, route: '/services/{serviceId}/env-vars' as const, serviceId: 'srv-a' };
  await notes.before(read); // A
  now += 500;
  await notes.before(read); // B
  // B was served and its entry judged while A was on its way: it took the oldest note, A's.
  t.true(await store.isSelfCaused(1, 'ViewEnvVarValuesEvent', 'srv-a', now + 100, 'aud-b'));
  // A is refused (Render audits nothing): one note goes, B's (untaken) in place of A's (taken).
  notes.after({ ...read, status: 429, durationMs: 5 });
  notes.after({ ...read, status: 200, durationMs: 5 });
  await new Promise((resolve) => setTimeout(resolve, 100)); // the drop is not awaited by the client
  t.false(await store.isSelfCaused(1, 'ViewEnvVarValuesEvent', 'srv-a', now + 1_000, 'aud-colleague'), 'a colleague\'s read is reported');
  // Calls other than the read share no note with it: a PUT's answer on the same route takes none.
  await notes.before(read);
  notes.after({ method: 'PUT', route: '/services/{serviceId}/env-vars', serviceId: 'srv-a', status: 404, durationMs: 5 });
  notes.after({ ...read, status: 200, durationMs: 5 });
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.true(await store.isSelfCaused(1, 'ViewEnvVarValuesEvent', 'srv-a', now + 2_000, 'aud-ours'), 'our served read keeps its note');
});

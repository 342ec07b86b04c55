import test from 'ava';
import { randomBytes } from 'node:crypto';
import { createKeyring } from '../../server/crypto/keyring.js';
import { scheduleKeys } from '../../server/sentinel/schedule.js';
import { createSentinelStore, sentinelKeys } from '../../server/sentinel/store.js';
import type { SentinelSettings } from '../../server/sentinel/types.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

// Which settings saves are a new generation (ending a round running with the old one, guardedWrites.ts):
// only those changing what a round reads of its settings (session, interval, webhook, on), compared
// opened; a save of the same again keeps it, unless another save came between its read and its write.
// offDuringRound.test.ts shows the same through the HTTP route with a round held at Render.

let r: TestRedis;
test.before(async () => { r = await startTestRedis(); });
test.after.always(async () => { await r?.stop(); });

const WEBHOOK = 'https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX';

test('the same settings again keep their generation; a change a round reads, or a save racing another, is a new one', async (t) => {
  const store = createSentinelStore({ redis: r.client, prefix: r.prefix, keyring: createKeyring(randomBytes(32)), absoluteMs: 3_600_000 });
  const userId = 1;
  const base = (over: Partial<SentinelSettings> = {}): SentinelSettings => ({
    enabled: true, sessionRef: 'ref-a', intervalMs: 60_000, slackSealed: store.sealSlackUrl(userId, WEBHOOK), slackHint: '…XXXX', slackDeployResults: false, enabledAt: 1, ...over,
  });
  const at = { restart: false, nowMs: 1_000 };
  const save = async (s: SentinelSettings) => {
    const gen = await store.putSettings(userId, s, at, await store.getStoredSettings(userId));
    if (gen === null) throw new Error('a save refused with no other save between');
    return gen;
  };

  const first = await save(base());
  t.is((await store.getStoredSettings(userId)).gen, first);
  t.is(await save(base({ slackDeployResults: true })), first, 'the webhook sealed anew, deploy results toggled: the same watch for a round');
  t.not(await save(base({ intervalMs: 30_000 })), first, 'a new interval');
  const hooked = await save(base());
  t.not(await save(base({ slackSealed: store.sealSlackUrl(userId, WEBHOOK.replace('XXXX', 'YYYY')) })), hooked, 'a new webhook');
  const other = await save(base());
  t.not(await save(base({ slackSealed: null, slackHint: null })), other, 'the webhook removed');
  const plain = await save(base());
  t.not(await save(base({ sessionRef: 'ref-b' })), plain, 'another session (and so its key)');

  const read = await store.getStoredSettings(userId);
  const between = await save(base({ intervalMs: 90_000 }));
  t.is(await store.putSettings(userId, read.settings!, at, read), null, 'the same as read, but another save came between: nothing written');
  t.is((await store.getStoredSettings(userId)).gen, between, 'the save between stands');
  // Without the record it read (no compare), the generation to keep is still checked when written.
  const unread = { settings: read.settings, gen: read.gen };
  const over = await store.putSettings(userId, read.settings!, at, unread);
  t.truthy(over);
  t.not(over, read.gen, 'another save came between: a new generation, not the one read');
  t.not(over, between);

  // Settings an old web process wrote (no gen) are never kept as such.
  await r.client.hdel(sentinelKeys(r.prefix).settings(userId), 'gen');
  t.truthy(await save((await store.getStoredSettings(userId)).settings!));
});

test('turning the watch off and a round stopping it delete the same keys', async (t) => {
  const store = createSentinelStore({ redis: r.client, prefix: r.prefix, keyring: createKeyring(randomBytes(32)), absoluteMs: 3_600_000 });
  const keys = sentinelKeys(r.prefix);
  const { due, intervals } = scheduleKeys(r.prefix);
  const owned = (userId: number) => [keys.settings(userId), keys.cursors(userId), keys.groups(userId)];
  const watch = async (userId: number) => {
    const s: SentinelSettings = { enabled: true, sessionRef: 'ref', intervalMs: 60_000, slackSealed: null, slackHint: null, enabledAt: 1 };
    const gen = await store.putSettings(userId, s, { restart: true, nowMs: 1_000 }, { settings: null, gen: '' });
    await r.client.multi().hset(keys.cursors(userId), 'audit', '{}').hset(keys.groups(userId), 'g', '{}').exec();
    return gen;
  };
  const gone = async (userId: number) => {
    for (const key of owned(userId)) t.is(await r.client.exists(key), 0, key);
    t.is(await r.client.zscore(due, String(userId)), null);
    t.is(await r.client.hget(intervals, String(userId)), null);
  };
  await watch(2);
  await store.dropWatch(2);
  await gone(2);
  const gen = await watch(3);
  await r.client.set(keys.lock(3), 'round-3');
  await store.endWatch(3, { gen: gen!, token: 'round-3' }, 2_000);
  await gone(3);
  t.is(await r.client.exists(keys.lock(3)), 0, 'the round\'s lock went too');
});

import test from 'ava';
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { createKeyring, isStale } from '../../server/crypto/keyring.js';
import { createSentinelStore } from '../../server/sentinel/store.js';
import type { SentinelSettings } from '../../server/sentinel/types.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

// The rotation sweep's re-seal of watch settings (store.resealStale): what it must leave alone — a save
// made while it ran, a record under neither key (two rotations ago), keys under the prefix that are not
// a user's settings — and what it re-seals: the record and the Slack webhook inside it, generation kept.
let redis: TestRedis;
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { redis?.client.disconnect(); await redis?.stop(); });

const A = randomBytes(32);
const B = randomBytes(32);
const OLDEST = randomBytes(32);
const store = (prefix: string, current: Buffer, previous: Buffer | null, client: Redis = redis.client) =>
  createSentinelStore({ redis: client, prefix, keyring: createKeyring(current, previous), absoluteMs: 3_600_000 });
const settings = (s: ReturnType<typeof store>, userId: number, url: string | null): SentinelSettings => ({
  enabled: true, sessionRef: `ref-${userId}`, intervalMs: 60_000, slackSealed: url ? s.sealSlackUrl(userId, url) : null, slackHint: url ? '…0000' : null, enabledAt: 1,
});
const save = (s: ReturnType<typeof store>, userId: number, url: string | null) =>
  s.putSettings(userId, settings(s, userId, url), { restart: true, nowMs: 1 }, { settings: null, gen: '' });

test('re-sealed with the current key, webhook inside too, generation kept; other keys and unopenable records left as they are', async (t) => {
  const prefix = `${redis.prefix}:a`;
  const underA = store(prefix, A, null);
  const gen = await save(underA, 1, 'https://hooks.slack.com/services/T0/B0/one');
  await save(store(prefix, OLDEST, null), 2, null); // sealed two rotations ago: opens under neither key
  await redis.client.hset(`${prefix}:sentinel:settings:not-a-user`, 'ref', 'x', 'data', 'y');
  const before2 = await redis.client.hgetall(`${prefix}:sentinel:settings:2`);

  const rotating = store(prefix, B, A);
  t.is(await rotating.resealStale(), 1);
  t.is(await rotating.resealStale(), 0, 'nothing left to re-seal');
  const underB = store(prefix, B, null);
  const stored = await underB.getStoredSettings(1);
  t.is(stored.gen, gen!);
  t.is(underB.openSlackUrl(1, stored.settings!.slackSealed), 'https://hooks.slack.com/services/T0/B0/one');
  t.false(isStale(stored.settings!.slackSealed!, createKeyring(B, A)));
  t.deepEqual(await redis.client.hgetall(`${prefix}:sentinel:settings:2`), before2);
  t.deepEqual(await redis.client.hgetall(`${prefix}:sentinel:settings:not-a-user`), { ref: 'x', data: 'y' });
});

test('a save made while the sweep read the record wins: its settings are not overwritten with the re-sealed old ones', async (t) => {
  const prefix = `${redis.prefix}:b`;
  await save(store(prefix, A, null), 7, 'https://hooks.slack.com/services/T0/B0/old');
  const saver = store(prefix, B, A);
  // The sweep's own connection, with the user's save landing right after the sweep read the record.
  let saved = false;
  const interleaved = new Proxy(redis.client, {
    get(target, prop, receiver) {
      if (prop !== 'hmget') return Reflect.get(target, prop, receiver) as unknown;
      return async (...args: Parameters<Redis['hmget']>) => {
        const read = await target.hmget(...args);
        if (!saved) { saved = true; await save(saver, 7, 'https://hooks.slack.com/services/T0/B0/new'); }
        return read;
      };
    },
  });
  t.is(await store(prefix, B, A, interleaved).resealStale(), 0);
  const after = await store(prefix, B, null).getSettings(7);
  t.is(store(prefix, B, null).openSlackUrl(7, after!.slackSealed), 'https://hooks.slack.com/services/T0/B0/new');
});

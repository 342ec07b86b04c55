import test from 'ava';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { createKeyring } from '../../server/crypto/keyring.js';
import { createLogger } from '../../server/logger.js';
import { createSentinelAlerts } from '../../server/sentinel/alerts.js';
import { createSentinelStore, sentinelKeys } from '../../server/sentinel/store.js';
import type { Finding } from '../../server/sentinel/types.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

// A tenant's Slack alert that did not get through (Slack down, a timeout) does not count as the one
// alert of its rule and service for the hour: the next finding of the same rule and service is sent.

let r: TestRedis;
test.before(async () => { r = await startTestRedis(); });
test.after.always(async () => { await r?.stop(); });

const WEBHOOK = 'https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX';
const finding = (id: string): Finding => ({
  id, kind: 'service_event', rule: 'server_oom', severity: 'high', title: 'Instance killed: out of memory', ownerId: 'tea-1', serviceId: 'srv-1',
  count: 1, firstAt: '2026-12-01T12:00:00Z', lastAt: '2026-12-01T12:00:00Z',
});

/** Alerts to a Slack that answers 503 until `slack.up` is set, and user `userId`'s round (its settings' generation and lock, current). */
async function alertsWithSlack(userId: number) {
  const logger = createLogger({ level: 'silent', destination: new Writable({ write(_c, _e, cb) { cb(); } }) });
  const slack = { up: false, posts: [] as string[] };
  const alerts = createSentinelAlerts({
    redis: r.client, prefix: r.prefix, logger, guard: { allowHosts: ['hooks.slack.com'] },
    post: async (_url, body) => { slack.posts.push(body); return { status: slack.up ? 200 : 503 }; },
  });
  // The watch's settings, of the generation its round began with, and the round's lock (alerts are sent only while both are current).
  await r.client.hset(sentinelKeys(r.prefix).settings(userId), 'gen', 'g1');
  await r.client.set(sentinelKeys(r.prefix).lock(userId), 't1');
  return { alerts, slack, round: { gen: 'g1', token: 't1' } };
}

test('an alert Slack did not accept leaves the rule and service free to alert again; a delivered one holds them for the hour', async (t) => {
  const { alerts, slack, round } = await alertsWithSlack(1);
  t.false(await alerts.notify(1, WEBHOOK, finding('fnd_a'), round), 'Slack answered 503: not delivered');
  slack.up = true;
  t.true(await alerts.notify(1, WEBHOOK, finding('fnd_b'), round), 'the first was never delivered');
  t.false(await alerts.notify(1, WEBHOOK, finding('fnd_c'), round), 'deduplicated after a delivery');
  t.is(slack.posts.length, 2);
});

// Alerts Slack did not accept do not fill the user's window of 10: after an outage of ten attempts (each a
// different rule), the next alert goes out once Slack answers again.
test('alerts Slack did not accept do not use up the window: the next one is sent once Slack is back', async (t) => {
  const { alerts, slack, round } = await alertsWithSlack(3);
  for (let i = 0; i < 10; i++) t.false(await alerts.notify(3, WEBHOOK, { ...finding(`fnd_out${i}`), rule: `rule_${i}` }, round));
  slack.up = true;
  t.true(await alerts.notify(3, WEBHOOK, { ...finding('fnd_back'), rule: 'rule_back' }, round), 'sent: the ten undelivered took no place in the window');
  t.is(slack.posts.length, 11);
});

// A round writes a finding, then the watch is turned off and on again (a new webhook) before the
// round claims the finding's alert: that claim is refused (the settings are not the round's any more),
// and the finding must not stay behind as already known, or the new watch's round, reading the same
// event again, finds nothing new and nobody is ever alerted.
test('a new finding whose alert was refused (the watch changed after its write) is new to the watch now current, which alerts it', async (t) => {
  const logger = createLogger({ level: 'silent', destination: new Writable({ write(_c, _e, cb) { cb(); } }) });
  const posts: string[] = [];
  const alerts = createSentinelAlerts({
    redis: r.client, prefix: r.prefix, logger, guard: { allowHosts: ['hooks.slack.com'] },
    post: async (url, body) => { posts.push(`${url} ${body}`); return { status: 200 }; },
  });
  const store = createSentinelStore({ redis: r.client, prefix: r.prefix, keyring: createKeyring(randomBytes(32)), absoluteMs: 3_600_000 });
  const keys = sentinelKeys(r.prefix);
  await r.client.hset(keys.settings(2), 'gen', 'old');
  await r.client.set(keys.lock(2), 'old-round');
  const oldRound = { gen: 'old', token: 'old-round' };
  t.true(await store.upsert(2, oldRound, finding('fnd_x'), false), 'the old round writes the finding');
  await r.client.hset(keys.settings(2), 'gen', 'new'); // off and on again, with a new webhook
  t.false(await alerts.notify(2, WEBHOOK, finding('fnd_x'), oldRound), 'the old round alerts nobody');
  await r.client.set(keys.lock(2), 'new-round'); // the old round ended; the new watch's round
  const newRound = { gen: 'new', token: 'new-round' };
  t.true(await store.upsert(2, newRound, finding('fnd_x'), false), 'the new watch\'s round finds it new');
  const NEW_WEBHOOK = WEBHOOK.replace('XXXX', 'YYYY');
  t.true(await alerts.notify(2, NEW_WEBHOOK, finding('fnd_x'), newRound));
  t.deepEqual(posts.map((p) => p.split(' ')[0]), [NEW_WEBHOOK]);

  // The same when the old watch had no webhook at all and the new one has.
  await r.client.hset(keys.settings(2), 'gen', 'plain');
  await r.client.set(keys.lock(2), 'plain-round');
  const plainRound = { gen: 'plain', token: 'plain-round' };
  t.true(await store.upsert(2, plainRound, finding('fnd_y'), false));
  await r.client.hset(keys.settings(2), 'gen', 'hooked');
  t.false(await alerts.notify(2, null, finding('fnd_y'), plainRound));
  await r.client.set(keys.lock(2), 'hooked-round');
  t.true(await store.upsert(2, { gen: 'hooked', token: 'hooked-round' }, finding('fnd_y'), false), 'the watch with a webhook finds it new');

  // Turned off and not on again: no watch to alert it, and what the round found before the off stays.
  await r.client.hset(keys.settings(2), 'gen', 'last');
  await r.client.set(keys.lock(2), 'last-round');
  const lastRound = { gen: 'last', token: 'last-round' };
  t.true(await store.upsert(2, lastRound, finding('fnd_z'), false));
  await r.client.del(keys.settings(2));
  t.false(await alerts.notify(2, WEBHOOK, finding('fnd_z'), lastRound));
  t.truthy(await store.getFinding(2, 'fnd_z'), 'kept');
  t.is(posts.length, 1);
});

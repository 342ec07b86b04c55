import test from 'ava';
import { createLogger } from '../../server/logger.js';
import { createSentinelAlerts } from '../../server/sentinel/alerts.js';
import { sentinelKeys } from '../../server/sentinel/store.js';
import type { Finding } from '../../server/sentinel/types.js';
import { startStack, type Stack } from '../helpers/stack.js';

// The alert's claim counts it against the user's window in the same script: at most 10 per 10 minutes,
// each rule and service once an hour, counted only for alerts claimed.

let stack: Stack;
test.before(async () => { stack = await startStack(); });
test.after.always(async () => { await stack?.close(); });

test('at most 10 alerts per window; an alert held back by its rule\'s hour does not count', async (t) => {
  const userId = 4242;
  const keys = sentinelKeys(stack.config.redisPrefix);
  await stack.redis.client.hset(keys.settings(userId), 'gen', 'g1');
  await stack.redis.client.set(keys.lock(userId), 'tok');
  const alerts = createSentinelAlerts({ ...stack.slackAlerts, redis: stack.redis.client, prefix: stack.config.redisPrefix, logger: createLogger({ level: 'silent' }) });
  const url = 'https://hooks.slack.com/services/T000/B000/RATE000000000000';
  const finding = (i: number): Finding => ({
    id: `fnd_${String(i).padStart(20, '0')}`, kind: 'audit', rule: `rule_${i}`, severity: 'high', title: 'Shell opened into a service',
    ownerId: 'tea-x', serviceId: null, count: 1, firstAt: '2026-01-01T00:00:00Z', lastAt: '2026-01-01T00:00:00Z',
  });
  const round = { gen: 'g1', token: 'tok' };
  const repeat = await alerts.notify(userId, url, finding(0), round);
  const again = await Promise.all(Array.from({ length: 5 }, () => alerts.notify(userId, url, finding(0), round)));
  const rest = [];
  for (let i = 1; i <= 11; i += 1) rest.push(await alerts.notify(userId, url, finding(i), round));
  t.true(repeat);
  t.deepEqual(again, [false, false, false, false, false], 'the same rule within the hour');
  t.is(rest.filter(Boolean).length, 9, 'ten in the window in all');
  t.true((await stack.redis.client.ttl(keys.alertRate(userId))) > 0);
  t.is(stack.slack.bodies.filter((b) => b.includes('/RATE000')).length, 10);

  // The one held back by the full window did not use up its rule's hour: once the window is over, it is sent.
  await stack.redis.client.del(keys.alertRate(userId));
  t.true(await alerts.notify(userId, url, finding(11), round), 'the held-back rule alerts once the window is over');
});

import test from 'ava';
import { randomBytes } from 'node:crypto';
import { manualClock, systemClock } from '../../server/clock.js';
import { createAuditLog } from '../../server/audit/auditLog.js';
import { createKeyring } from '../../server/crypto/keyring.js';
import { createRedis } from '../../server/redis.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

// APPEND_IF_HEADS recognises "this call's own entry, written by an earlier run whose answer was lost"
// by comparing the entry's JSON with what is stored where it belongs. Two processes that append the same
// event (same user, action, detail: the same request sent twice through a load balancer, say) in the same
// millisecond, on the same head, build byte-identical entries: the second one's compare-and-set fails,
// the script finds "its" entry there, answers {2}, and the append reported success without writing. One of
// the two events was missing from both the user's chain and the global chain; each append's nonce tells them apart.

let redis: TestRedis;
const keyring = createKeyring(randomBytes(32));
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { await redis?.stop(); });

test.serial('two processes appending the same event in the same millisecond: both are in the trail', async (t) => {
  const prefix = `${redis.prefix}-samems`;
  const clock = manualClock(Date.parse('2026-03-01T12:00:00.000Z'));
  const [ca, cb] = [createRedis(redis.url, 'web'), createRedis(redis.url, 'web')];
  t.teardown(() => { ca.disconnect(); cb.disconnect(); });
  const a = createAuditLog({ redis: ca, prefix, clock, keyring });
  const b = createAuditLog({ redis: cb, prefix, clock, keyring });
  const userId = 4242;
  // The user's two identical requests: an env var set on one service (the key set is not in the entry), from one browser.
  const event = { userId, action: 'lifecycle' as const, outcome: 'success' as const,
    detail: { lifecycleAction: 'env_var_set', serviceId: 'srv-abc', route: '/api/render/services/:id/env-vars/:key', method: 'PUT', ip: '203.0.113.9' } };
  await a.append({ userId, action: 'sign_in', outcome: 'success', detail: { login: 'alice' } });
  clock.advance(5);
  await b.append({ userId, action: 'render_key_set', outcome: 'success' });
  clock.advance(5);
  // Both processes handle the same request in the same millisecond; b's heads are one append behind (a's).
  await a.append(event);
  const second = await b.append(event);
  t.is(second.seq, 4, 'the second append says it wrote entry 4');
  const entries = (await a.listForUser(userId, { limit: 10 })).entries;
  t.deepEqual(entries.map((e) => [e.seq, e.action]), [[4, 'lifecycle'], [3, 'lifecycle'], [2, 'render_key_set'], [1, 'sign_in']], 'both env var sets are in the user\'s trail');
  t.is((await a.verifyChain('global')).length, 4, 'and in the global chain');
});

test.serial('many identical events from two processes at once (system clock): none is lost', async (t) => {
  const prefix = `${redis.prefix}-burst`;
  const conns = [createRedis(redis.url, 'web'), createRedis(redis.url, 'web'), createRedis(redis.url, 'web')];
  t.teardown(() => { for (const c of conns) c.disconnect(); });
  const logs = conns.map((c) => createAuditLog({ redis: c, prefix, clock: systemClock, keyring }));
  // A failed sign-in has no user: the same caller's attempts are identical entries of the global chain.
  const event = { userId: null, action: 'sign_in_failed' as const, outcome: 'failure' as const, detail: { reason: 'github_login_failed', ip: '198.51.100.7', route: '/api/auth/github/callback', method: 'GET' } };
  const per = 200;
  for (let round = 0; round < per; round++) await Promise.all(logs.map((l) => l.append(event)));
  const verdict = await logs[0]!.verifyChain('global');
  t.true(verdict.valid);
  t.is(verdict.length, per * logs.length, `every attempt is in the global chain (${verdict.length} of ${per * logs.length})`);
});

import test from 'ava';
import { routeId, hourIndex, minuteIndex } from '../../server/telemetry/keys.js';
import { type GuardEntry } from '../../server/telemetry/guards.js';
import { unblock, userTelemetry, type AdminDeps } from '../../server/telemetry/admin.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { adminDepsOn } from './support.js';

// `blocks` quotes what a Redis writer put in a guard entry, so no terminal control reaches the operator's
// screen (adminHostile.test.ts). `telemetry <user>` and `unblock <user>` printed the login telemetry stored
// (tel:u:<id>) and the route names (tel:routes) as they were: a Redis writer's escape sequences (retitle the
// terminal, clear the screen, hide text, move the cursor to rewrite an earlier line) reached the screen.

let redis: TestRedis;
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { await redis?.stop(); });

const NOW = Date.UTC(2026, 10, 2, 9, 0, 5);
const HOSTILE = 'mallory\x1b]0;owned\x07\x1b[2J\x1b[1A\rLifted nothing\u202e';

const deps = (prefix: string): AdminDeps => adminDepsOn(redis.client, prefix, NOW);

// C0/C1 controls (Cc) and format characters such as bidi overrides (Cf).
const controls = (lines: string[]) => lines.join('\n').split('\n').filter((l) => /[\p{Cc}\p{Cf}]/u.test(l));

test('telemetry id:<n>: a login and a route name a Redis writer chose are printed without terminal controls', async (t) => {
  const d = deps(`${redis.prefix}tel`);
  const userId = 5151;
  const rid = routeId('GET', '/api/x');
  await redis.client.hset(d.keys.user(userId), 'login', HOSTILE);
  await redis.client.hset(d.keys.routes, rid, `GET /api/x${HOSTILE}`);
  await redis.client.hset(d.keys.hour(userId, hourIndex(NOW)), `${rid}.s2`, '3', `${rid}.l0`, '3');
  await redis.client.hset(d.keys.minutes(userId, Math.floor(minuteIndex(NOW) / 60)), `${minuteIndex(NOW) % 60}.n`, '3');
  const out = await userTelemetry(d, `id:${userId}`);
  t.deepEqual(controls(out), [], 'no line carries a control character');
});

test('unblock id:<n>: the login it names is printed without terminal controls', async (t) => {
  const d = deps(`${redis.prefix}unb`);
  const userId = 5252;
  await redis.client.hset(d.keys.user(userId), 'login', HOSTILE);
  const entry: GuardEntry = { state: 'blocked', until: NOW + 3_600_000, since: NOW, strikes: 3, signal: 'requests', observed: 900, threshold: 300, login: 'mallory' };
  await d.store.set(userId, entry);
  const said = await unblock(d, `id:${userId}`);
  t.regex(said, /^Lifted the block of/);
  t.deepEqual(controls([said]), [], 'no control character in what the operator is told');
});

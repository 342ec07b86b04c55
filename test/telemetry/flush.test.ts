import test from 'ava';
import { Redis } from 'ioredis';
import { createLogger } from '../../server/logger.js';
import { hourIndex, minuteIndex, routeId, telemetryKeys } from '../../server/telemetry/keys.js';
import { createRecorder } from '../../server/telemetry/recorder.js';
import { DEFAULT_TELEMETRY } from '../../server/telemetry/options.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

// What a flush writes, and what it costs the process: every user's counts go in one script call
// (per 200 users), not ~12 commands per user (a command object, a promise and a reply each).
let redis: TestRedis;
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { await redis?.stop(); });

const settings = DEFAULT_TELEMETRY;
const HOUR_TTL = settings.hourRetentionDays * 86_400 + 3_600;
const MINUTE_TTL = (settings.minuteRetentionHours + 1) * 3_600;

test('a flush writes every count, sketch, login and TTL, in one command for its users', async (t) => {
  const conn = new Redis(redis.url, { enableAutoPipelining: true });
  const sent: string[] = [];
  const send = conn.sendCommand.bind(conn);
  conn.sendCommand = (cmd, stream) => { sent.push(cmd.name); return send(cmd, stream); };
  try {
    // The connection's setup and the script's first load (EVAL after NOSCRIPT) happen before.
    const warm = createRecorder({ redis: conn, keys: telemetryKeys(`${redis.prefix}w`), settings, logger: createLogger({ level: 'silent' }), flushMs: 3_600_000 });
    warm.record({ userId: 9, login: null, method: 'GET', route: '/api/session', status: 200, ms: 1, at: Date.now(), target: null, deploy: false });
    await warm.flush();
    sent.length = 0;
    const keys = telemetryKeys(`${redis.prefix}f`);
    const recorder = createRecorder({ redis: conn, keys, settings, logger: createLogger({ level: 'silent' }), flushMs: 3_600_000 });
    const at = Date.UTC(2026, 10, 20, 12, 34, 5);
    const [min, hour] = [minuteIndex(at), hourIndex(at)];
    const deploy = routeId('POST', '/api/render/deploy');
    const list = routeId('GET', '/api/render/services');
    recorder.record({ userId: 1, login: 'Ann', method: 'POST', route: '/api/render/deploy', status: 202, ms: 12, at, target: 'ann/shop', deploy: true });
    recorder.record({ userId: 1, login: 'Ann', method: 'POST', route: '/api/render/deploy', status: 429, ms: 3, at, target: 'ann/blog', deploy: true });
    recorder.record({ userId: 1, login: 'Ann', method: 'GET', route: '/api/render/services', status: 404, ms: 700, at: at + 60_000, target: null, deploy: false });
    recorder.record({ userId: 2, login: null, method: 'GET', route: '/api/render/services', status: 500, ms: 6_000, at, target: null, deploy: false });
    await recorder.flush();
    t.deepEqual(sent, ['evalsha'], 'one script call (EVALSHA) for both users');

    const c = redis.client;
    t.deepEqual(await c.hgetall(keys.minutes(1, hour)), { '34.n': '2', '34.d': '2', '34.r': '1', '35.n': '1', '35.p': '1' });
    t.deepEqual(await c.hgetall(keys.hour(1, hour)), { [`${deploy}.s2`]: '1', [`${deploy}.s4`]: '1', [`${deploy}.l0`]: '1', [`${deploy}.l1`]: '1', [`${list}.s4`]: '1', [`${list}.l3`]: '1' });
    t.deepEqual(await c.hgetall(keys.minutes(2, hour)), { '34.n': '1', '34.x': '1' });
    t.deepEqual(await c.hgetall(keys.hour(2, hour)), { [`${list}.s5`]: '1', [`${list}.l5`]: '1' });
    t.is(await c.pfcount(keys.targets(1, min)), 2);
    t.is(await c.exists(keys.targets(1, min + 1), keys.targets(2, min)), 0);
    t.is(await c.zscore(keys.active, '1'), String(min + 1));
    t.is(await c.zscore(keys.active, '2'), String(min));
    t.deepEqual(await c.hgetall(keys.user(1)), { login: 'Ann' });
    t.is(await c.get(keys.login('ann')), '1');
    t.is(await c.exists(keys.user(2)), 0);
    t.deepEqual(await c.hgetall(keys.routes), { [deploy]: 'POST /api/render/deploy', [list]: 'GET /api/render/services' });
    const ttl = async (k: string) => c.ttl(k);
    for (const k of [keys.minutes(1, hour), keys.minutes(2, hour)]) t.true(Math.abs((await ttl(k)) - MINUTE_TTL) <= 2, k);
    for (const k of [keys.hour(1, hour), keys.hour(2, hour), keys.user(1), keys.login('ann')]) t.true(Math.abs((await ttl(k)) - HOUR_TTL) <= 2, k);
    t.true(Math.abs((await ttl(keys.targets(1, min))) - 30 * 60) <= 2);

    // Counts add up across flushes; the active minute never goes back.
    sent.length = 0;
    recorder.record({ userId: 1, login: 'Ann', method: 'POST', route: '/api/render/deploy', status: 202, ms: 20, at, target: 'ann/shop', deploy: true });
    await recorder.flush();
    t.deepEqual(sent, ['evalsha']);
    t.is(await c.hget(keys.minutes(1, hour), '34.n'), '3');
    t.is(await c.hget(keys.hour(1, hour), `${deploy}.s2`), '2');
    t.is(await c.zscore(keys.active, '1'), String(min + 1));
    t.is(await c.pfcount(keys.targets(1, min)), 2);
  } finally {
    conn.disconnect();
  }
});

test('a key of the wrong type costs only its own counts: the rest of its users\' script call is written, and it is logged', async (t) => {
  const keys = telemetryKeys(`${redis.prefix}wrong`);
  const lines: string[] = [];
  const logger = createLogger({ level: 'warn', destination: { write: (line: string) => { lines.push(line); } } });
  const recorder = createRecorder({ redis: redis.client, keys, settings, logger, flushMs: 3_600_000 });
  const at = Date.UTC(2026, 10, 20, 12, 34, 5);
  const hour = hourIndex(at);
  // One script call of 150 users (a chunk is 200); user 40's per-route hash is someone's string.
  await redis.client.set(keys.hour(40, hour), 'not a hash');
  const ids = Array.from({ length: 150 }, (_, i) => i + 1);
  for (const id of ids) recorder.record({ userId: id, login: `user${id}`, method: 'GET', route: '/api/session', status: 200, ms: 1, at, target: null, deploy: false });
  await recorder.flush();

  const route = routeId('GET', '/api/session');
  const c = redis.client;
  for (const id of ids) {
    t.deepEqual(await c.hgetall(keys.minutes(id, hour)), { '34.n': '1' }, `user ${id}'s minute counts`);
    t.is(await c.hget(keys.user(id), 'login'), `user${id}`, `user ${id}'s login`);
    if (id !== 40) t.deepEqual(await c.hgetall(keys.hour(id, hour)), { [`${route}.s2`]: '1', [`${route}.l0`]: '1' }, `user ${id}'s route counts`);
  }
  t.is(await c.zcard(keys.active), ids.length);
  t.is(await c.get(keys.hour(40, hour)), 'not a hash', 'the other writer\'s key is left as it was');
  t.is(await c.ttl(keys.hour(40, hour)), -1, 'and its expiry too');
  t.deepEqual(await c.hgetall(keys.routes), { [route]: 'GET /api/session' });

  const warned = lines.map((l) => JSON.parse(l) as { msg: string; users?: number[]; err?: { message: string } }).filter((l) => l.msg.startsWith('telemetry flush'));
  t.is(warned.length, 1, lines.join(''));
  t.deepEqual(warned[0]!.users, [40]);
  t.regex(warned[0]!.err!.message, /WRONGTYPE/);
  t.false(lines.join('').includes('not a hash'), 'the key\'s value is not logged');
});

// The bench's day of traffic: 200 users flushed once an hour. One script call of all their counts
// (~120,000 arguments, spread into the call) overflowed the call stack and every count was lost.
test('an hour of 200 users\' counts, flushed at once, is written in full', async (t) => {
  const keys = telemetryKeys(`${redis.prefix}big`);
  const warnings: string[] = [];
  const logger = createLogger({ level: 'warn', destination: { write: (line: string) => { warnings.push(line); return true; } } as unknown as NodeJS.WritableStream });
  const recorder = createRecorder({ redis: redis.client, keys, settings, logger, flushMs: 3_600_000 });
  const routes = ['/api/session', '/api/render/services', '/api/render/deployments/:id', '/api/events', '/api/render/my-deployments', '/api/audit'];
  const start = Date.UTC(2026, 10, 20, 8, 0, 0);
  const users = 200;
  for (let minute = 0; minute < 60; minute++) {
    for (let u = 1; u <= users; u++) {
      for (let r = 0; r < 10; r++) {
        recorder.record({ userId: u, login: `user${u}`, method: 'GET', route: routes[(u + r) % routes.length]!, status: r === 9 ? 404 : 200, ms: 3 + ((u * r) % 400), at: start + minute * 60_000 + r * 1_000, target: r === 3 ? `r:user${u}/app${minute % 4}` : null, deploy: false });
      }
    }
  }
  await recorder.flush();
  t.deepEqual(warnings, []);
  const hour = hourIndex(start);
  const c = redis.client;
  for (let u = 1; u <= users; u++) {
    const minutes = await c.hgetall(keys.minutes(u, hour));
    t.is(minutes['0.n'], '10', `user ${u}: first minute`);
    t.is(minutes['59.n'], '10', `user ${u}: last minute`);
    const hourly = Object.entries(await c.hgetall(keys.hour(u, hour)));
    t.is(hourly.filter(([f]) => f.endsWith('.s2') || f.endsWith('.s4')).reduce((n, [, v]) => n + Number(v), 0), 600, `user ${u}: every request in the hour's per-route counts`);
    t.is(await c.get(keys.login(`user${u}`)), String(u));
  }
  await recorder.close();
});

import test from 'ava';
import fc from 'fast-check';
import { createLogger } from '../../server/logger.js';
import { manualClock } from '../../server/clock.js';
import { telemetryKeys } from '../../server/telemetry/keys.js';
import { createRecorder } from '../../server/telemetry/recorder.js';
import { createGuardStore } from '../../server/telemetry/guards.js';
import { createDetector } from '../../server/telemetry/detector.js';
import { DEFAULT_TELEMETRY, resolveDetector } from '../../server/telemetry/options.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { dumpRedis } from '../helpers/stack.js';

// Serial: each case empties Redis and counts every key in it.
// Telemetry memory is bounded whatever the traffic: keys per user are bounded by the retention
// windows, every key expires within its retention, field names come from a fixed vocabulary (route
// ids of templates, never paths), and what a request names (repositories, services) is never stored.

let redis: TestRedis;
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { await redis?.stop(); });

const settings = DEFAULT_TELEMETRY;
const logger = createLogger({ level: 'silent' });
const TEMPLATES = ['/api/session', '/api/render/deploy', '/api/render/deployments/:id', '/api/render/services/:id/redeploy', '/api/github/repos/:owner/:repo/detect', '/api/events', 'unmatched'];
const HOUR_TTL = settings.hourRetentionDays * 86_400 + 3_600;
const TTL_OF: Record<string, number> = { m: (settings.minuteRetentionHours + 1) * 3_600, h: HOUR_TTL, t: 30 * 60, u: HOUR_TTL, login: HOUR_TTL };
/**
 * In steady state (requests stamped "now", keys expiring by their TTL) one user holds at most: a
 * minute-signal hash per retained hour, a per-route hash per retained hour, 30 minutes of target
 * sketches, profile and login. The generator stamps requests anywhere in the last 14 days at once,
 * so here the exact bound is per distinct hour and target minute, and the TTLs give the steady state.
 */
const MAX_KEYS_PER_USER = (settings.minuteRetentionHours + 1) + (settings.hourRetentionDays * 24 + 1) + 31 + 2;

const shape = fc.record({
  users: fc.integer({ min: 1, max: 10_000 }),
  perUser: fc.integer({ min: 1, max: 3 }),
  heavyUsers: fc.integer({ min: 0, max: 3 }),
  heavyRequests: fc.integer({ min: 100, max: 3_000 }),
  spanMinutes: fc.integer({ min: 1, max: settings.hourRetentionDays * 24 * 60 }),
  routes: fc.array(fc.constantFrom(...TEMPLATES), { minLength: 1, maxLength: TEMPLATES.length }),
  statuses: fc.array(fc.constantFrom(200, 202, 204, 302, 400, 401, 403, 404, 409, 413, 429, 500, 503), { minLength: 1, maxLength: 6 }),
  methods: fc.array(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'), { minLength: 1, maxLength: 3 }),
  // Hostile things a request may name: they must never reach Redis.
  targets: fc.array(fc.string({ minLength: 12, maxLength: 40 }).map((x) => `MARK${x}`), { maxLength: 4 }),
  latencies: fc.array(fc.double({ min: 0, max: 120_000, noNaN: true }), { minLength: 1, maxLength: 4 }),
});

const MINUTE_FIELD = /^(\d|[1-5]\d)\.[npdrx]$/;
const ROUTE_FIELD = /^[A-Za-z0-9_-]{6}\.(s[1-5]|l[0-5])$/;
const KEY = /^[a-z0-9]+:tel:(m:\d+:\d+|h:\d+:\d+|t:\d+:\d+|u:\d+|login:[a-z0-9-]+|active|routes)$/;

test.serial('telemetry keys stay bounded for up to 10,000 users, whatever the traffic shape (fast-check)', async (t) => {
  t.timeout(600_000);
  let runNo = 0;
  await fc.assert(fc.asyncProperty(shape, async (sh) => {
    const prefix = `b${runNo++}`;
    const keys = telemetryKeys(prefix);
    const recorder = createRecorder({ redis: redis.client, keys, settings, logger, flushMs: 3_600_000, maxPendingUsers: 20_000 });
    const now = Date.UTC(2026, 10, 20, 12, 0, 0);
    const pick = <T>(xs: T[], i: number) => xs[i % xs.length]!;
    let i = 0;
    const touched = new Map<number, { hours: Set<number>; targetMinutes: Set<number> }>();
    const one = (userId: number, at: number) => {
      const route = pick(sh.routes, i);
      const tu = touched.get(userId) ?? { hours: new Set<number>(), targetMinutes: new Set<number>() };
      touched.set(userId, tu);
      tu.hours.add(Math.floor(at / 3_600_000));
      if (sh.targets.length && route !== 'unmatched') tu.targetMinutes.add(Math.floor(at / 60_000));
      recorder.record({
        userId, login: `user${userId}`, method: pick(sh.methods, i), route, status: pick(sh.statuses, i + userId), ms: pick(sh.latencies, i),
        at, target: sh.targets.length && route !== 'unmatched' ? pick(sh.targets, i) : null, deploy: route === '/api/render/deploy',
      });
      i++;
    };
    for (let u = 1; u <= sh.users; u++) for (let r = 0; r < sh.perUser; r++) one(u, now - ((u * 7919 + r * 104729) % sh.spanMinutes) * 60_000);
    for (let h = 0; h < sh.heavyUsers; h++) for (let r = 0; r < sh.heavyRequests; r++) one(1_000_000 + h, now - Math.floor((r / sh.heavyRequests) * sh.spanMinutes) * 60_000);
    await recorder.close();

    const all: string[] = [];
    let cursor = '0';
    do { const [next, batch] = await redis.client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 5_000); cursor = next; all.push(...batch); } while (cursor !== '0');
    const users = sh.users + sh.heavyUsers;
    const bound = (tu: { hours: Set<number>; targetMinutes: Set<number> }) => 2 * tu.hours.size + tu.targetMinutes.size + 2;
    t.true(all.length <= [...touched.values()].reduce((a, tu) => a + bound(tu), 0) + 2, `${all.length} keys for ${users} users`);
    const perUser = new Map<string, number>();
    for (const k of all) {
      t.regex(k, KEY);
      const id = /:(?:[mht]:|u:)(\d+)/.exec(k)?.[1];
      if (id) perUser.set(id, (perUser.get(id) ?? 0) + 1);
    }
    for (const [id, n] of perUser) {
      if (n > bound(touched.get(Number(id))!)) t.fail(`user ${id}: ${n} keys for ${touched.get(Number(id))!.hours.size} hours`);
      // Requests stamped within the minute retention only need what steady state allows.
      if ([...touched.get(Number(id))!.hours].every((h) => h >= Math.floor(now / 3_600_000) - settings.minuteRetentionHours)) t.true(n <= MAX_KEYS_PER_USER);
    }
    t.true((await redis.client.zcard(keys.active)) <= users);
    const routeIds = await redis.client.hgetall(keys.routes);
    t.true(Object.keys(routeIds).length <= TEMPLATES.length * 6, 'route ids: one per method and template');
    for (const v of Object.values(routeIds)) t.true(TEMPLATES.includes(v.slice(v.indexOf(' ') + 1)), v);

    // Fields and TTLs on a sample of keys (checking all 50,000 would dominate the run).
    const sample = all.filter((_, j) => j % Math.max(1, Math.floor(all.length / 400)) === 0);
    const pipe = redis.client.pipeline();
    for (const k of sample) { pipe.ttl(k); pipe.type(k); }
    const res = (await pipe.exec())!;
    for (let j = 0; j < sample.length; j++) {
      const k = sample[j]!;
      const ttl = res[j * 2]![1] as number;
      const family = /:tel:([a-z]+)/.exec(k)![1]!;
      if (TTL_OF[family]) t.true(ttl > 0 && ttl <= TTL_OF[family], `${k} TTL ${ttl}`);
      if (k.includes(':tel:m:')) for (const f of await redis.client.hkeys(k)) t.regex(f, MINUTE_FIELD);
      if (k.includes(':tel:h:')) for (const f of await redis.client.hkeys(k)) { t.regex(f, ROUTE_FIELD); t.truthy(routeIds[f.slice(0, 6)]); }
    }
    if (sh.targets.length && all.length < 3_000) {
      const dump = await dumpRedis(redis.client);
      for (const x of sh.targets) t.false(dump.includes(x), 'a named repository or service is never stored');
    }
    await redis.client.flushall();
  }), { numRuns: 8, seed: 1818 });
});

test.serial('10,000 active users in one minute: keys, bytes per active user, and one detector pass over all of them', async (t) => {
  t.timeout(600_000);
  const prefix = 'ten';
  const keys = telemetryKeys(prefix);
  const clock = manualClock(Date.UTC(2026, 10, 20, 12, 0, 5));
  const recorder = createRecorder({ redis: redis.client, keys, settings, logger, flushMs: 3_600_000, maxPendingUsers: 20_000 });
  const before = Number(/used_memory:(\d+)/.exec(await redis.client.info('memory'))![1]);
  for (let u = 1; u <= 10_000; u++) {
    for (let r = 0; r < 12; r++) {
      recorder.record({ userId: u, login: `user${u}`, method: r % 4 ? 'GET' : 'POST', route: TEMPLATES[r % 5]!, status: r === 7 ? 404 : 200, ms: 5 + r * 20, at: clock.now(), target: r % 3 ? null : `r:user${u}/app${r}`, deploy: r === 1 });
    }
  }
  await recorder.close();
  const after = Number(/used_memory:(\d+)/.exec(await redis.client.info('memory'))![1]);
  const keyCount = (await redis.client.keys(`${prefix}:*`)).length;
  t.true(keyCount <= 10_000 * 5 + 2, `${keyCount} keys`);
  t.log(`one active minute of 10,000 users (12 requests each, 5 routes): ${keyCount} keys, ${Math.round((after - before) / 10_000)} bytes per user`);

  const detector = createDetector({
    redis: redis.client, keys, store: createGuardStore(redis.client, keys), settings, stats: resolveDetector({ settleMs: 0 }), clock, logger,
  });
  clock.advance(60_000);
  const run = await detector.run();
  t.is(run.evaluated, 10_000);
  t.deepEqual(run.actions, [], 'ordinary traffic triggers nothing');
  t.is((await redis.client.keys(`${prefix}:tel:b:*`)).length, 10_000, 'one baseline per user');
  await redis.client.flushall();
});

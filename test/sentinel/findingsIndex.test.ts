import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { createKeyring } from '../../server/crypto/keyring.js';
import type { Logger } from '../../server/logger.js';
import { createSentinelAlerts } from '../../server/sentinel/alerts.js';
import { createSentinelStore, MAX_FINDINGS } from '../../server/sentinel/store.js';
import type { Finding, Severity } from '../../server/sentinel/types.js';
import { startMonitor } from '../helpers/redisMonitor.js';
import { startTestRedis } from '../helpers/redis.js';

// Past MAX_FINDINGS (500) the oldest low findings go first, then medium, then high (findingsFlood).
// Which ones went was found by reading the kept findings themselves, oldest first (HGET and a JSON decode
// each), until enough low ones were found: with the kept findings mostly medium or high (a crash-looping
// service makes a high finding per event and fills the cap in hours), every later write read all 500,
// inside the Redis every tenant shares (~10 ms a write with 4 KB findings; a round writes up to ~100).
// The findings are now also indexed by how they go (`evict`: severity, then last seen), kept beside `order`
// by every script that changes it; findings written before the index are indexed once, by the next write.

const MIN = 60_000;
const T0 = Date.parse('2026-12-01T00:00:00Z');
const RANK: Record<Severity, number> = { low: 1, medium: 2, high: 3 };

const finding = (id: string, severity: Severity, atMs: number, pad = 0): Finding => {
  const at = new Date(atMs).toISOString();
  return { id, kind: 'service_event', rule: `probe_${severity}`, severity, title: `a ${severity} finding`, ownerId: null, serviceId: 'srv-index',
    count: 1, firstAt: at, lastAt: at, ...(pad ? { firstLine: 'x'.repeat(pad) } : {}) };
};

async function setup(t: ExecutionContext) {
  const r = await startTestRedis();
  t.teardown(() => r.stop());
  const store = createSentinelStore({ redis: r.client, prefix: r.prefix, keyring: createKeyring(randomBytes(32)), absoluteMs: 3_600_000 });
  const keys = store.keys;
  await r.client.hset(keys.settings(1), 'gen', 'g1');
  const { round, locked } = await store.beginRound(1, 10 * MIN);
  t.true(locked);
  /** The index holds exactly `order`'s members, each at its severity's rank * 1e13 + its `order` score. */
  const consistent = async (what: string) => {
    const [order, evict, kept] = await Promise.all([
      r.client.zrange(keys.order(1), '0', '-1', 'WITHSCORES'), r.client.zrange(keys.evict(1), '0', '-1', 'WITHSCORES'), r.client.hgetall(keys.findings(1)),
    ]);
    const expected = new Map<string, number>();
    for (let i = 0; i < order.length; i += 2) {
      const raw = kept[order[i]!];
      expected.set(order[i]!, (raw ? RANK[(JSON.parse(raw) as Finding).severity] : 1) * 1e13 + Number(order[i + 1]));
    }
    const actual = new Map<string, number>();
    for (let i = 0; i < evict.length; i += 2) actual.set(evict[i]!, Number(evict[i + 1]));
    t.deepEqual([...actual].sort(), [...expected].sort(), `the index is consistent: ${what}`);
    t.deepEqual(Object.keys(kept).sort(), [...expected.keys()].sort(), `the findings are those in order: ${what}`);
  };
  return { r, store, keys, round, consistent };
}

test('writes past the cap with every kept finding high read no finding (no HGET), however many are kept', async (t) => {
  const { r, store, keys, round, consistent } = await setup(t);
  for (let i = 0; i < MAX_FINDINGS; i++) await store.upsert(1, round, finding(`fnd_high_${i}`, 'high', T0 + i * 1000, 4096), false);
  t.is(await store.countFindings(1), MAX_FINDINGS);

  // Every command Redis runs (Lua's included) on this user's findings hash.
  const monitor = await startMonitor(r.url);
  t.teardown(() => monitor.stop());
  const seen: string[][] = [];
  let marked = false;
  const marker = `${r.prefix}:findingsIndex:done`;
  monitor.on((args) => {
    if (args[1] === marker) marked = true;
    else if (args[1] === keys.findings(1)) seen.push(args);
  });

  const OVER = 100;
  let reportedNew = 0;
  for (let i = 0; i < OVER; i++) {
    // High ones (each pushes out the oldest high one) and low ones (each, the least severe, goes itself).
    const severity: Severity = i % 2 === 0 ? 'high' : 'low';
    if (await store.upsert(1, round, finding(`fnd_more_${i}`, severity, T0 + (MAX_FINDINGS + i) * 1000, 4096), false)) reportedNew += 1;
  }
  await r.client.get(marker);
  for (let i = 0; i < 200 && !marked; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  t.true(marked, 'the monitor saw every command');

  const hgets = seen.filter((args) => args[0]!.toLowerCase() === 'hget').length;
  // Before the index: ~500 (every kept finding) at each of the 100 writes.
  t.is(hgets, 0, 'no finding read to choose which go');
  t.is(reportedNew, OVER / 2, 'the high ones are new; a low one that went itself is not');
  t.is(await store.countFindings(1), MAX_FINDINGS);
  const kept = await store.listFindings(1, MAX_FINDINGS);
  t.true(kept.every((f) => f.severity === 'high'), 'only high findings are kept');
  t.is(await store.getFinding(1, 'fnd_high_49'), null, 'the oldest high ones went');
  t.truthy(await store.getFinding(1, 'fnd_high_50'));
  t.is(await r.client.hlen(keys.unreported(1)), MAX_FINDINGS + OVER / 2, 'a low one that went is not noted unreported');
  await consistent('after the writes past the cap');
});

test('findings written before the index (no evict key) still go by severity, and are indexed', async (t) => {
  const { r, store, keys, round, consistent } = await setup(t);
  // As the previous version left them: the findings hash and `order`, no index. The low ones are the newest.
  const write = r.client.multi();
  for (let i = 0; i < MAX_FINDINGS - 1; i++) {
    const f = finding(`fnd_old_${i}`, i < 300 ? 'high' : i < 400 ? 'medium' : 'low', T0 + i * 1000);
    write.hset(keys.findings(1), f.id, JSON.stringify(f)).zadd(keys.order(1), Date.parse(f.lastAt), f.id);
  }
  // One unreadable (the 500th): counted as low, and older than every other low one.
  write.hset(keys.findings(1), 'fnd_old_garbled', '{not json').zadd(keys.order(1), T0 + 350_500, 'fnd_old_garbled');
  await write.exec();
  t.is(await r.client.exists(keys.evict(1)), 0);

  t.true(await store.upsert(1, round, finding('fnd_new_0', 'medium', T0 + 600_000), false));
  t.is(await store.countFindings(1), MAX_FINDINGS);
  t.is(await r.client.hexists(keys.findings(1), 'fnd_old_garbled'), 0, 'the unreadable one (low, the oldest of them) went first');
  t.truthy(await store.getFinding(1, 'fnd_old_400'), 'the oldest readable low one stays');
  t.truthy(await store.getFinding(1, 'fnd_old_0'), 'the oldest (high) stays');
  await consistent('indexed by the first write');

  t.true(await store.upsert(1, round, finding('fnd_new_1', 'high', T0 + 601_000), false));
  t.is(await store.getFinding(1, 'fnd_old_400'), null, 'then the oldest low one');
  t.truthy(await store.getFinding(1, 'fnd_old_401'));

  // The index lost (deleted), or missing a finding an older process wrote during a rolling upgrade.
  await r.client.del(keys.evict(1));
  t.true(await store.upsert(1, round, finding('fnd_new_2', 'high', T0 + 602_000), false));
  t.is(await store.getFinding(1, 'fnd_old_401'), null, 'the next oldest low one went');
  await consistent('indexed again after the key was lost');
  const older = finding('fnd_old_process', 'low', T0 + 100);
  await r.client.multi().hset(keys.findings(1), older.id, JSON.stringify(older)).zadd(keys.order(1), Date.parse(older.lastAt), older.id).exec();
  t.true(await store.upsert(1, round, finding('fnd_new_3', 'high', T0 + 603_000), false));
  // It made 501: this write makes 502, and two go.
  t.is(await store.getFinding(1, older.id), null, 'the low one an older process wrote went first');
  t.is(await store.getFinding(1, 'fnd_old_402'), null, 'then the oldest low one');
  t.truthy(await store.getFinding(1, 'fnd_old_403'));
  t.is(await store.countFindings(1), MAX_FINDINGS);
  await consistent('after a finding an older process wrote');

  // Only low findings left to go past the high ones: then medium, oldest first.
  for (let i = 4; i < 100; i++) await store.upsert(1, round, finding(`fnd_new_${i}`, 'high', T0 + 600_000 + i * 1000), false);
  t.is((await store.listFindings(1, MAX_FINDINGS)).filter((f) => f.severity === 'low').length, 0, 'every low one went');
  t.truthy(await store.getFinding(1, 'fnd_old_300'));
  t.true(await store.upsert(1, round, finding('fnd_new_101', 'high', T0 + 800_000), false));
  t.is(await store.getFinding(1, 'fnd_old_300'), null, 'then the oldest medium one');
  t.truthy(await store.getFinding(1, 'fnd_old_301'));
  await consistent('after the low ones went');
});

test('the index stays consistent through stale removal, takeBack, and an off and on that takes a finding back', async (t) => {
  const { r, store, keys, round, consistent } = await setup(t);
  const DAY = 86_400_000;
  for (let i = 0; i < 10; i++) await store.upsert(1, round, finding(`fnd_a_${i}`, i % 3 === 0 ? 'low' : i % 3 === 1 ? 'medium' : 'high', T0 + i * DAY), false);
  await consistent('after writes');

  // Written again, not replaced (the stored one is indexed, with its new last-seen score), and replaced.
  await store.upsert(1, round, finding('fnd_a_0', 'low', T0 + 10 * DAY), false);
  await store.upsert(1, round, { ...finding('fnd_a_1', 'high', T0 + 10 * DAY), count: 2 }, true);
  await consistent('after writes of kept findings');

  // 30 days after last seen: the first ones (last seen at T0 + 1..4 days) go with this write.
  await store.upsert(1, round, finding('fnd_b_0', 'high', T0 + 35 * DAY), false, { nowMs: T0 + 35 * DAY });
  t.is(await store.getFinding(1, 'fnd_a_2'), null, 'a stale one went');
  t.truthy(await store.getFinding(1, 'fnd_a_0'), 'the one seen again stays');
  await consistent('after stale removal');

  await store.takeBack(1, round, 'fnd_b_0');
  t.is(await r.client.zscore(keys.evict(1), 'fnd_b_0'), null, 'taken back from the index too');
  await consistent('after takeBack');
  await store.upsert(1, round, finding('fnd_b_1', 'medium', T0 + 35 * DAY), false);
  await store.takeBack(1, round, 'fnd_b_1', { audited: true });
  await consistent('after takeBack (audited)');

  // Off and on again mid-round: the round's alert is refused and its finding taken back (alerts.ts).
  const written = finding('fnd_c_0', 'high', T0 + 36 * DAY);
  t.true(await store.upsert(1, round, written, false));
  await store.dropWatch(1);
  await r.client.hset(keys.settings(1), 'gen', 'g2');
  const alerts = createSentinelAlerts({ redis: r.client, prefix: r.prefix, logger: { warn() {}, info() {}, error() {} } as unknown as Logger });
  t.false(await alerts.notify(1, null, written, round));
  t.is(await store.getFinding(1, written.id), null, 'taken back for the new watch to find');
  t.is(await r.client.zscore(keys.evict(1), written.id), null, 'and from the index');
  // The next round, of the watch turned on again, writes it again: the index is whole again.
  await store.releaseLock(1, round);
  const next = await store.beginRound(1, 10 * MIN);
  t.true(await store.upsert(1, next.round, finding('fnd_c_1', 'low', T0 + 36 * DAY), false));
  await consistent('after off and on');
  const before = await r.client.zcard(keys.evict(1));
  await store.dropWatch(1);
  t.is(await r.client.zcard(keys.evict(1)), before, 'findings (and their index) outlive the watch, as its order does');
  t.is(await r.client.ttl(keys.evict(1)), await r.client.ttl(keys.order(1)), 'and expire with it');
});

// The finding written went in its own write whenever it sorted first: a high one read late (an older backlog
// page of events, last seen before every kept one) with the cap full of high findings, or a medium one with
// the cap full of high ones. Not new, it was never audited, alerted or shown. A medium or high finding written
// now stays (the next in line goes), and is new; a low one still goes itself, not new.
test('a medium or high finding written past a cap of later high ones stays and is new; a low one goes itself', async (t) => {
  const { store, round, consistent } = await setup(t);
  for (let i = 0; i < MAX_FINDINGS; i++) await store.upsert(1, round, finding(`fnd_high_${i}`, 'high', T0 + i * 1000), false);
  for (const [id, severity, at] of [['fnd_late_high', 'high', T0 - 2000], ['fnd_late_medium', 'medium', T0 - 1000]] as const) {
    t.true(await store.upsert(1, round, finding(id, severity, at), false), `${id} is new`);
    t.truthy(await store.getFinding(1, id), `${id} is kept`);
  }
  t.is(await store.getFinding(1, 'fnd_high_0'), null, 'the oldest high ones made room');
  t.false(await store.upsert(1, round, finding('fnd_late_low', 'low', T0 + MAX_FINDINGS * 1000), false), 'a low one is not new');
  t.is(await store.getFinding(1, 'fnd_late_low'), null);
  t.is(await store.countFindings(1), MAX_FINDINGS);
  await consistent('after the late findings');
});

import test from 'ava';
import { spawnSync } from 'node:child_process';
import { createLogger } from '../../server/logger.js';
import { manualClock } from '../../server/clock.js';
import { createSlackAlerter } from '../../server/alerts/slack.js';
import { createSecurityEvents } from '../../server/security/events.js';
import { createRecorder } from '../../server/telemetry/recorder.js';
import { type GuardEntry } from '../../server/telemetry/guards.js';
import { AdminError, listBlocks, unblock, type AdminDeps } from '../../server/telemetry/admin.js';
import { DEFAULT_TELEMETRY, resolveDetector } from '../../server/telemetry/options.js';
import { createDetector } from '../../server/telemetry/detector.js';
import { TEST_DETECTOR } from './support.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { adminDepsOn } from './support.js';

// The operator CLI's commands (scripts/admin.ts) on a real Redis: which user an argument names.
let redis: TestRedis;
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { await redis?.stop(); });

const NOW = Date.UTC(2026, 10, 2, 9, 0, 5);

const adminDeps = async (prefix: string): Promise<AdminDeps> => adminDepsOn(redis.client, prefix, NOW);

/** A user seen by telemetry (its login mapping written by the recorder's flush), blocked by the detector. */
async function blockedUser(d: AdminDeps, userId: number, login: string) {
  const recorder = createRecorder({ redis: redis.client, keys: d.keys, settings: d.settings, logger: createLogger({ level: 'silent' }), flushMs: 3_600_000 });
  recorder.record({ userId, login, method: 'GET', route: '/api/session', status: 200, ms: 1, at: NOW, target: null, deploy: false });
  await recorder.close();
  const entry: GuardEntry = { state: 'blocked', until: NOW + 3_600_000, since: NOW, strikes: 3, signal: 'requests', observed: 900, threshold: 300, login };
  await d.store.set(userId, entry);
}

test('unblock <login> lifts that login\'s block, also when the login is all digits (GitHub allows it) and another user has that number as id', async (t) => {
  const d = await adminDeps(`${redis.prefix}a`);
  await blockedUser(d, 777001, '4242');
  await blockedUser(d, 4242, 'someone-else');
  const said = await unblock(d, '4242');
  t.regex(said, /Lifted the block of 4242 \(id 777001\)/);
  t.is(await d.store.get(777001), null, 'the login 4242 is unblocked');
  t.like(await d.store.get(4242), { state: 'blocked' }, 'the user whose id is 4242 stays blocked');
  // An id is still accepted, said as one.
  t.regex(await unblock(d, 'id:4242'), /Lifted the block of someone-else \(id 4242\)/);
  t.is(await d.store.get(4242), null);
});

test('two unblocks of one block at once: one lifts it and is audited, the other says there was none', async (t) => {
  const d = await adminDeps(`${redis.prefix}race`);
  await blockedUser(d, 777101, 'twice');
  // Each read the block before either removed it: both said "Lifted" and both were audited.
  const said = await Promise.all([unblock(d, 'twice'), unblock(d, 'twice')]);
  t.is(said.filter((s) => /Lifted the block/.test(s)).length, 1, said.join(' | '));
  t.is(said.filter((s) => /neither throttled nor blocked/.test(s)).length, 1, said.join(' | '));
  const lifted = (await d.audit.listForUser(777101, { limit: 20 })).entries
    .filter((e) => (e.detail as { securityEvent?: string }).securityEvent === 'anomaly_unblocked');
  t.is(lifted.length, 1);
  t.is((lifted[0]!.detail as { reason?: string }).reason, 'operator_lifted_blocked');
  t.is(await d.store.get(777101), null);
});

// The audit append failing after appendable() said it would not (Redis failing between the two, a rotation rolling
// out): the events layer logged it, and the block stayed lifted, unrecorded, the command exiting 0.
test('an unblock whose audit entry cannot be written is undone and says so', async (t) => {
  const d = await adminDeps(`${redis.prefix}unaudited`);
  await blockedUser(d, 777201, 'unrecorded');
  const failing = { ...d.audit, append: () => Promise.reject(new Error('Redis went away')) } as typeof d.audit;
  const logger = createLogger({ level: 'silent' });
  const events = createSecurityEvents({ audit: failing, alerter: createSlackAlerter({ webhookUrl: null, logger }), redis: redis.client, prefix: `${redis.prefix}unaudited`, logger, cooldownSec: 0 });
  const err = await t.throwsAsync(unblock({ ...d, events }, 'unrecorded'), { instanceOf: AdminError });
  t.regex(err.message, /could not be recorded in the audit trail.*undone: unrecorded \(id 777201\) is still blocked/);
  t.is((await d.store.get(777201))?.state, 'blocked', 'the block is in place');
  t.is(await redis.client.exists(d.keys.grace(777201)), 0, 'and no grace period started');
});

/** The user makes a request under another login (a GitHub rename keeps the id): telemetry maps the new login to them. */
async function seenAs(d: AdminDeps, userId: number, login: string) {
  const recorder = createRecorder({ redis: redis.client, keys: d.keys, settings: d.settings, logger: createLogger({ level: 'silent' }), flushMs: 3_600_000 });
  recorder.record({ userId, login, method: 'GET', route: '/api/session', status: 200, ms: 1, at: NOW, target: null, deploy: false });
  await recorder.close();
}

test('unblock <login> lifts the block `blocks` lists under that login, also after a rename gave the login to someone else', async (t) => {
  const d = await adminDeps(`${redis.prefix}ren`);
  await blockedUser(d, 51001, 'rena');
  await seenAs(d, 51001, 'rena-new');
  await seenAs(d, 51002, 'rena');
  t.true((await listBlocks(d)).some((l) => /blocked\s+rena\s+id 51001/.test(l)), 'blocks lists the login the block started with');
  const said = await unblock(d, 'rena');
  t.regex(said, /Lifted the block of rena-new \(id 51001, listed as rena\)/);
  t.regex(said, /rena now belongs to id 51002/);
  t.is(await d.store.get(51001), null, 'the listed user is unblocked');
  t.is(await redis.client.exists(d.keys.grace(51002)), 0, 'the login\'s new holder is left alone');
});

test('unblock <login> that names two blocked users refuses, naming both ids and how to pick one, and changes nothing', async (t) => {
  const d = await adminDeps(`${redis.prefix}amb`);
  await blockedUser(d, 52001, 'ambi');
  await seenAs(d, 52001, 'ambi-renamed');
  await blockedUser(d, 52002, 'ambi');
  const err = await t.throwsAsync(unblock(d, 'ambi'), { instanceOf: AdminError });
  t.regex(err.message, /52001/);
  t.regex(err.message, /52002/);
  t.regex(err.message, /unblock id:/);
  t.regex(err.message, /Nothing was changed/);
  t.like(await d.store.get(52001), { state: 'blocked' });
  t.like(await d.store.get(52002), { state: 'blocked' });
  // The login's current holder blocked under its old login, while the block listed under the login is another user's.
  const e = await adminDeps(`${redis.prefix}amb2`);
  await blockedUser(e, 53001, 'ambo');
  await seenAs(e, 53001, 'ambo-2');
  await blockedUser(e, 53002, 'earlier-name');
  await seenAs(e, 53002, 'ambo');
  const err2 = await t.throwsAsync(unblock(e, 'ambo'), { instanceOf: AdminError });
  t.regex(err2.message, /53001.*53002|53002.*53001/s);
  t.like(await e.store.get(53001), { state: 'blocked' });
  t.like(await e.store.get(53002), { state: 'blocked' });
  t.regex(await unblock(e, 'id:53002'), /Lifted the block of ambo \(id 53002\)/);
});

test('an argument that is neither a login nor id:<number> is refused, quoted so that control characters are not printed raw', async (t) => {
  const d = await adminDeps(`${redis.prefix}b`);
  const err = await t.throwsAsync(unblock(d, 'x\u001b[2J; rm'), { instanceOf: AdminError });
  t.false(err.message.includes('\u001b'), err.message);
  await t.throwsAsync(unblock(d, 'id:'), { instanceOf: AdminError });
  await t.throwsAsync(unblock(d, 'nobody-here'), { instanceOf: AdminError, message: /no telemetry for nobody-here/ });
});

test('the CLI refuses missing, unknown and extra arguments with its usage (exit 2), before reading any configuration', async (t) => {
  for (const args of [[], ['frobnicate'], ['unblock'], ['unblock', ''], ['unblock', 'alice', 'bob'], ['blocks', 'now']]) {
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/admin.ts', ...args], { encoding: 'utf8', env: { ...process.env, REDIS_URL: 'redis://127.0.0.1:1' } });
    t.is(child.status, 2, `${args.join(' ')}: ${child.stderr}`);
    t.regex(child.stderr, /^usage: npm run admin/, args.join(' '));
  }
});

test('an operator\'s unblock while a detector run is on its way is not undone by that run', async (t) => {
  const d = await adminDeps(`${redis.prefix}r`);
  const logger = createLogger({ level: 'silent' });
  const clock = manualClock(NOW + 60_000);
  const throttled = (userId: number, login: string): GuardEntry => ({ state: 'throttled', until: NOW + 600_000, since: NOW, strikes: 1, signal: 'requests', observed: 60, threshold: 40, login });
  // quiet18 made no request in the minute judged; loud18 made 60 again (anomalous: it would be its second strike).
  await d.store.set(880001, throttled(880001, 'quiet18'));
  await d.store.set(880002, throttled(880002, 'loud18'));
  const recorder = createRecorder({ redis: redis.client, keys: d.keys, settings: d.settings, logger, flushMs: 3_600_000 });
  for (let i = 0; i < 60; i++) recorder.record({ userId: 880002, login: 'loud18', method: 'GET', route: '/api/session', status: 200, ms: 1, at: NOW, target: null, deploy: false });
  recorder.record({ userId: 880001, login: 'quiet18', method: 'GET', route: '/api/session', status: 200, ms: 1, at: NOW - 60_000, target: null, deploy: false });
  await recorder.close();
  // The operator lifts both right after the run read the guards (a real Redis write between its read and its writes).
  const store = { ...d.store, async all() { const read = await d.store.all(); await unblock(d, 'quiet18'); await unblock(d, 'loud18'); return read; } };
  const detector = createDetector({ redis: redis.client, keys: d.keys, store, settings: d.settings, stats: resolveDetector(TEST_DETECTOR), clock, logger });
  const run = await detector.run();
  t.is(run.minute, Math.floor(NOW / 60_000));
  const after = [await d.store.get(880001), await d.store.get(880002)];
  t.is(after[0], null, 'quiet18 stays lifted');
  t.is(after[1], null, 'loud18 stays lifted');
});

// Found by probing: the grace after an unblock taught the new level to
// the overall baseline and only to the hour-of-day slots it spanned, while an hour slot trusted from before
// is what judges its hour: the same traffic was throttled, then blocked again, at the next such hour. The
// accepted level now holds at every hour for acceptedLevelDays (server/telemetry/baseline.ts threshold()).
test('after an unblock the level the operator accepted holds at every hour of the day; far more is still caught, and hours are judged alone again later', async (t) => {
  const prefix = `${redis.prefix}accept`;
  const logger = createLogger({ level: 'silent' });
  const clock = manualClock(Date.UTC(2026, 10, 2, 9, 0, 5));
  const settings = { ...DEFAULT_TELEMETRY, throttlePerMinute: 20, blockAfter: 3, blockMinutes: 60, throttleMinutes: 10, graceMinutes: 60 };
  const d: AdminDeps = { ...await adminDeps(prefix), settings, now: () => clock.now() };
  const stats = resolveDetector(TEST_DETECTOR);
  t.is(stats.acceptedLevelDays, 7);
  const recorder = createRecorder({ redis: redis.client, keys: d.keys, settings, logger, flushMs: 3_600_000 });
  const detector = createDetector({ redis: redis.client, keys: d.keys, store: d.store, settings, stats, clock, logger, events: d.events });
  const userId = 880101;
  const login = 'ci-bot18';
  const at = (day: number, hour: number) => clock.set(Date.UTC(2026, 10, day, hour, 0, 5));
  const seen: string[] = [];
  /** n requests in the current minute, then judge it (the actions noted as "HH:MM action"). */
  async function minute(n: number) {
    for (let i = 0; i < n; i++) recorder.record({ userId, login, method: 'GET', route: '/api/render/my-deployments', status: 200, ms: 5, at: clock.now(), target: null, deploy: false });
    await recorder.flush();
    clock.set((Math.floor(clock.now() / 60_000) + 1) * 60_000 + 1_000);
    for (const a of (await detector.run()).actions) seen.push(`${new Date(clock.now()).toISOString().slice(11, 16)} ${a.action}`);
  }
  try {
    // Usual traffic: 10 a minute at 09:00, 11:00 and 13:00 (each hour slot trusted after 5 samples).
    for (const hour of [9, 11, 13]) {
      at(2, hour);
      for (let i = 0; i < 8; i++) await minute(10);
    }
    // Next day 09:00 the CI legitimately makes 100 a minute: throttled, then blocked.
    at(3, 9);
    for (let i = 0; i < 4; i++) await minute(100);
    t.like(await d.store.get(userId), { state: 'blocked' }, 'the jump was blocked (setup)');
    // The operator finds it legitimate and lifts it; the detector learns the new level through the grace.
    t.regex(await unblock(d, login), /Lifted the block/);
    seen.length = 0;
    for (let i = 0; i < 70; i++) await minute(100);
    // The grace key's TTL runs on Redis's clock, not this manual one: expire it as 60 minutes would.
    t.is(await redis.client.del(d.keys.grace(userId)), 1, 'the grace key was set by the unblock');

    // The same traffic goes on past 11:00, whose slot knew only 10 a minute: not judged anomalous.
    for (let i = 0; i < 60; i++) await minute(100);
    t.deepEqual(seen, [], 'the user the operator unblocked was not throttled or blocked again by itself');
    t.is(await d.store.get(userId), null);

    // Ten times the accepted level is still an anomaly.
    await minute(1000);
    t.is(seen.length, 1, seen.join(', '));
    t.regex(seen[0]!, /^11:\d\d throttled$/);
    t.like(await d.store.get(userId), { state: 'throttled', signal: 'requests', observed: 1000 });
    await d.store.remove(userId);

    // Past acceptedLevelDays an hour is judged on its own again: 13:00, never seen at the new level, knows 10 a minute.
    seen.length = 0;
    at(11, 13);
    await minute(100);
    t.is(seen.length, 1, seen.join(', '));
    t.regex(seen[0]!, /^13:\d\d throttled$/);
  } finally {
    await recorder.close();
  }
});

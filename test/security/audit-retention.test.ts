import test from 'ava';
import { startMonitor } from '../helpers/redisMonitor.js';
import { manualClock, systemClock } from '../../server/clock.js';
import { createAuditLog, type AuditLog } from '../../server/audit/auditLog.js';
import { entryHash } from '../../server/audit/canonical.js';
import type { AuditEntry } from '../../server/audit/types.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { createKeyring } from '../../server/crypto/keyring.js';
import { randomBytes } from 'node:crypto';
import type { Agent } from '../helpers/agent.js';

// Issue 11 part 4: audit chains cannot bloat Redis or slow reads. Chains are trimmed by count and
// age behind signed checkpoints, and GET /api/audit verifies only the stretch between the signed
// anchors around the page it returns — its cost does not depend on the chain's length.

const HISTORY = 30_000;

let stack: Stack;
let audit: AuditLog;
test.before(async () => {
  // Retention above the history here, so the long chain is kept whole and its reads can be measured.
  // The web's clock is held: the two users' reads are compared command for command, and a session's
  // upkeep runs on that clock (the cache re-reads a record a minute old, the idle touch writes once a
  // minute). On the real clock, appending the long history took about a minute under CI's load, and one
  // user's read paid a reload the other's did not (9 commands against 8).
  stack = await startStack({ clock: manualClock(), env: { AUDIT_MAX_ENTRIES: '100000', AUDIT_GLOBAL_MAX_ENTRIES: '1000000' } });
  audit = createAuditLog({ redis: stack.redis.client, prefix: stack.redis.prefix, clock: systemClock, keyring: stack.web.deps.keyring, retention: stack.config.auditRetention });
});
test.after.always(async () => { await stack?.close(); });

async function signedIn(login: string): Promise<{ agent: Agent; userId: number }> {
  const agent = stack.agent();
  await stack.signIn(agent, login);
  return { agent, userId: (await agent.get('/api/session')).json.user.id };
}

async function appendMany(log: AuditLog, userId: number, n: number) {
  // Through the audit module, in flights of 500 (the module serialises them itself).
  for (let i = 0; i < n; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, n - i) }, (_, j) =>
      log.append({ userId, action: 'lifecycle', outcome: 'success', detail: { lifecycleAction: 'redeploy', serviceId: `srv-${i + j}` } })));
  }
}

/**
 * Redis commands run while `fn` ran, Lua's own included (MONITOR, between two markers). The web's
 * timers run meanwhile, whatever the requests: the throttle-guard poll and the telemetry flush, both on
 * `tel:` keys (requests only count in memory); they are not the request's cost and are left out, the
 * flush's script call included. (INFO commandstats counted them too, when one fell inside the measured
 * request.)
 */
async function commandsDuring(fn: () => Promise<unknown>): Promise<number> {
  const monitor = await startMonitor(stack.redis.url);
  const mark = `commands-during-${Math.random()}`;
  const seen: string[][] = [];
  let ended!: () => void;
  const end = new Promise<void>((resolve) => { ended = resolve; });
  monitor.on((args) => {
    seen.push(args);
    if (args[0]?.toLowerCase() === 'echo' && args[1] === `${mark}-end`) ended();
  });
  try {
    await stack.redis.client.echo(`${mark}-start`);
    await fn();
    await stack.redis.client.echo(`${mark}-end`);
    await end;
  } finally {
    monitor.stop();
  }
  const from = seen.findIndex((a) => a[1] === `${mark}-start`);
  // Up to the end marker, not the last line seen: MONITOR's lines after it (in the same read) are not the call's.
  const to = seen.findIndex((a) => a[1] === `${mark}-end`);
  const timers = `${stack.redis.prefix}:tel:`;
  // Any argument, not only the first: the telemetry flush is one EVALSHA whose keys follow the sha. Nor the
  // caches' tracking heartbeats (a PING every 500 ms on each tracking connection): the call sends no PING.
  return seen.slice(from + 1, to).filter((a) => a[0]?.toLowerCase() !== 'ping' && !a.some((arg) => arg.startsWith(timers))).length;
}

const entryKey = (userId: number) => audit.keys({ userId }).entries;

test.serial(`GET /api/audit costs the same with ${HISTORY.toLocaleString('en')} entries as with 150, and pages through all of them`, async (t) => {
  t.timeout(300_000);
  const long = await signedIn('historian');
  const short = await signedIn('newcomer');
  await appendMany(audit, long.userId, HISTORY);
  await appendMany(audit, short.userId, 150);

  // Each read once before it is counted: what a first read does once (a session touched after a long
  // append, a cache filled) is not the page's cost, and landed in one count and not the other under load.
  await long.agent.get('/api/audit');
  await short.agent.get('/api/audit');
  let longPage: any;
  let shortPage: any;
  const longCost = await commandsDuring(async () => { longPage = (await long.agent.get('/api/audit')).json; });
  const shortCost = await commandsDuring(async () => { shortPage = (await short.agent.get('/api/audit')).json; });
  t.is(longPage.entries.length, 50);
  t.is(longPage.entries[0].seq, HISTORY + 1, 'newest first (sign-in was entry 1)');
  t.true(longPage.chainValid);
  t.true(shortPage.chainValid);
  const checked = (p: any) => p.integrity.checkedTo - p.integrity.checkedFrom + 1;
  t.true(checked(longPage) <= 50 + 2 * 100, `verified ${checked(longPage)} entries for a page of 50`);
  t.is(longCost, shortCost, `Redis commands per call: ${longCost} with ${HISTORY} entries, ${shortCost} with 150`);
  t.true(longCost <= 12, `${longCost} Redis commands`);
  t.log(`Redis commands per GET /api/audit: ${longCost} (30k entries), ${shortCost} (150); entries verified: ${checked(longPage)}`);

  // Deep pages cost the same, and limit is capped at 100.
  const deep = (await long.agent.get('/api/audit?cursor=15000&limit=100')).json;
  t.deepEqual([deep.entries[0].seq, deep.entries.at(-1).seq], [14_999, 14_900]);
  t.true(deep.chainValid);
  t.true(checked(deep) <= 100 + 2 * 100);
  t.is((await long.agent.get('/api/audit?limit=101')).status, 400);

  // Walk every page: no gaps, no repeats, every page verified.
  const seen: number[] = [];
  let oldestAt = '';
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res: any = (await long.agent.get(`/api/audit?limit=100${cursor ? `&cursor=${cursor}` : ''}`)).json;
    t.true(res.chainValid, `page ending ${cursor}`);
    seen.push(...res.entries.map((e: { seq: number }) => e.seq));
    oldestAt = res.entries.at(-1)?.at ?? oldestAt;
    cursor = res.nextCursor;
    pages++;
  } while (cursor);
  t.is(pages, Math.ceil((HISTORY + 1) / 100));
  t.is(seen.length, HISTORY + 1);
  t.true(seen.every((s, i) => s === HISTORY + 1 - i));

  // A date: the page starts at the newest entry of that day or before. The days are the entries' own,
  // not the wall clock's: a history written just before midnight UTC is read after it.
  const dayBeforeFirst = new Date(Date.parse(oldestAt.slice(0, 10)) - 86_400_000).toISOString().slice(0, 10);
  t.deepEqual((await long.agent.get(`/api/audit?until=${dayBeforeFirst}`)).json.entries, [], 'nothing is older than the first entry\'s day');
  const lastDay = String(longPage.entries[0].at).slice(0, 10);
  t.is((await long.agent.get(`/api/audit?until=${lastDay}`)).json.entries[0].seq, HISTORY + 1);
  t.is((await long.agent.get('/api/audit?until=2026-13-45')).status, 400);

  // A tampered entry deep in the history is found and named on the page that shows it.
  const redis = stack.redis.client;
  const victimSeq = 12_345;
  const original = JSON.parse((await redis.lindex(entryKey(long.userId), victimSeq - 1))!) as AuditEntry;
  await redis.lset(entryKey(long.userId), victimSeq - 1, JSON.stringify({ ...original, detail: { ...original.detail, serviceId: 'srv-evil' } }));
  const tampered = (await long.agent.get(`/api/audit?cursor=${victimSeq + 20}&limit=50`)).json;
  t.false(tampered.chainValid);
  t.like(tampered.integrity.problem, { seq: victimSeq, kind: 'edited' });
  t.regex(tampered.integrity.problem.message, /12345/);
  // Re-hashed so it looks consistent on its own: the next link (or the signed checkpoint) gives it away.
  const forged = { ...original, outcome: 'failure' as const };
  await redis.lset(entryKey(long.userId), victimSeq - 1, JSON.stringify({ ...forged, hash: entryHash(forged) }));
  const rehashed = (await long.agent.get(`/api/audit?cursor=${victimSeq + 20}&limit=50`)).json;
  t.like(rehashed.integrity.problem, { seq: victimSeq + 1, kind: 'broken_link' });
  await redis.lset(entryKey(long.userId), victimSeq - 1, JSON.stringify(original));
  t.true((await long.agent.get(`/api/audit?cursor=${victimSeq + 20}&limit=50`)).json.chainValid, 'restored');
});

test.serial('retention by count keeps at most maxEntries, trims at signed checkpoints, and what is kept still verifies', async (t) => {
  const log = createAuditLog({ redis: stack.redis.client, prefix: `${stack.redis.prefix}-count`, clock: systemClock, keyring: stack.web.deps.keyring, retention: { maxEntries: 250, globalMaxEntries: 400 }, checkpointEvery: 50 });
  const userId = 77;
  await appendMany(log, userId, 1_000);
  const kept = await stack.redis.client.llen(log.keys({ userId }).entries);
  t.true(kept <= 250 && kept > 200, `${kept} entries kept`);
  t.true(await stack.redis.client.llen(log.keys('global').entries) <= 400);
  t.deepEqual(await log.verifyChain({ userId }), { valid: true, length: kept });
  t.true((await log.verifyChain('global')).valid);
  const oldest = await log.page({ userId }, { limit: 100, cursor: String(1_000 - kept + 60) });
  t.true(oldest.verdict.valid);
  t.is(oldest.retainedFrom, 1_000 - kept + 1);
  t.is(oldest.entries.at(-1)!.seq, oldest.retainedFrom, 'the first kept entry, anchored on the checkpoint before it');
  t.is(oldest.nextCursor, null);
  // Checkpoints before the kept part are gone too.
  const checkpointSeqs = (await stack.redis.client.hkeys(log.keys({ userId }).checkpoints)).map(Number);
  t.true(checkpointSeqs.every((s) => s >= oldest.retainedFrom - 1));
});

test.serial('retention by age drops entries older than maxAge (up to a checkpoint)', async (t) => {
  const day = 86_400_000;
  const clock = manualClock(Date.parse('2026-01-01T00:00:00Z'));
  const log = createAuditLog({ redis: stack.redis.client, prefix: `${stack.redis.prefix}-age`, clock, keyring: stack.web.deps.keyring, retention: { maxAgeMs: 30 * day }, checkpointEvery: 50 });
  const userId = 78;
  await appendMany(log, userId, 120);
  clock.set(Date.parse('2026-03-01T00:00:00Z'));
  await appendMany(log, userId, 80);
  // The append that wrote checkpoint 200 trimmed everything up to checkpoint 100 (the last one older than 30 days).
  const page = await log.page({ userId }, { limit: 100, cursor: null });
  t.is(page.retainedFrom, 101);
  t.true(page.verdict.valid);
  t.is(await stack.redis.client.llen(log.keys({ userId }).entries), 100);
  // Reading also applies the policy: two months later everything before the newest checkpoint goes.
  clock.set(Date.parse('2026-05-01T00:00:00Z'));
  const later = await log.page({ userId }, { limit: 100, cursor: null });
  t.is(later.retainedFrom, 201);
  t.deepEqual(later.entries, []);
  t.true(later.verdict.valid);
});

test.serial('a Redis writer without SECRET_KEY cannot trim history or rewrite a chain consistently', async (t) => {
  const log = createAuditLog({ redis: stack.redis.client, prefix: `${stack.redis.prefix}-forge`, clock: systemClock, keyring: stack.web.deps.keyring, checkpointEvery: 50 });
  const redis = stack.redis.client;
  const userId = 79;
  await appendMany(log, userId, 120);
  const k = log.keys({ userId });

  // Drop the first 100 entries and move the base, as retention would (but without the key).
  const entries = await redis.lrange(k.entries, 0, -1);
  await redis.ltrim(k.entries, 100, -1);
  await redis.hset(k.head, 'base', '100');
  t.like(await log.verifyChain({ userId }), { valid: false, problem: 'unsigned' });
  t.like((await log.page({ userId }, { limit: 10, cursor: null })).verdict, { valid: false, problem: 'unsigned' });
  await redis.del(k.entries);
  await redis.rpush(k.entries, ...entries);
  await redis.hset(k.head, 'base', '0');
  t.true((await log.verifyChain({ userId })).valid, 'restored');

  // Rewrite entry 110 and re-chain everything after it, head hash included: the head signature gives it away.
  const parsed = entries.map((e) => JSON.parse(e) as AuditEntry);
  let prev = parsed[108]!.hash;
  for (let i = 109; i < parsed.length; i++) {
    const body = { ...parsed[i]!, prevHash: prev, ...(i === 109 ? { outcome: 'failure' as const } : {}) };
    const e = { ...body, hash: entryHash(body) };
    await redis.lset(k.entries, i, JSON.stringify(e));
    prev = e.hash;
  }
  await redis.hset(k.head, 'hash', prev);
  t.like(await log.verifyChain({ userId }), { valid: false, problem: 'unsigned' });
  t.like((await log.page({ userId }, { limit: 5, cursor: null })).verdict, { valid: false, problem: 'unsigned' });
});

test.serial('chains written before signing are verified once, then given checkpoints and a signed head; a tampered one is not', async (t) => {
  const prefix = `${stack.redis.prefix}-legacy`;
  const log = createAuditLog({ redis: stack.redis.client, prefix, clock: systemClock, keyring: stack.web.deps.keyring, checkpointEvery: 50 });
  const redis = stack.redis.client;
  /** The old format: entries and a head {seq, hash}, nothing signed. */
  async function legacyChain(userId: number, n: number) {
    let prev = '0'.repeat(64);
    const k = log.keys({ userId });
    for (let seq = 1; seq <= n; seq++) {
      const body = { chain: `user:${userId}`, seq, at: new Date(Date.now() - (n - seq) * 1000).toISOString(), userId, action: 'sign_in' as const, outcome: 'success' as const, detail: {}, prevHash: prev };
      const e = { ...body, hash: entryHash(body) };
      await redis.rpush(k.entries, JSON.stringify(e));
      prev = e.hash;
    }
    await redis.hset(k.head, 'seq', String(n), 'hash', prev);
    return k;
  }
  const k = await legacyChain(90, 130);
  const first = await log.page({ userId: 90 }, { limit: 10, cursor: '70' });
  t.true(first.verdict.valid, JSON.stringify(first.verdict));
  t.deepEqual((await redis.hkeys(k.checkpoints)).map(Number).sort((a, b) => a - b), [50, 100]);
  t.truthy(await redis.hget(k.head, 'mac'));
  t.true((await log.verifyChain({ userId: 90 })).valid);
  await log.append({ userId: 90, action: 'sign_out', outcome: 'success' });
  t.true((await log.verifyChain({ userId: 90 })).valid, 'appends continue the adopted chain');

  // A legacy chain someone edited is not adopted: its pages say so.
  const bad = await legacyChain(91, 130);
  const e60 = JSON.parse((await redis.lindex(bad.entries, 59))!) as AuditEntry;
  await redis.lset(bad.entries, 59, JSON.stringify({ ...e60, outcome: 'failure' }));
  const page = await log.page({ userId: 91 }, { limit: 10, cursor: '70' });
  t.false(page.verdict.valid);
  t.is(await redis.hget(bad.head, 'mac'), null, 'not signed');
});

test.serial('SECRET_KEY rotation: checkpoints and heads signed with the previous key are re-signed while it is still set', async (t) => {
  const [oldSecret, newSecret] = [randomBytes(32), randomBytes(32)];
  const base = { redis: stack.redis.client, prefix: `${stack.redis.prefix}-rotate`, clock: systemClock, checkpointEvery: 50 };
  const before = createAuditLog({ ...base, keyring: createKeyring(oldSecret) });
  const during = createAuditLog({ ...base, keyring: createKeyring(newSecret, oldSecret) });
  const after = createAuditLog({ ...base, keyring: createKeyring(newSecret) });
  await appendMany(before, 95, 120);
  t.like(await after.verifyChain({ userId: 95 }), { valid: false, problem: 'unsigned' }, 'the new key alone does not vouch for old signatures');
  // During the overlap: everything verifies; a read re-signs checkpoints, an append re-signs the head.
  t.true((await during.verifyChain({ userId: 95 })).valid);
  await during.append({ userId: 95, action: 'sign_in', outcome: 'success' });
  t.true((await after.verifyChain({ userId: 95 })).valid, 'valid under the new key alone');
  t.true((await after.page({ userId: 95 }, { limit: 10, cursor: '60' })).verdict.valid);
});

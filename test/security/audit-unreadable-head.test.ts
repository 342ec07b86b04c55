import test from 'ava';
import { Redis } from 'ioredis';
import { systemClock } from '../../server/clock.js';
import { createAuditLog } from '../../server/audit/auditLog.js';
import type { AuditEntry } from '../../server/audit/types.js';
import { startStack, type Stack } from '../helpers/stack.js';

// A Redis writer without SECRET_KEY sets a chain head's seq or base to something that is not a number.
// Before: verifyChain read the seq as NaN, skipped the head's signature check and compared everything
// with NaN, so a chain whose newest entries were removed passed as valid; GET /api/audit's page script
// did arithmetic on Lua's nil and answered 500 (and `?until=` too); every later append failed its
// compare-and-set against the NaN head until it gave up, so nothing the user did was audited any more.
let stack: Stack;
let keyring: Stack['web']['deps']['keyring'];
test.before(async () => { stack = await startStack(); keyring = stack.web.deps.keyring; });
test.after.always(async () => { await stack?.close(); });

let nextUser = 9_100;
async function chain(n: number) {
  const conn = new Redis(stack.redis.url);
  const log = createAuditLog({ redis: conn, prefix: stack.redis.prefix, clock: systemClock, keyring });
  const userId = nextUser++;
  for (let i = 1; i <= n; i++) await log.append({ userId, action: 'deploy_requested', outcome: 'success', detail: { deploymentId: `dpl-${i}` } });
  return { log, userId, k: log.keys({ userId }), conn };
}

async function judged(t: import('ava').ExecutionContext, log: ReturnType<typeof createAuditLog>, userId: number, what: string) {
  let page: Awaited<ReturnType<typeof log.page>> | null = null;
  let pageErr: unknown = null;
  try { page = await log.page({ userId }, { limit: 50 }); } catch (err) { pageErr = err; }
  t.is(pageErr, null, `${what}: page() threw (GET /api/audit answers 500): ${(pageErr as Error)?.message}`);
  if (page) t.false(page.verdict.valid, `${what}: page reported valid`);
  let vErr: unknown = null;
  let verdict: Awaited<ReturnType<typeof log.verifyChain>> | null = null;
  try { verdict = await log.verifyChain({ userId }); } catch (err) { vErr = err; }
  t.is(vErr, null, `${what}: verifyChain threw: ${(vErr as Error)?.message}`);
  if (verdict) t.false(verdict.valid, `${what}: verifyChain reported valid`);
}

test('a head whose seq was set to a non-number is reported, not a crash', async (t) => {
  const { log, userId, k, conn } = await chain(5);
  await conn.hset(k.head, 'seq', 'abc');
  await judged(t, log, userId, 'head seq = abc');
  conn.disconnect();
});

test('a head whose base was set to a non-number is reported, not a crash', async (t) => {
  const { log, userId, k, conn } = await chain(5);
  await conn.hset(k.head, 'base', 'x');
  await judged(t, log, userId, 'head base = x');
  conn.disconnect();
});

test('entries removed from the end with the head\'s seq garbled (NaN) are not passed as valid by verifyChain', async (t) => {
  const { log, userId, k, conn } = await chain(5);
  const e3 = JSON.parse((await conn.lindex(k.entries, 2))!);
  await conn.rpop(k.entries, 2);
  await conn.hset(k.head, 'seq', 'abc', 'hash', e3.hash);
  const verdict = await log.verifyChain({ userId });
  t.false(verdict.valid, `verifyChain says ${JSON.stringify(verdict)} for a chain whose entries 4 and 5 were removed`);
  conn.disconnect();
});

test('other spellings of a number are unreadable too (they would not compare-and-set, nor match what was signed)', async (t) => {
  for (const bad of ['', '05', '5.0', '1e1', ' 5', '-1', '0x5', '9'.repeat(16)]) {
    const { log, userId, k, conn } = await chain(5);
    await conn.hset(k.head, 'seq', bad);
    await judged(t, log, userId, `head seq = ${JSON.stringify(bad)}`);
    conn.disconnect();
  }
});

test('a page whose cursor is at the start over a head whose base was moved to its seq: the head\'s signature is still checked', async (t) => {
  const { log, userId, k, conn } = await chain(5);
  await conn.hset(k.head, 'base', '5');
  t.false((await log.page({ userId }, { limit: 50 })).verdict.valid);
  t.false((await log.verifyChain({ userId })).valid);
  conn.disconnect();
});

test('appends after an unreadable head are written (unverified, as after any head that does not verify) and the chain stays reported', async (t) => {
  for (const [field, value] of [['seq', 'abc'], ['base', 'x']] as const) {
    const { log, userId, k, conn } = await chain(3);
    await conn.hset(k.head, field, value);
    // A second process, which never saw the head, and the one that remembers it (its compare-and-set fails first).
    const other = createAuditLog({ redis: conn, prefix: stack.redis.prefix, clock: systemClock, keyring });
    const first = await other.append({ userId, action: 'deploy_requested', outcome: 'success', detail: { deploymentId: 'dpl-after-1' } });
    const second = await log.append({ userId, action: 'deploy_requested', outcome: 'success', detail: { deploymentId: 'dpl-after-2' } });
    t.deepEqual([first.seq, second.seq], [4, 5], `${field}: continued after the 3 entries there`);
    t.is(second.prevHash, first.hash);
    const head = await conn.hgetall(k.head);
    t.is(head.mac, 'unverified', `${field}: the continuation is not vouched for`);
    if (field === 'base') t.is(head.base, 'x', 'an unreadable base is left as it was');
    t.deepEqual((await conn.lrange(k.entries, 0, -1)).map((e) => (JSON.parse(e) as AuditEntry).seq), [1, 2, 3, 4, 5]);
    await judged(t, log, userId, `after appends over ${field} = ${value}`);
    // The global chain, written in the same scripts, is intact.
    t.true((await log.verifyChain('global')).valid);
    conn.disconnect();
  }
});

test('a page asked for by date over a head whose base is unreadable reports the chain instead of failing', async (t) => {
  const { log, userId, k, conn } = await chain(3);
  await conn.hset(k.head, 'base', 'x');
  const cursor = await log.cursorAfter({ userId }, Date.now() + 86_400_000);
  t.is(cursor, null);
  t.false((await log.page({ userId }, { limit: 50, cursor })).verdict.valid);
  conn.disconnect();
});

test.serial('GET /api/audit over a chain whose head seq a Redis writer garbled: reports the chain as failing its check, not a 500', async (t) => {
  const agent = stack.agent();
  await stack.signIn(agent, 'tamper-me');
  const userId = (await agent.get('/api/session')).json.user.id as number;
  const ok = await agent.get('/api/audit');
  t.is(ok.status, 200);
  t.true(ok.json.entries.length > 0);
  const head = `${stack.redis.prefix}:audit:user:${userId}:head`;
  for (const field of ['seq', 'base']) {
    const saved = await stack.redis.client.hget(head, field);
    await stack.redis.client.hset(head, field, 'x');
    const res = await agent.get('/api/audit');
    t.is(res.status, 200, JSON.stringify(res.json));
    t.is(res.json?.chainValid, false);
    t.like(res.json?.integrity?.problem, { seq: 0, kind: 'unsigned' });
    const byDate = await agent.get('/api/audit?until=2099-01-01');
    t.is(byDate.status, 200, JSON.stringify(byDate.json));
    t.is(byDate.json?.chainValid, false);
    if (saved === null) await stack.redis.client.hdel(head, field); else await stack.redis.client.hset(head, field, saved);
  }
});

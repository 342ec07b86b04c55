import test from 'ava';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { systemClock } from '../../server/clock.js';
import { createAuditLog } from '../../server/audit/auditLog.js';
import { entryHash } from '../../server/audit/canonical.js';
import type { AuditEntry } from '../../server/audit/types.js';
import { createKeyring } from '../../server/crypto/keyring.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

// A Redis writer without SECRET_KEY rewrites the newest entries of a chain (those after its last
// signed checkpoint) and the head to match; the head's signature no longer verifies. The next
// append, or a trim, by a process that holds the key must not sign the forged head's continuation:
// the chain has to stay reported, at the place it was changed or at its head.
let redis: TestRedis;
const keyring = createKeyring(randomBytes(32));
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { await redis?.stop(); });

function auditProcess(opts: { checkpointEvery?: number; retention?: { maxEntries: number } } = {}) {
  const conn = new Redis(redis.url);
  return { log: createAuditLog({ redis: conn, prefix: redis.prefix, clock: systemClock, keyring, ...opts }), conn };
}
const entry = (userId: number, n: number) => ({ userId, action: 'deploy_requested' as const, outcome: 'success' as const, detail: { deploymentId: `dpl-${n}` } });

let nextUser = 7_000;

test.serial('an entry removed with its head rewound is not vouched for by the next append in another process', async (t) => {
  const [web, worker] = [auditProcess(), auditProcess()];
  const userId = nextUser++;
  try {
    for (let i = 1; i <= 5; i++) await web.log.append(entry(userId, i));
    const k = web.log.keys({ userId });
    // The attacker drops entry 5 and points the head at entry 4 (they cannot sign it).
    const e4 = JSON.parse((await web.conn.lindex(k.entries, 3))!) as AuditEntry;
    await web.conn.rpop(k.entries);
    await web.conn.hset(k.head, 'seq', '4', 'hash', e4.hash);
    t.like(await web.log.verifyChain({ userId }), { valid: false, problem: 'unsigned' });
    await worker.log.append(entry(userId, 6));
    const verdict = await web.log.verifyChain({ userId });
    t.false(verdict.valid, 'the removal stays reported after another process appended');
    t.false((await web.log.page({ userId }, { limit: 10 })).verdict.valid);
  } finally {
    web.conn.disconnect();
    worker.conn.disconnect();
  }
});

test.serial('an entry edited with its hash and the head recomputed is not vouched for by the next append of the same process', async (t) => {
  const web = auditProcess();
  const userId = nextUser++;
  try {
    for (let i = 1; i <= 5; i++) await web.log.append(entry(userId, i));
    const k = web.log.keys({ userId });
    const e5 = JSON.parse((await web.conn.lindex(k.entries, 4))!) as AuditEntry;
    const forged = { ...e5, outcome: 'failure' as const };
    forged.hash = entryHash(forged);
    await web.conn.lset(k.entries, 4, JSON.stringify(forged));
    await web.conn.hset(k.head, 'hash', forged.hash);
    // This process remembers the real head: its compare-and-set fails and hands it the forged one.
    await web.log.append(entry(userId, 6));
    t.false((await web.log.verifyChain({ userId })).valid, 'the edit stays reported');
    t.false((await web.log.page({ userId }, { limit: 10 })).verdict.valid);
  } finally {
    web.conn.disconnect();
  }
});

test.serial('a trim does not re-sign a forged head', async (t) => {
  const writer = auditProcess({ checkpointEvery: 5 });
  const trimmer = auditProcess({ checkpointEvery: 5, retention: { maxEntries: 5 } });
  const userId = nextUser++;
  try {
    for (let i = 1; i <= 12; i++) await writer.log.append(entry(userId, i));
    const k = writer.log.keys({ userId });
    const e11 = JSON.parse((await writer.conn.lindex(k.entries, 10))!) as AuditEntry;
    await writer.conn.rpop(k.entries);
    await writer.conn.hset(k.head, 'seq', '11', 'hash', e11.hash);
    t.true(await trimmer.log.enforceRetention({ userId }) >= 0);
    t.false((await trimmer.log.verifyChain({ userId })).valid);
  } finally {
    writer.conn.disconnect();
    trimmer.conn.disconnect();
  }
});

test.serial('SECRET_KEY rotation: a chain nobody wrote during the overlap is re-signed by the sweep, and stays valid once the previous key is gone', async (t) => {
  const [oldSecret, newSecret] = [randomBytes(32), randomBytes(32)];
  const conn = new Redis(redis.url);
  const base = { redis: conn, prefix: `${redis.prefix}-sweep`, clock: systemClock, checkpointEvery: 5 };
  const before = createAuditLog({ ...base, keyring: createKeyring(oldSecret) });
  const during = createAuditLog({ ...base, keyring: createKeyring(newSecret, oldSecret) });
  const after = createAuditLog({ ...base, keyring: createKeyring(newSecret) });
  const userId = nextUser++;
  try {
    for (let i = 1; i <= 7; i++) await before.append(entry(userId, i));
    t.true(await during.resignStale() >= 2, 'the user\'s head and the global one');
    // After the overlap: the user signs in again; the append extends a head the new key vouches for.
    await after.append(entry(userId, 8));
    t.deepEqual(await after.verifyChain({ userId }), { valid: true, length: 8 });
    t.true((await after.verifyChain('global')).valid);
  } finally {
    conn.disconnect();
  }
});

test.serial('a head deleted while its entries remain: the page does not call the chain valid', async (t) => {
  const web = auditProcess();
  const userId = nextUser++;
  try {
    for (let i = 1; i <= 3; i++) await web.log.append(entry(userId, i));
    await web.conn.del(web.log.keys({ userId }).head);
    const page = await web.log.page({ userId }, { limit: 10 });
    t.false(page.verdict.valid, JSON.stringify(page.verdict));
    t.false((await web.log.verifyChain({ userId })).valid);
  } finally {
    web.conn.disconnect();
  }
});

test.serial('SECRET_KEY rotation rolling out: a process still on the old key does not mark chains a new-key process signed as forged', async (t) => {
  const [oldSecret, newSecret] = [randomBytes(32), randomBytes(32)];
  const [c1, c2] = [new Redis(redis.url), new Redis(redis.url)];
  const base = { prefix: `${redis.prefix}-rollout`, clock: systemClock };
  const stale = createAuditLog({ ...base, redis: c1, keyring: createKeyring(oldSecret) });
  const fresh = createAuditLog({ ...base, redis: c2, keyring: createKeyring(newSecret, oldSecret) });
  const after = createAuditLog({ ...base, redis: c2, keyring: createKeyring(newSecret) });
  const userId = nextUser++;
  try {
    await stale.append(entry(userId, 1));
    await fresh.append(entry(userId, 2)); // heads now under the new key, which the stale process does not hold
    // It cannot vouch for them: its append is refused (logged by its caller), the chains are left as they are.
    await t.throwsAsync(stale.append(entry(userId, 3)), { message: /SECRET_KEY this process does not hold/ });
    await fresh.append(entry(userId, 4));
    t.deepEqual(await after.verifyChain({ userId }), { valid: true, length: 3 });
    t.true((await after.verifyChain('global')).valid);
  } finally {
    c1.disconnect();
    c2.disconnect();
  }
});

test.serial('a head replaced by an older signed one, the entries after it removed: a checkpoint past it gives it away on every page', async (t) => {
  const web = auditProcess({ checkpointEvery: 5 });
  const userId = nextUser++;
  try {
    for (let i = 1; i <= 9; i++) await web.log.append(entry(userId, i));
    const k = web.log.keys({ userId });
    const old = await web.conn.hgetall(k.head);
    for (let i = 10; i <= 12; i++) await web.log.append(entry(userId, i));
    // The attacker puts back the head signed at entry 9 and drops 10–12 (checkpoint 10 stays).
    for (let i = 0; i < 3; i++) await web.conn.rpop(k.entries);
    await web.conn.hset(k.head, old);
    t.false((await web.log.verifyChain({ userId })).valid);
    const page = await web.log.page({ userId }, { limit: 3 });
    t.like(page.verdict, { valid: false, seq: 10 });
  } finally {
    web.conn.disconnect();
  }
});

import test from 'ava';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { systemClock } from '../../server/clock.js';
import { createAuditLog } from '../../server/audit/auditLog.js';
import { createKeyring } from '../../server/crypto/keyring.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

// Round trips an append costs in one process when another process (the worker) appends too: every
// append writes the global chain, so the global head this process remembers is often stale.
let redis: TestRedis;
const keyring = createKeyring(randomBytes(32));
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { await redis?.stop(); });

/** An audit log on a connection of its own, and the commands it sent (real Redis; only observed). */
function auditProcess(): { log: ReturnType<typeof createAuditLog>; sent: string[]; conn: Redis } {
  const conn = new Redis(redis.url, { enableAutoPipelining: true });
  const sent: string[] = [];
  const send = conn.sendCommand.bind(conn);
  conn.sendCommand = (cmd, stream) => { sent.push(cmd.name); return send(cmd, stream); };
  return { log: createAuditLog({ redis: conn, prefix: redis.prefix, clock: systemClock, keyring }), sent, conn };
}
const entry = (userId: number, n: number) => ({ userId, action: 'deploy_requested' as const, outcome: 'success' as const, detail: { deploymentId: `dpl-${n}` } });

test.serial('an append for a chain this process does not know reads the global head too: a head another process moved costs no retry', async (t) => {
  const [web, worker] = [auditProcess(), auditProcess()];
  try {
    await web.log.append(entry(1, 1));
    await worker.log.append(entry(2, 2)); // the global head web remembers is now stale
    web.sent.length = 0;
    await web.log.append(entry(3, 3));
    t.deepEqual(web.sent.sort(), ['evalsha', 'hmget', 'hmget'], 'both heads read, then one compare-and-set that holds');
    t.true((await web.log.verifyChain('global')).valid);
    t.deepEqual((await web.log.listForUser(3, { limit: 5 })).entries.map((e) => e.seq), [1]);
  } finally {
    web.conn.disconnect();
    worker.conn.disconnect();
  }
});

test.serial('prefetch: the heads are read ahead and shared with an append that needs them; the append that follows sends only its script', async (t) => {
  const [web, worker] = [auditProcess(), auditProcess()];
  try {
    await web.log.append(entry(10, 1));
    await worker.log.append(entry(11, 2));
    web.sent.length = 0;
    web.log.prefetch(12);
    // An append that needs a head while the prefetch is reading it waits for that read.
    await web.log.append(entry(13, 3));
    t.deepEqual(web.sent, ['hmget', 'hmget', 'hmget', 'evalsha'], 'the heads of 12, global (once) and 13, then the append');
    web.sent.length = 0;
    await web.log.append(entry(12, 4));
    t.deepEqual(web.sent, ['evalsha'], 'no head read, no retry');
    t.true((await web.log.verifyChain('global')).valid);
    t.true((await web.log.verifyChain({ userId: 12 })).valid);
  } finally {
    web.conn.disconnect();
    worker.conn.disconnect();
  }
});

test.serial('prefetch reads heads this process knows too: after the other process appended to both chains (requested on the web, finished on the worker), the append costs no retry', async (t) => {
  const [web, worker] = [auditProcess(), auditProcess()];
  try {
    await web.log.append(entry(20, 1)); // web knows the heads of 20 and global
    await worker.log.append(entry(20, 2)); // and both have moved since
    web.sent.length = 0;
    web.log.prefetch(20);
    await web.log.append(entry(20, 3));
    t.deepEqual(web.sent, ['hmget', 'hmget', 'evalsha'], 'both heads read again although known, then one compare-and-set that holds');
    t.true((await web.log.verifyChain('global')).valid);
    t.deepEqual((await web.log.listForUser(20, { limit: 5 })).entries.map((e) => e.seq), [3, 2, 1]);
  } finally {
    web.conn.disconnect();
    worker.conn.disconnect();
  }
});

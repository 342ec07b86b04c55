import test from 'ava';
import { randomBytes } from 'node:crypto';
import { systemClock } from '../../server/clock.js';
import { createAuditLog } from '../../server/audit/auditLog.js';
import { createKeyring } from '../../server/crypto/keyring.js';
import { createRedis } from '../../server/redis.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { cuttingProxy } from '../helpers/cuttingProxy.js';

// An audit append whose connection to Redis dropped with the script on its way (a Redis failover, a
// network blip: seen in a run that killed the web's connections while deploys were requested): the
// request was answered 202 and its `deploy_requested` entry was lost, said only in the log. Redis may have
// run the script (only its answer lost) or not; the chain heads say which. Now the append reads them once
// the connection is back: its entries are there, or it writes them, never twice.

let redis: TestRedis;
const keyring = createKeyring(randomBytes(32));
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { await redis?.stop(); });

const CASES: ReadonlyArray<readonly ['after_redis_ran_it' | 'before_redis_saw_it', boolean]> = [
  ['after_redis_ran_it', false], ['before_redis_saw_it', false],
  // ioredis sends the unanswered script again only if it reconnects at its first try; with one reconnect
  // refused it gives up the commands it held (maxRetriesPerRequest 1), and the append failed.
  ['after_redis_ran_it', true], ['before_redis_saw_it', true],
];
for (const [when, away] of CASES) {
  test.serial(`an append whose connection dropped ${when.replaceAll('_', ' ')} is in the chain once${away ? ', Redis away for a reconnect' : ''}`, async (t) => {
    const prefix = `${redis.prefix}-${when}-${away}`;
    const marker = `marker-${randomBytes(6).toString('hex')}`;
    const proxy = await cuttingProxy(redis.url, marker, when, away);
    // The web's own connection settings (one retry per command, 10 s command timeout, auto-pipelined).
    const conn = createRedis(proxy.url, 'web');
    t.teardown(async () => { conn.disconnect(); await proxy.close(); });
    const log = createAuditLog({ redis: conn, prefix, clock: systemClock, keyring });
    // Back after the second reconnect is scheduled: the first found the port closed.
    let reconnects = 0;
    conn.on('reconnecting', () => { if (away && ++reconnects === 2) proxy.reopen(); });
    await log.append({ userId: 7, action: 'sign_in', outcome: 'success', detail: { login: 'before' } });

    const appended = await log.append({ userId: 7, action: 'deploy_requested', outcome: 'success', detail: { login: marker } }).then(() => 'appended', (err: Error) => `failed: ${err.message}`);
    await proxy.cut;
    t.is(appended, 'appended', 'the entry is not lost to the dropped connection');
    const entries = (await log.listForUser(7, { limit: 10 })).entries;
    t.deepEqual(entries.filter((e) => e.detail.login === marker).length, 1, `in the user's chain once: ${JSON.stringify(entries.map((e) => [e.seq, e.action]))}`);
    t.true((await log.verifyChain({ userId: 7 })).valid);
    t.true((await log.verifyChain('global')).valid);

    // And the connection goes on: the next append is written once too.
    await log.append({ userId: 7, action: 'sign_out', outcome: 'success', detail: { login: 'after' } });
    t.deepEqual((await log.listForUser(7, { limit: 10 })).entries.map((e) => e.action), ['sign_out', 'deploy_requested', 'sign_in']);
  });
}

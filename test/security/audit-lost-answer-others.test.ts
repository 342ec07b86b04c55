import test from 'ava';
import { randomBytes } from 'node:crypto';
import { systemClock } from '../../server/clock.js';
import { createAuditLog } from '../../server/audit/auditLog.js';
import { createKeyring } from '../../server/crypto/keyring.js';
import { createRedis } from '../../server/redis.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { cuttingProxy } from '../helpers/cuttingProxy.js';

// Found by a review of the lost-answer handling (audit-connection-drop.test.ts): an append recognised its own
// lost write only when every chain's head was still its batch's last entry. The global chain is shared by every
// user and process, so another process's append to it between the lost answer and the retry (a reconnect takes
// 200 ms or more) made the batch look unwritten, and it was written twice. The script now looks for the batch's
// own first entry where it belongs (scripts.ts APPEND_IF_HEADS, answer {2}).

let redis: TestRedis;
const keyring = createKeyring(randomBytes(32));
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { await redis?.stop(); });

for (const away of [true, false]) {
  test.serial(`an append whose answer was lost is in the user's chain once, though another process appended to the global chain meanwhile${away ? ' (Redis away for a reconnect)' : ''}`, async (t) => {
    const prefix = `${redis.prefix}-other-${away}`;
    const marker = `marker-${randomBytes(6).toString('hex')}`;
    const proxy = await cuttingProxy(redis.url, marker, 'after_redis_ran_it', away);
    const conn = createRedis(proxy.url, 'web');
    // Another process (a worker, another web) on its own, healthy connection, appending for another user.
    const otherConn = createRedis(redis.url, 'web');
    t.teardown(async () => { conn.disconnect(); otherConn.disconnect(); await proxy.close(); });
    const log = createAuditLog({ redis: conn, prefix, clock: systemClock, keyring });
    const other = createAuditLog({ redis: otherConn, prefix, clock: systemClock, keyring });
    let otherDone = false;
    let reconnects = 0;
    let reopened = false;
    conn.on('reconnecting', () => { if (away && ++reconnects >= 2 && otherDone && !reopened) { reopened = true; proxy.reopen(); } });
    await log.append({ userId: 7, action: 'sign_in', outcome: 'success', detail: { login: 'before' } });
    // Right after Redis ran our script (its answer dropped), the other process appends (another user's sign-in).
    void proxy.cut.then(async () => { await other.append({ userId: 8, action: 'sign_in', outcome: 'success', detail: { login: 'other' } }); otherDone = true; });

    const appended = await log.append({ userId: 7, action: 'deploy_requested', outcome: 'success', detail: { login: marker } }).then(() => 'appended', (err: Error) => `failed: ${err.message}`);
    t.is(appended, 'appended');
    t.true(otherDone, 'the other append ran in between');
    const entries = (await log.listForUser(7, { limit: 10 })).entries;
    t.is(entries.filter((e) => e.detail.login === marker).length, 1, `in the user's chain once: ${JSON.stringify(entries.map((e) => [e.seq, e.action]))}`);
  });
}

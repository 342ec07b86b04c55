import test from 'ava';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { manualClock } from '../../server/clock.js';
import { createAuditLog } from '../../server/audit/auditLog.js';
import { createKeyring } from '../../server/crypto/keyring.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

// GET /api/audit?until= finds where to start by a search over the chain's entries. Retention (in
// another process) may trim the chain while that search runs: the page must still start at the
// newest kept entry before the date, not at an index that meant another entry before the trim.
let redis: TestRedis;
const keyring = createKeyring(randomBytes(32));
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { await redis?.stop(); });

const DAY = 86_400_000;

test('a trim during the search for a date: the page starts at the newest kept entry before it', async (t) => {
  const clock = manualClock(Date.parse('2026-03-01T12:00:00Z'));
  const reader = new Redis(redis.url);
  const other = new Redis(redis.url);
  try {
    const log = createAuditLog({ redis: reader, prefix: redis.prefix, clock, keyring, checkpointEvery: 10 });
    const trimmer = createAuditLog({ redis: other, prefix: redis.prefix, clock, keyring, checkpointEvery: 10, retention: { maxEntries: 20 } });
    const userId = 41;
    const append = () => log.append({ userId, action: 'sign_in', outcome: 'success' });
    for (let i = 1; i <= 30; i++) await append(); // 1–30 on March 1
    clock.advance(DAY);
    for (let i = 31; i <= 35; i++) await append(); // 31–35 on March 2
    clock.advance(2 * DAY);
    for (let i = 36; i <= 40; i++) await append(); // 36–40 on March 4
    // The other process trims to entry 20 just as the search reads its first entry.
    const send = reader.sendCommand.bind(reader);
    let trimmed = false;
    reader.sendCommand = ((cmd: Parameters<typeof send>[0], stream?: Parameters<typeof send>[1]) => {
      if (trimmed || !['lindex', 'evalsha', 'eval'].includes(cmd.name)) return send(cmd, stream);
      trimmed = true;
      // The command's own promise (returned) carries its answer or error to the caller.
      void trimmer.enforceRetention({ userId }).then(() => send(cmd, stream)).catch(() => {});
      return cmd.promise;
    });
    const cursor = await log.cursorAfter({ userId }, Date.parse('2026-03-03T00:00:00Z'));
    reader.sendCommand = send;
    t.true(trimmed);
    t.is(Number(await other.hget(log.keys({ userId }).head, 'base')), 20, 'the trim happened');
    const page = await log.page({ userId }, { limit: 5, cursor });
    t.deepEqual(page.entries.map((e) => e.seq), [35, 34, 33, 32, 31]);
    t.true(page.verdict.valid);
  } finally {
    reader.disconnect();
    other.disconnect();
  }
});

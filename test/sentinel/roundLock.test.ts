import test from 'ava';
import { createLogger } from '../../server/logger.js';
import { startWorker, type WorkerProcess } from '../../workers/process.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { BUDGET_FOR_TESTS } from './limits.js';
import { findings, enable, tenant, waitFor } from './support.js';
import { scheduleKeys } from '../../server/sentinel/schedule.js';
import { sentinelKeys } from '../../server/sentinel/store.js';

// A round that outlives its lock (Render slow: held here, as in offDuringRound.test.ts) while the next
// round of the same user has started: the late round's end must leave the running round's lock and
// schedule alone (else a third round starts beside the second), and it writes nothing back (its
// cursors and findings are older than the running round's).

let stack: Stack;
let worker: WorkerProcess;
test.before(async () => {
  stack = await startStack({ env: { SENTINEL_INTERVAL_SECONDS: '1' } });
  // Leases (and locks) of two intervals, 2 s here: a held round outlives its own.
  worker = await startWorker({ config: stack.config, logger: createLogger({ level: 'silent' }), renderLimits: BUDGET_FOR_TESTS, sentinel: { minLeaseMs: 1 } });
});
test.after.always(async () => {
  await worker?.close(5_000);
  await stack?.close();
});

const AUDIT_ROUTE = '/owners/{ownerId}/audit-logs';

test('a round that outlived its lock ends without releasing the next round\'s lock, moving its schedule, or writing its cursors and findings', async (t) => {
  t.timeout(120_000);
  const ida = await tenant(stack, 'ida-lock');
  const userId = (await ida.agent.get('/api/session')).json.user.id as number;
  const keys = sentinelKeys(stack.config.redisPrefix);
  const { due, intervals } = scheduleKeys(stack.config.redisPrefix);
  const redis = stack.redis.client;
  stack.render.addAuditEvent(ida.ownerId, 'StartShellEvent', { service: ida.services[0]!.id });

  const first = stack.render.holdRequest({ route: AUDIT_ROUTE, apiKey: ida.apiKey });
  t.teardown(() => first.release());
  await enable(ida.agent);
  await first.arrived;
  // Off the schedule until the first round's lock has lapsed; then due at once, with a long claim (two
  // minutes): the second round's lock and lease outlast the test, and only the first round could end them early.
  await redis.zrem(due, String(userId));
  await waitFor('the first round\'s lock to lapse', async () => (await redis.exists(keys.lock(userId))) === 0);
  await redis.multi().hset(intervals, String(userId), '60000').zadd(due, Date.now(), String(userId)).exec();
  const second = stack.render.holdRequest({ route: AUDIT_ROUTE, apiKey: ida.apiKey });
  t.teardown(() => second.release());
  await second.arrived;
  t.is(worker.sentinel.running, 2, 'the first round outlived its lock; the second runs beside it');
  const secondLock = await redis.get(keys.lock(userId));
  const secondLease = await redis.zscore(due, String(userId));
  t.truthy(secondLock);

  first.release();
  await waitFor('the first round to end', async () => worker.sentinel.running === 1);
  t.is(await redis.get(keys.lock(userId)), secondLock, 'the second round still holds its lock');
  t.is(await redis.zscore(due, String(userId)), secondLease, 'the second round\'s lease stands: no third round is due');
  t.is(await redis.exists(keys.cursors(userId)), 0, 'the first round wrote no cursors');
  t.is(await redis.exists(keys.status(userId)), 0, 'nor its status');
  t.deepEqual(await findings(ida.agent), [], 'nor its finding');

  second.release();
  await waitFor('the second round\'s end', async () => (await redis.exists(keys.status(userId))) === 1);
  t.is(await redis.exists(keys.cursors(userId)), 1, 'the second round wrote its cursors');
  t.deepEqual((await findings(ida.agent)).map((f) => f.rule), ['start_shell']);
});

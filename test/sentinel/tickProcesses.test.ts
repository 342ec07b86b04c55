import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { spawnWorker, type ChildWorker } from '../helpers/processes.js';
import { BUDGET_FOR_TESTS } from './limits.js';
import { enable, tenant, waitFor } from './support.js';
import { scheduleKeys } from '../../server/sentinel/schedule.js';
import { sentinelKeys } from '../../server/sentinel/store.js';

// The batched tick across real worker processes (workers/sentinelTick.ts): rounds every second, a
// claim's lease (and the round's lock) 3 s, so a round lost with its worker runs again soon.

let stack: Stack;
const children: ChildWorker[] = [];
const SENTINEL = { minLeaseMs: 3_000 };
// Sentinel's 10% share of reads large enough that no round here ends early for budget (each round must reach its logs call).
const ROOMY = { ...BUDGET_FOR_TESTS, read: { limit: 100_000, windowMs: 60_000 }, logs: { limit: 100_000, windowMs: 60_000 } };

test.before(async () => { stack = await startStack({ env: { SENTINEL_INTERVAL_SECONDS: '1' } }); });
test.after.always(async () => {
  await Promise.all(children.map((c) => c.kill()));
  await stack?.close();
});

async function worker(): Promise<ChildWorker> {
  const child = await spawnWorker(stack.config, { renderLimits: ROOMY, sentinel: SENTINEL }, { SENTINEL_INTERVAL_SECONDS: '1' }, () => {});
  children.push(child);
  return child;
}

const callsOf = (accountId: string) => stack.render.calls.filter((c) => c.accountId === accountId);
const isAudit = (c: { route: string }) => c.route === '/owners/{ownerId}/audit-logs';
const isLogs = (c: { route: string }) => c.route === '/logs';

test.serial('two worker processes: a user\'s rounds never overlap, though each round takes longer than the interval', async (t) => {
  t.timeout(240_000);
  await Promise.all([worker(), worker()]);
  const ann = await tenant(stack, 'ann-two-procs', ['api', 'web']);
  // Every call with this key takes 700 ms: a round (audit log and service list, then events and logs) outlasts its 1 s interval.
  stack.render.setFault({ kind: 'latency', ms: 700, apiKey: ann.apiKey });
  await enable(ann.agent);
  await waitFor('eight rounds begun', async () => callsOf(ann.accountId).filter(isAudit).length >= 8, 120_000);
  stack.render.clearFaults();
  // In the order Render saw them: a round's logs call (its last) comes before the next round's audit-log call.
  const order = callsOf(ann.accountId).filter((c) => isAudit(c) || isLogs(c)).map((c) => (isAudit(c) ? 'a' : 'l')).join('');
  t.regex(order, /^(al)+a?$/, `audit (a) and logs (l) calls in arrival order: ${order}`);
});

test.serial('a worker killed mid-round loses nobody: once the claim\'s lease runs out another process runs the round', async (t) => {
  t.timeout(240_000);
  const doomed = await worker();
  const others = children.filter((c) => c !== doomed);
  // The other workers step aside: this user's first round must start in the doomed one.
  await Promise.all(others.map((c) => c.kill()));
  const ben = await tenant(stack, 'ben-crash');
  const userId = (await ben.agent.get('/api/session')).json.user.id as number;
  // The first audit-log call hangs (a minute): the round is in flight when its worker dies.
  stack.render.setFault({ kind: 'latency', ms: 60_000, apiKey: ben.apiKey, route: '/owners/{ownerId}/audit-logs', count: 1 });
  await enable(ben.agent);
  await waitFor('the round to begin', async () => callsOf(ben.accountId).some(isAudit), 60_000);
  await doomed.kill('SIGKILL');
  const statusKey = sentinelKeys(stack.config.redisPrefix).status(userId);
  t.is(await stack.redis.client.get(statusKey), null, 'the killed round never ended');
  t.not(await stack.redis.client.zscore(scheduleKeys(stack.config.redisPrefix).due, String(userId)), null, 'the user is still on the schedule');

  await worker();
  const status = await waitFor('a round in the new worker', async () => {
    const raw = await stack.redis.client.get(statusKey);
    return raw ? JSON.parse(raw) as { lastRunAt: string | null; lastProblem: string | null } : null;
  }, 120_000);
  t.truthy(status.lastRunAt);
  t.is(status.lastProblem, null);
  t.true(callsOf(ben.accountId).filter(isAudit).length >= 2, 'the audit log was read again');
});

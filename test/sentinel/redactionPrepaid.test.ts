import test from 'ava';
import { BUDGET_FOR_TESTS } from './limits.js';
import { enable, findings, SECRET_ENV_VALUE, startSentinelStack, tenant, waitFor, type SentinelStack } from './support.js';
import { sentinelKeys } from '../../server/sentinel/store.js';
import { scheduleKeys } from '../../server/sentinel/schedule.js';
import { recordCommands, type SentCommand } from '../helpers/redis.js';

// A round pays ahead, with its start, as many of the key's Render reads as the last round made
// (workers/tasks/sentinelTask.ts). The reads that redact a log finding (the service's env vars, secret
// files, env groups) happen only when a round finds a line to redact: counted, the round after one would
// take slots it never uses, and Sentinel would spend more of the key's budget than the calls it makes.

let s: SentinelStack;
// Reads the key's budget never runs short of here: Sentinel's tenth of the default read budget (360 a minute) is
// 36, about what the rounds this test watches read, and a round refused its reads takes fewer slots than it paid.
const ROOMY = { ...BUDGET_FOR_TESTS, read: { limit: 100_000, windowMs: 60_000 } };
test.before(async () => { s = await startSentinelStack({ renderLimits: ROOMY }); });
test.after.always(async () => { await s?.close(); });

test('the reads that redacted a finding are not paid ahead for the rounds after it', async (t) => {
  const ida = await tenant(s.stack, 'ida-prepaid', ['api', 'web']);
  const userId = (await ida.agent.get('/api/session')).json.user.id as number;
  const lock = `${sentinelKeys(s.stack.config.redisPrefix).status(userId)}:lock`;
  const sent = recordCommands(s.worker.context.redis, t);

  // Each ended round's budget takes (one script call each, on this worker's data connection: the only
  // key in it here), and what Render served the key meanwhile.
  const due = scheduleKeys(s.stack.config.redisPrefix).due;
  // A round's end: its one script over the user's keys and the schedule (a finding's write holds the lock too).
  const isEnd = (c: SentCommand) => c.name === 'evalsha' && c.args.includes(lock) && c.args.includes(due);
  const rounds = () => {
    const found: number[] = [];
    let takes: number | null = null;
    for (const c of sent) {
      if (c.name === 'set' && c.args[0] === lock) takes = 0;
      if (takes === null) continue;
      if (c.name === 'evalsha' && c.args.some((a) => a.includes(':budget:'))) takes += 1;
      if (isEnd(c)) { found.push(takes); takes = null; }
    }
    return found;
  };
  const redactionReads = () => ['/services/{serviceId}/env-vars', '/services/{serviceId}/secret-files', '/env-groups']
    .reduce((n, route) => n + (s.stack.render.stats().byRoute[`GET ${route}`] ?? 0), 0);

  await enable(ida.agent);
  await waitFor('four rounds', async () => rounds().length >= 4, 60_000);
  t.is(redactionReads(), 0, 'no finding yet, nothing redacted');
  const quiet = rounds().slice(2);
  // Audit log, service list, each service's events (two), logs: what a round finding nothing new takes.
  t.true(quiet.every((n) => n === 5), `budget takes per round before the finding: ${quiet.join(', ')}`);

  await fetch(`${s.stack.render.controlUrl}/logs`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ resourceId: ida.services[0]!.id, messages: [`TypeError: boom ${SECRET_ENV_VALUE}`] }),
  });
  const finding = await waitFor('the finding', async () => (await findings(ida.agent)).find((f) => f.kind === 'app_log'));
  t.false(JSON.stringify(finding).includes(SECRET_ENV_VALUE), 'redacted with the values read');
  const reads = redactionReads();
  t.true(reads >= 3, `env vars, secret files and env groups read: ${reads}`);

  // The round that redacted took its five paid ahead and one more for each read; the rounds after it, the five.
  const seen = rounds().length;
  await waitFor('four rounds after the finding', async () => rounds().length >= seen + 4, 60_000);
  const all = rounds();
  const redacting = all.findIndex((n) => n > 5);
  t.is(all[redacting], 5 + reads, `budget takes per round: ${all.join(', ')}`);
  t.deepEqual(all.slice(redacting + 1), all.slice(redacting + 1).map(() => 5), `budget takes per round: ${all.join(', ')}`);
  t.is(redactionReads(), reads, 'no finding since, nothing more redacted');
});

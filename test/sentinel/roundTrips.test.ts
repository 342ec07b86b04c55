import test from 'ava';
import { BUDGET_FOR_TESTS } from './limits.js';
import { enable, startSentinelStack, tenant, waitFor, type SentinelStack } from './support.js';
import { sentinelKeys } from '../../server/sentinel/store.js';
import { sessionKeys } from '../../server/sessions/records.js';
import { recordCommands, type SentCommand } from '../helpers/redis.js';

// What one Sentinel round asks of Redis on the worker's data connection (issue 17's sentinel row: each
// round trip is a socket write and a wake-up, the larger part of a round's CPU). Commands sent in one
// write share the `stream` ioredis hands to sendCommand, so the writes can be told apart.

let s: SentinelStack;
test.before(async () => { s = await startSentinelStack({ renderLimits: BUDGET_FOR_TESTS }); });
test.after.always(async () => { await s?.close(); });

test('a round that finds nothing new: two writes to Redis (its start with the session read and every budget take, paid ahead as many as last round made; its end) and no cursor written', async (t) => {
  const gil = await tenant(s.stack, 'gil-trips', ['api', 'web']);
  const userId = (await gil.agent.get('/api/session')).json.user.id as number;
  const keys = sentinelKeys(s.stack.config.redisPrefix);
  const lock = `${keys.status(userId)}:lock`;
  const sent = recordCommands(s.worker.context.redis, t);

  await enable(gil.agent);
  // Rounds run every second: the first ones move the cursors to what the workspace already holds.
  // A round's end is one script (guardedWrites.ts) over its keys, the lock among them.
  const isEnd = (c: SentCommand) => c.name === 'evalsha' && c.args.includes(lock);
  const ends = () => sent.filter(isEnd).length;
  await waitFor('five rounds', async () => ends() >= 5, 60_000);

  // Each ended round: its commands (this user's Sentinel keys, session and the key's budget: the only key
  // in this worker's Redis traffic here) and where it began and ended in `sent`.
  const roundsOf = () => {
    const found: Array<{ cmds: SentCommand[]; from: number; to: number }> = [];
    let current: SentCommand[] | null = null;
    let from = 0;
    sent.forEach((c, i) => {
      if (c.name === 'set' && c.args[0] === lock) { current = []; from = i; }
      if (!current) return;
      if (c.args.some((a) => a.includes(`:sentinel:`) || a.includes(':budget:') || a.includes(':sess:'))) current.push(c);
      if (isEnd(c)) { found.push({ cmds: current, from, to: i }); current = null; }
    });
    return found;
  };
  const readsSession = (cmds: SentCommand[]) => cmds.some((c) => c.name === 'hmget' && c.args[0]!.includes(':sess:'));

  // The worker's copy of the session is dropped (as the web's idle touch does; a field nothing reads):
  // the next round reads the session from Redis. The change reaches the worker's cache when it does: a
  // round running then reads the session again midway (it must see a change; it is not a round that
  // finds nothing new, and is left out) and may keep it for the next round. So the session is changed
  // again until a round begun after a change has read it. A change is known to be handled once its
  // reply and one more round trip came (Redis writes the invalidation before the reply).
  const [ref] = await s.stack.redis.client.smembers(sessionKeys(s.stack.config.redisPrefix).userIndex(userId));
  const changes: Array<{ from: number; to: number }> = [];
  for (let attempt = 1; attempt <= 5; attempt++) {
    const from = sent.length;
    await s.stack.redis.client.hset(sessionKeys(s.stack.config.redisPrefix).record(ref!), 'probe', String(attempt));
    await s.stack.redis.client.ping();
    await new Promise((resolve) => setImmediate(resolve));
    const to = sent.length;
    changes.push({ from, to });
    const after = await waitFor('three rounds begun after the change', async () => {
      const begunAfter = roundsOf().filter((r) => r.from >= to);
      return begunAfter.length >= 3 && begunAfter;
    }, 60_000);
    if (after.some((r) => readsSession(r.cmds))) break;
  }

  // From the fourth round on (nothing happened in the workspace since the first), but for rounds that ran
  // while the session changed.
  const later = roundsOf().slice(3).filter((r) => !changes.some((ch) => r.from < ch.to && r.to >= ch.from)).map((r) => r.cmds);
  t.true(later.length >= 5, `${later.length} rounds checked`);
  for (const round of later) {
    const writes = new Set(round.map((c) => c.write));
    const names = round.map((c) => c.name).join(' ');
    const budget = round.filter((c) => c.name === 'evalsha' && c.args.some((a) => a.includes(':budget:')));
    t.is(budget.length, 5, `audit, services, two events, logs: ${names}`);
    t.is(writes.size, 2, names);
    const start = round[0]!;
    t.deepEqual(budget.map((c) => c.write === start.write), [true, true, true, true, true], 'every budget take goes with the start');
    // The end script's arguments: sha, key count, 5 keys, 8 values (the lock's token last), then the cursors moved (field, value).
    t.deepEqual(round.filter(isEnd).map((c) => c.args.length), [15], 'no cursor moved: none written');
  }
  const sessionReads = later.flatMap((round) => round.filter((c) => c.name === 'hmget' && c.args[0]!.includes(':sess:')).map((c) => ({ c, start: round[0]! })));
  t.true(sessionReads.length >= 1, 'a round read the session from Redis');
  for (const { c, start } of sessionReads) t.is(c.write, start.write, 'the session read goes with the round\'s start');
});

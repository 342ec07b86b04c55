import test from 'ava';
import { BUDGET_FOR_TESTS } from './limits.js';
import { enable, startSentinelStack, tenant, waitFor, type SentinelStack } from './support.js';
import { sentinelKeys } from '../../server/sentinel/store.js';
import { sessionKeys } from '../../server/sessions/records.js';

// What one Sentinel round asks of Redis on the worker's data connection (issue 17's sentinel row: each
// round trip is a socket write and a wake-up, the larger part of a round's CPU). Commands sent in one
// write share the `stream` ioredis hands to sendCommand, so the writes can be told apart.

let s: SentinelStack;
test.before(async () => { s = await startSentinelStack({ renderLimits: BUDGET_FOR_TESTS }); });
test.after.always(async () => { await s?.close(); });

interface Sent { name: string; args: string[]; write: object }

test('a round that finds nothing new: two writes to Redis (its start with the session read and every budget take, paid ahead as many as last round made; its end) and no cursor written', async (t) => {
  const gil = await tenant(s.stack, 'gil-trips', ['api', 'web']);
  const userId = (await gil.agent.get('/api/session')).json.user.id as number;
  const keys = sentinelKeys(s.stack.config.redisPrefix);
  const lock = `${keys.status(userId)}:lock`;
  const redis = s.worker.context.redis;
  const sent: Sent[] = [];
  const original = redis.sendCommand.bind(redis);
  type Args = Parameters<typeof original>;
  redis.sendCommand = (command: Args[0], stream?: Args[1]) => {
    sent.push({ name: command.name, args: command.args.map(String), write: stream ?? {} });
    return original(command, stream);
  };
  t.teardown(() => { redis.sendCommand = original; });

  await enable(gil.agent);
  // Rounds run every second: the first ones move the cursors to what the workspace already holds.
  // A round's end is one script (guardedWrites.ts) over its keys, the lock among them.
  const isEnd = (c: Sent) => c.name === 'evalsha' && c.args.includes(lock);
  const ends = () => sent.filter(isEnd).length;
  await waitFor('five rounds', async () => ends() >= 5, 60_000);
  // The worker's copy of the session is dropped (as the web's idle touch does; a field nothing reads):
  // the next round reads the session from Redis.
  const [ref] = await s.stack.redis.client.smembers(sessionKeys(s.stack.config.redisPrefix).userIndex(userId));
  await s.stack.redis.client.hset(sessionKeys(s.stack.config.redisPrefix).record(ref!), 'probe', '1');
  await waitFor('three more rounds', async () => ends() >= 8, 60_000);

  // From the fourth round on (nothing happened in the workspace since the first).
  const rounds: Sent[][] = [];
  let current: Sent[] | null = null;
  for (const c of sent) {
    if (c.name === 'set' && c.args[0] === lock) current = [];
    if (!current) continue;
    // This user's Sentinel keys, session and the key's budget (the only key in this worker's Redis traffic here).
    if (c.args.some((a) => a.includes(`:sentinel:`) || a.includes(':budget:') || a.includes(':sess:'))) current.push(c);
    if (isEnd(c)) { rounds.push(current); current = null; }
  }
  const later = rounds.slice(3, 8);
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

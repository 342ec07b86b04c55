import test, { type ExecutionContext } from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, QUICK_PHASES } from '../helpers/pipelineStack.js';
import { addNodeRepo, signedInWithKey, waitFinished, waitStatus, type TestWorker } from '../helpers/pipeline.js';

// What one deploy asks of Redis on the worker's data connection (issue 17: each round trip is a socket
// write, a wake-up and promise work in the worker). Commands sent in one auto-pipelined write share the
// `stream` ioredis hands to sendCommand, so the writes can be told apart.

let stack: Stack;
let worker: TestWorker;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack, worker } = p));

interface Sent { name: string; args: string[]; write: object }

/** Every command the worker's data connection sends from now on, with the write it went out in. */
function recordCommands(t: ExecutionContext): Sent[] {
  const redis = worker.context.redis;
  const sent: Sent[] = [];
  const original = redis.sendCommand.bind(redis);
  const alone = {};
  type Args = Parameters<typeof original>;
  redis.sendCommand = (command: Args[0], stream?: Args[1]) => {
    sent.push({ name: command.name, args: command.args.map(String), write: stream ?? alone });
    return original(command, stream);
  };
  t.teardown(() => { redis.sendCommand = original; });
  return sent;
}

test('a new service deployed and watched: its pending entry goes once, its live write reads no index, its env values go with the ids, its pending status with the next step', async (t) => {
  const { agent } = await signedInWithKey(stack, 'trips');
  addNodeRepo(stack, 'trips', 'app');
  const sent = recordCommands(t);
  // Render's build lasts until the record shows it, so the job runs again (a watch check) whatever the load.
  const release = stack.render.holdPhase({ serviceName: 'trips-app' }, 'build_in_progress');
  t.teardown(release);
  const res = await agent.post('/api/render/deploy', { github_repo: 'trips/app', project_name: 'trips-app', env_vars: [{ key: 'TOKEN', value: 'round-trip-secret' }] });
  t.is(res.status, 202, res.text);
  const id = res.json.id as string;
  await waitStatus(agent, id, 'build_in_progress');
  release();
  const done = await waitFinished(agent, id);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  const statuses = done.timeline.map((e: { status: string }) => e.status);
  t.true(statuses.includes('build_in_progress'), `watched over several runs of its job: ${statuses}`);

  const mine = sent.filter((c) => c.args.some((a) => a.includes(id)));
  const pending = mine.filter((c) => c.name === 'zrem' && c.args[0]!.endsWith(':pending'));
  t.is(pending.length, 1, 'the pending entry is taken on the first run only, not on each watch check');
  const byService = `:service:${done.serviceId}`;
  t.deepEqual(sent.filter((c) => c.name === 'zrange' && c.args[0]!.endsWith(byService)), [], 'the live write found no older deployment of the new service itself');
  const envDrops = mine.filter((c) => c.name === 'del' && c.args[0]!.endsWith(`${id}:env`));
  t.true(envDrops.length >= 1);
  const created = mine.find((c) => c.name === 'evalsha' && c.args.includes('created'));
  t.truthy(created);
  t.is(envDrops[0]!.write, created!.write, 'the env values go in the same write as the service ids');
  // The pending commit status is asked for alongside the next step (the name check's budget take), not before it.
  const askedPending = sent.findIndex((c) => c.name === 'evalsha' && c.args.some((a) => a.endsWith(`${id}:commit-status`)) && c.args.includes('pending'));
  t.true(askedPending >= 0);
  const nextBudget = sent.slice(askedPending + 1).find((c) => c.name === 'evalsha' && c.args.some((a) => a.includes(':budget:')));
  t.is(nextBudget?.write, sent[askedPending]!.write, 'one write: the ask and the budget take of the service lookup');
});

// Serial (run before the other test): alone, so that each write holds this deploy's commands only.
test.serial('a deploy\'s first step goes with its credentials\' read, what follows detection with its write, budget slots with the record reads and writes before their calls, the audit heads with the final write', async (t) => {
  const { agent } = await signedInWithKey(stack, 'ahead');
  addNodeRepo(stack, 'ahead', 'app');
  const sent = recordCommands(t);
  const res = await agent.post('/api/render/deploy', { github_repo: 'ahead/app', project_name: 'ahead-app' });
  t.is(res.status, 202, res.text);
  const id = res.json.id as string;
  const done = await waitFinished(agent, id);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  const evalWith = (arg: string) => sent.find((c) => c.name === 'evalsha' && c.args.some((a) => a.endsWith(`deployment:${id}`)) && c.args.includes(arg));
  /** The commands sent in the same write as `c`, named `name`, with a first key that passes `key` (EVALSHA: sha, key count, keys). */
  const alongside = (c: Sent | undefined, name: string, key: (k: string) => boolean) =>
    (c ? sent.filter((o) => o.write === c.write && o.name === name && key(o.args[name === 'evalsha' ? 2 : 0]!)) : []);
  const budgetOf = (bucket: string) => (k: string) => k.includes(':budget:') && k.endsWith(`:${bucket}`);

  const verifying = evalWith('verifying');
  t.truthy(verifying);
  t.is(alongside(verifying, 'hmget', (k) => k.includes(':sess:')).length, 1, 'one write: the verifying step and the session\'s read');

  const detected = evalWith('creating_service');
  t.truthy(detected);
  t.is(alongside(detected, 'evalsha', (k) => k.endsWith(`${id}:commit-status`)).length, 1, 'one write: detection\'s result and the pending status\'s ask');
  t.is(alongside(detected, 'evalsha', budgetOf('read')).length, 1, 'one write: detection\'s result and the budget slot of the lookup by name');

  const envRead = sent.find((c) => c.name === 'get' && c.args[0]!.endsWith(`${id}:env`));
  t.truthy(envRead);
  t.is(alongside(envRead, 'evalsha', budgetOf('createService')).length, 1, 'one write: the creation\'s budget slot and the reads before it (env values, fresh record)');

  const created = evalWith('created');
  t.truthy(created);
  t.is(alongside(created, 'evalsha', budgetOf('read')).length, 1, 'one write: the service ids and the budget slot of the first look at the deploy');

  const live = evalWith('live');
  t.truthy(live);
  t.is(alongside(live, 'hmget', (k) => k.includes(':audit:') && k.endsWith(':head')).length, 2, 'one write: the final record and the audit heads (user, global) its finished entry needs');
});

import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { signedInWithKey } from '../helpers/pipeline.js';

// What one deploy request asks of Redis on the web process's queue connection (issue 17). An
// auto-pipelined batch is a new ioredis Pipeline, which copies every script defined on its
// connection (BullMQ's ~60) onto itself: the job add, the one command a deploy request sends there,
// goes out on its own instead.

let stack: Stack;
test.before(async () => { stack = await startStack(); });
test.after.always(async () => { await stack?.close(); });

test('a deploy request adds its job straight on the queue connection, not through an auto-pipelined batch', async (t) => {
  const { agent } = await signedInWithKey(stack, 'queue-trips');
  const redis = stack.web.deps.queueRedis;
  const sent: { name: string; args: string[]; batched: boolean }[] = [];
  const original = redis.sendCommand.bind(redis);
  type Args = Parameters<typeof original>;
  redis.sendCommand = (command: Args[0], stream?: Args[1]) => {
    sent.push({ name: command.name, args: command.args.map(String), batched: stream !== undefined });
    return original(command, stream);
  };
  t.teardown(() => { redis.sendCommand = original; });
  const res = await agent.post('/api/render/deploy', { github_repo: 'queue-trips/app', project_name: 'queue-trips-app' });
  t.is(res.status, 202, res.text);
  const adds = sent.filter((c) => c.args.some((a) => a.endsWith(':deploys:marker')));
  t.is(adds.length, 1, JSON.stringify(sent.map((c) => c.name)));
  t.false(adds[0]!.batched, 'written on its own');
});

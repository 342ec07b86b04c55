import test from 'ava';
import { createRedis } from '../../server/redis.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { waitUntil } from '../helpers/wait.js';

// An outside connection PSUBSCRIBEd to a pattern matching the fence channel (an operator's
// `redis-cli psubscribe '*'`, a monitoring tool) receives every fence message and never acks. The
// ending side must count only the connections subscribed to the channel itself (server/sessions/fence.ts),
// or every sign-out waits out SESSION_END_FENCE_MS and logs that a process did not confirm.
let stack: Stack;
// Bounded far past any ack here: a warning can only come from a receiver that never acks.
const FENCE_MS = 30_000;
test.before(async () => { stack = await startStack({ env: { SESSION_END_FENCE_MS: String(FENCE_MS) } }); });
test.after.always(async () => { await stack?.close(); });

const NOT_CONFIRMED = 'not every process confirmed';

test('a sign-out with pattern subscribers listening is answered on the processes\' acks, with no warning', async (t) => {
  t.timeout(FENCE_MS * 4); // the old code answers at the fence's bound, then fails below
  const watcher = createRedis(stack.redis.url, 'subscriber', { protocol: 2 });
  t.teardown(() => { watcher.disconnect(); });
  const fenceChannel = `${stack.redis.prefix}:session-fence`;
  const fencesSeen: string[] = [];
  watcher.on('pmessage', (pattern: string, channel: string) => { if (channel === fenceChannel) fencesSeen.push(pattern); });
  const agent = stack.agent();
  await stack.signIn(agent, 'pattern-watched');
  await watcher.psubscribe('*', `${stack.redis.prefix}:*`);
  t.is((await agent.get('/api/session')).status, 200);
  const out = await agent.post('/api/auth/logout');
  t.is(out.status, 200, out.text);
  t.is((await agent.get('/api/session')).status, 401, 'signed out');

  // The watcher was among the fence's receivers, on both its patterns...
  await waitUntil('the watcher received the fence', async () => fencesSeen.length >= 2, 20_000, 10);
  t.deepEqual([...fencesSeen].sort(), ['*', `${stack.redis.prefix}:*`]);
  // ...and the ender did not wait for it.
  t.deepEqual(stack.logs.filter((line) => line.includes(NOT_CONFIRMED)), []);
});

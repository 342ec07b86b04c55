import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { openSseAs } from '../helpers/sse.js';

// The web process's one subscriber connection (server/events/hub.ts) carries every stream's updates
// and session ends. Redis drops a subscription with its connection, and ioredis subscribes again on
// the next one, but what was published in between is gone: the streams stayed open, quietly missing
// it (a deploy shown "building" after it went live; a sign-out heard only at the next keepalive). A
// stream whose updates may have been lost now ends, so the page reconnects and catches up.
const run = process.env.REDIS_URL ? test.serial.skip : test.serial; // CLIENT KILL needs a private redis-server

let stack: Stack;
test.before(async () => { if (!process.env.REDIS_URL) stack = await startStack(); });
test.after.always(async () => { await stack?.close(); });

/** The hub's connection: a subscriber without client tracking (the session caches' have `redir=` their own id). */
async function hubConnection(): Promise<string> {
  const list = await stack.redis.client.client('LIST') as string;
  const ids = list.split('\n').filter((l) => /\bname=orchestrator-subscriber\b/.test(l) && /\bredir=-1\b/.test(l) && /\bsub=[1-9]/.test(l)).map((l) => /\bid=(\d+)/.exec(l)![1]!);
  if (ids.length !== 1) throw new Error(`expected one event hub connection, found ${ids.length}`);
  return ids[0]!;
}

run('a stream whose subscriber connection was lost ends, so the page catches up; the next stream gets updates', async (t) => {
  const agent = stack.agent();
  await stack.signIn(agent, 'blip', { id: 7301 });
  const channel = stack.web.deps.deployments.keys.channel(7301);
  const update = (id: string) => JSON.stringify({ id, status: 'live', updatedAt: new Date().toISOString() });

  const sse = await openSseAs(agent, '/api/events');
  await sse.waitFor((text) => text.includes('event: stream'));
  // Killed and published in one MULTI: the update is sent while the hub has no connection, and is lost.
  await stack.redis.client.multi().client('KILL', 'ID', await hubConnection()).publish(channel, update('dep-lost')).exec();
  await t.throwsAsync(sse.waitFor(() => false, 60_000), { message: /^stream ended/ }, 'the stream ends: its updates may have been lost');
  t.false(sse.text().includes('dep-lost'));

  const next = await openSseAs(agent, '/api/events');
  t.is(next.status, 200);
  await next.waitFor((text) => text.includes('event: subscribed'));
  await stack.redis.client.publish(channel, update('dep-after'));
  await next.waitFor((text) => text.includes('"id":"dep-after"'));
  next.close();
  t.pass();
});

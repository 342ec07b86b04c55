import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { startWebBehindHubProxy } from '../ops/support/trackingProxy.js';
import { openSseStream } from '../helpers/sse.js';

// Live-update streams are fed by one subscriber connection per web process (events/hub.ts). When it
// is lost, what is published until it is back never arrives, so its streams end and their pages
// reconnect and catch up. A connection that stalls (open, silent: a paused Redis, a half-open link)
// raised no event: the streams stayed open, delivering nothing, and a page showed a deploy as
// building long after it went live. A second web process reaches Redis through a proxy that can hold
// what Redis sends its hub connection.
const HEARTBEAT_MS = 200;
let stack: Stack;
let behind: Awaited<ReturnType<typeof startWebBehindHubProxy>>;
test.before(async () => {
  stack = await startStack();
  behind = await startWebBehindHubProxy(stack, HEARTBEAT_MS);
});
test.after.always(async () => { await behind?.close(); await stack?.close(); });

/** How the stream's wait ended: 'ended' (the server closed it) or 'open' (still open at the bound). */
const endedWithin = (stream: Awaited<ReturnType<typeof openSseStream>>, ms: number) =>
  stream.waitFor(() => false, ms).then(() => 'open', (err: Error) => (err.message.startsWith('stream ended') ? 'ended' : 'open'));

test.serial('a stalled hub connection ends its streams, and streams opened once it is back get updates', async (t) => {
  const { proxy, web } = behind;
  const user = stack.agent();
  await stack.signIn(user, 'stalled-watcher');
  const cookie = user.cookieHeader();
  const stream = await openSseStream(`${web.url}/api/events`, { cookie });
  t.teardown(() => stream.close());
  t.is(stream.status, 200);
  await stream.waitFor((text) => text.includes('event: stream'));

  proxy.hold(); // the hub connection stalls: open, silent
  t.is(await endedWithin(stream, 20 * HEARTBEAT_MS), 'ended', 'the stream ended, for its page to reconnect and catch up');

  proxy.release();
  // Its page reconnects: once the hub is subscribed again, updates arrive.
  let again: Awaited<ReturnType<typeof openSseStream>> | undefined;
  for (const end = Date.now() + 30_000; Date.now() < end;) {
    again = await openSseStream(`${web.url}/api/events`, { cookie });
    if (again.status === 200) break;
    again.close();
    await new Promise((r) => setTimeout(r, 100));
  }
  t.teardown(() => again?.close());
  t.is(again?.status, 200);
  await again!.waitFor((text) => text.includes('event: stream'));
  const channel = web.deps.deployments.keys.channel(Number((await user.get('/api/session')).json.user.id));
  await stack.redis.client.publish(channel, JSON.stringify({ id: 'dep-after-stall', status: 'live', updatedAt: new Date().toISOString() }));
  await again!.waitFor((text) => text.includes('dep-after-stall'));
  t.pass();
});

import test, { type ExecutionContext } from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import type { WebProcess } from '../../server/web.js';
import { startWebBehindHubProxy, type TrackingProxy } from '../ops/support/trackingProxy.js';
import { openSseStream } from '../helpers/sse.js';

// A live-updates stream ends with its session (events/sessionEnd.ts: the end is published on the
// session's channel). A stream whose request was in flight when the session ended — its session
// already checked, its subscriptions not yet made — subscribed after the end was published, never
// heard it, and delivered the user's updates on the ended session until the keepalive's re-check.
// Here a second web process reaches Redis through a proxy that holds what Redis sends its pub/sub
// connection, so the sign-out lands while the stream's subscription is on its way.
let stack: Stack;
let proxy: TrackingProxy;
let web: WebProcess;
let behind: Awaited<ReturnType<typeof startWebBehindHubProxy>>;
test.before(async () => {
  stack = await startStack();
  // The hub's heartbeat at its longest: a hold stretched by load is not taken for a stall (sse-stalled-hub.test.ts).
  behind = await startWebBehindHubProxy(stack, 600_000);
  ({ proxy, web } = behind);
});
test.after.always(async () => { await behind?.close(); await stack?.close(); });

/**
 * `login` signs in, opens a stream on the second process and signs out while the stream's subscription is
 * on its way back from Redis. `readBefore`: the second process reads the session once first (then it is
 * cached there); else the stream's request is the first there and reads it from Redis, as does one whose
 * process' cache is not live (its tracking heartbeat not proven: an event loop stalled by load).
 */
async function signOutWhileSubscribing(t: ExecutionContext, login: string, readBefore: boolean): Promise<void> {
  // Another user's stream on the second process opens its hub connection (the one the proxy holds).
  const other = stack.agent();
  await stack.signIn(other, `${login}-other`);
  const warm = await openSseStream(`${web.url}/api/events`, { cookie: other.cookieHeader() });
  t.teardown(() => warm.close());
  t.is(warm.status, 200);
  await warm.waitFor((text) => text.includes('event: stream'));

  const user = stack.agent();
  await stack.signIn(user, login);
  const cookie = user.cookieHeader();
  const channel = web.deps.deployments.keys.channel(Number((await user.get('/api/session')).json.user.id));
  if (readBefore) t.is((await fetch(`${web.url}/api/session`, { headers: { cookie } })).status, 200);

  proxy.hold();
  const opening = openSseStream(`${web.url}/api/events`, { cookie });
  opening.catch(() => {}); // awaited below; should the wait before fail, its end at teardown is no unhandled rejection
  // Its session checked, its subscription reached Redis: Redis' confirmation of this stream's channel is
  // held on its way back. Bounded only against a hang (2-core CI with Chromium suites beside it).
  // A stream answered before its subscription reached Redis was refused before subscribing: say how.
  const answeredFirst = await Promise.race([
    proxy.whenHeld(`$9\r\nsubscribe\r\n$${channel.length}\r\n${channel}\r\n`, 90_000).then(() => null),
    opening.then((s) => `answered ${s.status} before its subscription was held: ${s.text().slice(0, 200)}`, (err: unknown) => `failed before its subscription was held: ${String(err)}`),
  ]);
  if (answeredFirst !== null) { proxy.release(); t.fail(answeredFirst); return; }
  t.is((await user.post('/api/auth/logout')).status, 200);
  proxy.release();

  const stream = await opening;
  t.teardown(() => stream.close());
  t.is(stream.status, 401, `the stream outlived its session: ${stream.text().slice(0, 200)}`);
}

test.serial('a stream opened while its session signs out is refused, not kept on the ended session', async (t) => {
  await signOutWhileSubscribing(t, 'race-leaver', true);
});

// The session read from Redis on its way to subscribing. The proxy once held the process's data connection
// too (it PUBLISHes each stream's marker on the events channel: startWebBehindHubProxy), so this read
// waited there until its 10 s command timeout (503) and nothing was subscribed: the first test's 'nothing
// held within 90 s' in ~1 of 5 full CI runs, where load stalled the event loop past the session cache's
// heartbeat and its copy was not used.
test.serial('a stream opened while its session signs out is refused, its session read from Redis by that process', async (t) => {
  await signOutWhileSubscribing(t, 'race-cold', false);
});

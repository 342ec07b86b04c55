import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { startWeb, type WebProcess } from '../../server/web.js';
import { createLogger } from '../../server/logger.js';
import { startTrackingProxy, type TrackingProxy } from '../ops/support/trackingProxy.js';
import { openSseStream } from '../helpers/sse.js';
import { freePort } from '../helpers/ports.js';

// A live-updates stream ends with its session (events/sessionEnd.ts: the end is published on the
// session's channel). A stream whose request was in flight when the session ended — its session
// already checked, its subscriptions not yet made — subscribed after the end was published, never
// heard it, and delivered the user's updates on the ended session until the keepalive's re-check.
// Here a second web process reaches Redis through a proxy that holds what Redis sends its pub/sub
// connection, so the sign-out lands while the stream's subscription is on its way.
let stack: Stack;
let proxy: TrackingProxy;
let web: WebProcess;
test.before(async () => {
  stack = await startStack();
  // The event hub's connection: the one that subscribes to users' deployment channels.
  proxy = await startTrackingProxy(stack.config.redisUrl, '', (sniffed) => /SUBSCRIBE/i.test(sniffed) && sniffed.includes(`${stack.config.redisPrefix}:events:`));
  web = await startWeb({ config: { ...stack.config, redisUrl: proxy.url, port: await freePort() }, logger: createLogger({ level: 'silent' }) });
});
test.after.always(async () => { proxy?.release(); await web?.close(1_000); await proxy?.close(); await stack?.close(); });

test.serial('a stream opened while its session signs out is refused, not kept on the ended session', async (t) => {
  // Another user's stream on the second process opens its hub connection (the one the proxy holds).
  const other = stack.agent();
  await stack.signIn(other, 'race-other');
  const warm = await openSseStream(`${web.url}/api/events`, { cookie: other.cookieHeader() });
  t.is(warm.status, 200);
  await warm.waitFor((text) => text.includes('event: stream'));

  const user = stack.agent();
  await stack.signIn(user, 'race-leaver');
  const cookie = user.cookieHeader();
  t.is((await fetch(`${web.url}/api/session`, { headers: { cookie } })).status, 200);

  proxy.hold();
  const opening = openSseStream(`${web.url}/api/events`, { cookie });
  // Its session checked, its subscription reached Redis; the answer is held on its way back.
  await proxy.whenHeld(`${stack.config.redisPrefix}:events:`, 10_000);
  t.is((await user.post('/api/auth/logout')).status, 200);
  proxy.release();

  const stream = await opening;
  t.teardown(() => stream.close());
  t.is(stream.status, 401, `the stream outlived its session: ${stream.text().slice(0, 200)}`);
  warm.close();
});

import test from 'ava';
import { PROGRESS_WAIT_MS, PROCESS_TEST_TIMEOUT_MS, type OpsEnv, type ChildWeb } from './support/cluster.js';
import type { TrackingProxy } from './support/trackingProxy.js';
import { startProxiedPair, type ProxiedPair } from './support/proxiedPair.js';
import { Roamer, signInAcross, connectRenderKey } from './support/users.js';

// The known window of the session cache (SECURITY.md): Redis may write a sign-out's reply before the
// invalidation it sends another process, so a request sent after the sign-out answered could reach that
// process first and be served its copy. The ending side closes it: its answer waits until every
// process acked a fence message that Redis queued behind the invalidation (server/sessions/fence.ts).
// Here process B reaches Redis through a proxy that holds what Redis sends B's tracking connection;
// the order of events is recorded, never their durations.

let pair: ProxiedPair;
let env: OpsEnv;
let a: ChildWeb;
let b: ChildWeb;
let proxy: TrackingProxy;
test.before(async () => {
  // A fence wait bounded well past this test's guard: an answer here means B acked, not a timeout. B's
  // heartbeat at its longest, so that a hold stretched by load is not taken for a stall (which drops
  // the held connection, and with it the ack: session-cache-stall.test.ts).
  pair = await startProxiedPair({ SESSION_END_FENCE_MS: String(PROCESS_TEST_TIMEOUT_MS * 2), SESSION_CACHE_HEARTBEAT_MS: '60000' });
  ({ env, a, b, proxy } = pair);
});
test.after.always(async () => { await pair?.close(); });

/**
 * Hold B's tracking connection, run `end` on A, and once its write has reached B's held connection,
 * wait for whichever comes first: A's answer (nothing waits for B), or A's fence reaching B. If the
 * answer came first, `observe` on B runs right then, while B's invalidation is still held; else after
 * the release and the answer. Returns the order of events and what B showed after the answer.
 */
async function endWhileHeld<T>(end: () => Promise<{ status: number }>, observe: () => Promise<T>) {
  const order: string[] = [];
  proxy.hold();
  const ending = end().then((r) => { order.push('answered'); return r; });
  try {
    // The write reached Redis and its invalidation is held on its way to B.
    await proxy.whenHeld(`${env.redis.prefix}:sess:`, PROGRESS_WAIT_MS);
    const first = await Promise.race([ending.then(() => 'answered'), proxy.whenHeld(`${env.redis.prefix}:session-fence`, PROGRESS_WAIT_MS).then(() => 'fence')]);
    const seenWhileHeld = first === 'answered' ? await observe() : undefined;
    order.push('released');
    proxy.release();
    const answer = await ending;
    return { order, answer, seen: seenWhileHeld ?? await observe() };
  } finally {
    proxy.release();
  }
}

test.serial('a sign-out on A answers only once B dropped its copy: the old cookie is 401 on B right after', async (t) => {
  t.timeout(PROCESS_TEST_TIMEOUT_MS);
  const user = new Roamer([a.url, b.url]);
  await signInAcross(env, user, 'fence-leaver');
  const cookie = user.at(0).cookieHeader();
  const onB = async () => (await fetch(`${b.url}/api/session`, { headers: { cookie } })).status;
  t.is(await onB(), 200);
  t.is(await onB(), 200, 'B serves it from its copy');
  const { order, answer, seen } = await endWhileHeld(() => user.at(0).post('/api/auth/logout'), onB);
  t.is(answer.status, 200);
  t.is(seen, 401, 'a request to B sent after the sign-out answered');
  t.deepEqual(order, ['released', 'answered'], 'the sign-out answered only after B\'s tracking connection was released');
});

test.serial('a key cleared on A answers only once B dropped its copy: B shows no key right after', async (t) => {
  t.timeout(PROCESS_TEST_TIMEOUT_MS);
  const user = new Roamer([a.url, b.url]);
  await signInAcross(env, user, 'fence-clearer');
  await connectRenderKey(env, user.at(0), 'fence-clearer');
  const onB = async () => ((await (user.at(1)).get('/api/render/status')).json as { configured: boolean }).configured;
  t.true(await onB());
  t.true(await onB(), 'B serves it from its copy');
  const { order, answer, seen } = await endWhileHeld(() => user.at(0).post('/api/render/clear-credentials'), onB);
  t.is(answer.status, 200);
  t.false(seen, 'a request to B sent after the clear answered');
  t.deepEqual(order, ['released', 'answered'], 'the clear answered only after B\'s tracking connection was released');
});

import test from 'ava';
import { eventually, sleep, commandCalls, PROGRESS_WAIT_MS, PROCESS_TEST_TIMEOUT_MS } from './support/cluster.js';
import { startProxiedPair, type ProxiedPair } from './support/proxiedPair.js';
import { Roamer, signInAcross } from './support/users.js';

// A session cache (server/sessions/cache.ts) may serve its copies only while its tracking connection
// delivers invalidations. A connection that stalls (open, but nothing arrives: a paused Redis, a
// half-open link) raises no event, so without a heartbeat the cache went on serving a session signed
// out on another process until the entry's age bound (60 s). Process B reaches Redis through a proxy
// that can hold everything Redis sends B's tracking connection, for as long as the test likes.

const HEARTBEAT_MS = 250;

let pair: ProxiedPair;
// A's sign-out waits for B's fence ack (never coming while B is stalled) at most a heartbeat's interval
// and deadline, as the defaults do: by then B serves nothing from memory.
test.before(async () => { pair = await startProxiedPair({ SESSION_CACHE_HEARTBEAT_MS: String(HEARTBEAT_MS), SESSION_END_FENCE_MS: String(2 * HEARTBEAT_MS) }); });
test.after.always(async () => { await pair?.close(); });

test.serial('a stalled tracking connection: a session signed out on A is refused on B once the sign-out answered, and B caches again once tracking is back', async (t) => {
  t.timeout(PROCESS_TEST_TIMEOUT_MS);
  const { env, a, b, proxy } = pair;
  const calls = (command: string) => commandCalls(env, command);
  const onB = async (cookie: string) => (await fetch(`${b.url}/api/session`, { headers: { cookie } })).status;
  const user = new Roamer([a.url, b.url]);
  await signInAcross(env, user, 'stall-leaver');
  const cookie = user.at(0).cookieHeader();
  t.is(await onB(cookie), 200);
  t.is(await onB(cookie), 200, 'B serves it from its copy');
  // The heartbeat costs a PING per interval per tracking connection (A and B: sessions and bearer
  // entries, four), however many requests are served meanwhile.
  const [pingsBefore, startedAt] = [await calls('ping'), performance.now()];
  for (let i = 0; i < 100; i++) t.is(await onB(cookie), 200);
  const intervals = Math.ceil((performance.now() - startedAt) / HEARTBEAT_MS) + 1;
  t.true((await calls('ping')) - pingsBefore <= 4 * intervals, `PINGs during 100 requests: at most 4 × ${intervals}`);

  const trackingSetups = () => calls('client|tracking');
  const setupsBefore = await trackingSetups();
  proxy.hold(); // B's tracking connection stalls: open, silent
  const out = await user.at(0).post('/api/auth/logout');
  t.is(out.status, 200);
  const answeredAt = performance.now();

  // B asked in a loop for a while: on the code before, its copy served the cookie for 60 s.
  const served: Array<{ sentAt: number; status: number }> = [];
  while (served.length < 10 || performance.now() < answeredAt + 2_000) {
    const sentAt = performance.now();
    served.push({ sentAt, status: await onB(cookie) });
    await sleep(20);
  }
  const notRefused = served.filter((r) => r.status !== 401).map((r) => `${r.status} at +${Math.round(r.sentAt - answeredAt)} ms`);
  t.is(notRefused.length, 0, `B served the signed-out session after the sign-out answered, its tracking connection silent: ${notRefused.length} of ${served.length} requests (${notRefused.slice(0, 3).join(', ')}…)`);

  // Each silent setup is dropped and tried again (a CLIENT TRACKING each), but an operator reads one
  // warning for the stall, not one per reconnect (server/logger.ts repeatingWarning: one a minute).
  const warnings = () => b.output.join('').split('\n').filter((l) => l.includes('session cache: tracking not set up')).length;
  t.true(await eventually(() => warnings() > 0, PROGRESS_WAIT_MS), 'the stall is logged');
  t.true(await eventually(async () => (await trackingSetups()) - setupsBefore >= 3, PROGRESS_WAIT_MS), 'B drops the silent connection and sets tracking up again, repeatedly');
  await sleep(1_000); // the process' log lines are handed on in batches (500 ms)
  t.is(warnings(), 1, `one warning for the stall: ${(await trackingSetups()) - setupsBefore} setups`);

  // Tracking back: B reconnects, subscribes again and, once that is answered, serves from memory again.
  proxy.release();
  const other = new Roamer([a.url, b.url]);
  await signInAcross(env, other, 'stall-returner');
  const otherCookie = other.at(0).cookieHeader();
  t.true(await eventually(async () => {
    if (await onB(otherCookie) !== 200) return false;
    const before = await calls('hmget');
    for (let i = 0; i < 5; i++) if (await onB(otherCookie) !== 200) return false;
    return (await calls('hmget')) - before <= 1;
  }, PROGRESS_WAIT_MS, 100), 'B serves from its copy again once tracking is back');
  // …and that copy is dropped by the invalidation again: a sign-out on A is 401 on B at once.
  t.is((await other.at(0).post('/api/auth/logout')).status, 200);
  t.is(await onB(otherCookie), 401, 'invalidations reach B again');
  t.is(await onB(cookie), 401);
});

import test from 'ava';
import { manualClock } from '../../server/clock.js';
import { startStack, type Stack } from '../helpers/stack.js';

const clock = manualClock(Date.parse('2026-11-23T09:00:00Z'));
let stack: Stack;
test.before(async () => {
  stack = await startStack({ clock, env: { SESSION_IDLE_MINUTES: '30', SESSION_ABSOLUTE_HOURS: '2' } });
});
test.after.always(async () => { await stack?.close(); });

test.serial('idle expiry: 29 minutes idle is fine, activity slides the window, 30 minutes idle ends it', async (t) => {
  const agent = stack.agent();
  await stack.signIn(agent, 'idler');
  clock.advance(29 * 60_000);
  t.is((await agent.get('/api/session')).status, 200, 'still inside the idle window');
  clock.advance(29 * 60_000);
  t.is((await agent.get('/api/session')).status, 200, 'the previous request slid the window');
  clock.advance(30 * 60_000);
  t.is((await agent.get('/api/session')).status, 401, 'idle for 30 minutes');
  const keys = await stack.redis.client.keys(`${stack.redis.prefix}:sess:*`);
  t.is(keys.length, 0, 'the expired record was destroyed server-side');
});

test.serial('absolute expiry: an active session still ends after SESSION_ABSOLUTE_HOURS', async (t) => {
  const agent = stack.agent();
  await stack.signIn(agent, 'busy');
  for (let i = 0; i < 7; i++) {
    clock.advance(15 * 60_000);
    t.is((await agent.get('/api/session')).status, 200);
  }
  clock.advance(16 * 60_000); // 2 h 1 min after sign-in
  t.is((await agent.get('/api/session')).status, 401);
});

// Redis' TTL on a record is a backstop: it must not beat the app to the deadline. A record whose TTL
// ran out first was simply gone when the app looked (a stream's timer at the deadline, a request),
// so that expiry was never ended as one: no `sign_out` (expired) audit entry, no deploys stopped,
// no end announced. The absolute deadline is where it happened: the TTL was set to end exactly there.
test.serial('Redis keeps a record past its deadline: the app finds it expired and ends it', async (t) => {
  const agent = stack.agent();
  await stack.signIn(agent, 'backstop');
  for (let i = 0; i < 7; i++) {
    clock.advance(15 * 60_000);
    t.is((await agent.get('/api/session')).status, 200);
  }
  clock.advance(15 * 60_000 - 5_000); // 5 s before the absolute end; this request slides last-seen and writes
  t.is((await agent.get('/api/session')).status, 200);
  const ref = stack.web.deps.sessions.refOf(agent.jar.get('sid')!);
  const ttl = await stack.redis.client.pttl(stack.web.deps.sessions.keys.record(ref));
  t.true(ttl > 5_000, `Redis keeps it past the deadline (${ttl} ms left, deadline in 5000 ms)`);
  clock.advance(5_000);
  t.is((await agent.get('/api/session')).status, 401);
  t.is(await stack.redis.client.exists(stack.web.deps.sessions.keys.tombstone(ref)), 1, 'ended by the app: tombstoned');
});

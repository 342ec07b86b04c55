import test from 'ava';
import { manualClock } from '../../server/clock.js';
import type { Agent } from '../helpers/agent.js';
import { openSseAs } from '../helpers/sse.js';
import { startStack, type Stack } from '../helpers/stack.js';

// Idle expiry slides with a person's use only. Reads the UI makes on its own (the service page's deploy
// history every 20 s, the dashboard's cards every 60 s, the 3 s polls without a stream) carry
// X-Background: 1 (web/assets/api.js); they slid the idle window like use, so a tab left on such a page
// was never signed out (server/sessions/middleware.ts touchSession). Such a read is still refused once the
// session expired, and writes nothing; a normal read slides and writes; a write counts whatever it carries.

const clock = manualClock(Date.parse('2026-11-23T09:00:00Z'));
const BACKGROUND = { 'x-background': '1' };
let stack: Stack;
test.before(async () => {
  stack = await startStack({ clock, env: { SESSION_IDLE_MINUTES: '30', SESSION_ABSOLUTE_HOURS: '12' } });
});
test.after.always(async () => { await stack?.close(); });

/** The session's record as Redis holds it: its version (bumped by every whole-record write) and last-seen time. */
async function record(agent: Agent) {
  const sessions = stack.web.deps.sessions;
  const version = await stack.redis.client.hget(sessions.keys.record(sessions.refOf(agent.jar.get('sid')!)), 'v');
  const sess = await sessions.get(agent.jar.get('sid')!);
  return { version, lastSeenAt: sess?.lastSeenAt };
}

test.serial('a background read neither slides the idle window nor writes the session, and is refused once it expired', async (t) => {
  const agent = stack.agent();
  await stack.signIn(agent, 'unattended');
  const before = await record(agent);
  // Background reads every 20 minutes for an hour: the session still ends 30 minutes after the sign-in.
  clock.advance(20 * 60_000);
  t.is((await agent.get('/api/session', { headers: BACKGROUND })).status, 200, 'inside the idle window: answered');
  t.is((await agent.get('/api/render/my-deployments?limit=20', { headers: BACKGROUND })).status, 200);
  t.deepEqual(await record(agent), before, 'no write: same version, same last-seen time');
  clock.advance(10 * 60_000 + 1);
  const late = await agent.get('/api/session', { headers: BACKGROUND });
  t.is(late.status, 401, 'idle 30 minutes (only background reads since the sign-in): refused');
  t.is(late.json?.error?.code, 'unauthenticated');
  t.is((await agent.get('/api/session')).status, 401, 'and ended: a normal read after it is refused too');
});

test.serial('a normal read slides the window and writes the session; the header means nothing but "not activity"', async (t) => {
  const agent = stack.agent();
  await stack.signIn(agent, 'present');
  const before = await record(agent);
  clock.advance(20 * 60_000);
  t.is((await agent.get('/api/session')).status, 200);
  const after = await record(agent);
  t.not(after.version, before.version, 'written');
  t.is(after.lastSeenAt, clock.now(), 'last seen now');
  clock.advance(20 * 60_000);
  t.is((await agent.get('/api/session', { headers: BACKGROUND })).status, 200, '40 minutes after the sign-in, 20 after the normal read');
  // Any other value is no mark: an ordinary read.
  t.is((await agent.get('/api/session', { headers: { 'x-background': 'true' } })).status, 200);
  t.is((await record(agent)).lastSeenAt, clock.now(), 'x-background: true is not the mark: it slid');
  // A write counts whatever it carries.
  clock.advance(20 * 60_000);
  t.is((await agent.post('/api/render/clear-credentials', {}, { headers: BACKGROUND })).status, 200);
  t.is((await record(agent)).lastSeenAt, clock.now(), 'a write with the header slid the window');
  clock.advance(29 * 60_000);
  t.is((await agent.get('/api/session', { headers: BACKGROUND })).status, 200, 'alive 29 minutes after the write');
  // The mark is no way around the session checks: without a session it is 401 like any read.
  t.is((await stack.agent().get('/api/session', { headers: BACKGROUND })).status, 401);
});

test.serial('a live stream opened again and again (EventSource reconnects, the polling page\'s retry) does not slide the window', async (t) => {
  const agent = stack.agent();
  await stack.signIn(agent, 'streaming');
  const before = await record(agent);
  for (let i = 0; i < 3; i++) {
    clock.advance(9 * 60_000);
    const stream = await openSseAs(agent, '/api/events');
    t.is(stream.status, 200);
    await stream.waitFor((text) => text.includes('event: stream'));
    stream.close();
  }
  t.deepEqual(await record(agent), before, 'three stream opens in 27 minutes: no write, last-seen as at the sign-in');
  clock.advance(3 * 60_000 + 1);
  t.is((await agent.get('/api/session', { headers: BACKGROUND })).status, 401, 'idle 30 minutes');
});

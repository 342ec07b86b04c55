import test from 'ava';
import { manualClock } from '../../server/clock.js';
import { startStack, type Stack } from '../helpers/stack.js';
import type { Agent } from '../helpers/agent.js';

// The session middleware (server/sessions/middleware.ts) writes a session back only when a request
// changed it: reads write nothing, the idle touch writes once per interval, and a pre-auth session
// appears only when something was put in it. Observed through the record's version field in Redis.

const clock = manualClock(Date.parse('2026-11-23T09:00:00Z'));
let stack: Stack;
test.before(async () => { stack = await startStack({ clock }); });
test.after.always(async () => { await stack?.close(); });

const sidOf = (agent: Agent) => agent.jar.get('sid')!;
const versionOf = (agent: Agent) => stack.redis.client.hget(stack.web.deps.sessions.keys.record(stack.web.deps.sessions.refOf(sidOf(agent))), 'v');

test.serial('reads write nothing; the idle touch writes once per minute, however many requests', async (t) => {
  const agent = stack.agent();
  await stack.signIn(agent, 'quiet-reader');
  clock.advance(61_000);
  t.is((await agent.get('/api/session')).status, 200); // the touch after a minute
  const touched = await versionOf(agent);
  for (let i = 0; i < 10; i++) t.is((await agent.get('/api/session')).status, 200);
  t.is(await versionOf(agent), touched, 'ten reads inside the minute: no write');
  clock.advance(61_000);
  for (let i = 0; i < 5; i++) t.is((await agent.get('/api/render/status')).status, 200);
  t.is(Number(await versionOf(agent)), Number(touched) + 1, 'one touch for the next minute\'s five reads');
});

test.serial('a signed-out visitor gets no session and no cookie until something is stored in it', async (t) => {
  const agent = stack.agent();
  const res = await agent.get('/api/session');
  t.is(res.status, 401);
  t.is(res.setCookies.length, 0, 'no cookie for an empty session');
  const start = await agent.get('/api/auth/github/login'); // grant stores its OAuth state
  t.is(start.status, 302);
  t.truthy(sidOf(agent), 'the pre-auth session now has an id');
  t.is(await versionOf(agent), '1');
});

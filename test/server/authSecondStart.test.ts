import test from 'ava';
import { manualClock } from '../../server/clock.js';
import { startStack, type Stack } from '../helpers/stack.js';

const clock = manualClock(Date.parse('2026-12-04T09:00:00Z'));
let stack: Stack;
test.before(async () => { stack = await startStack({ clock }); });
test.after.always(async () => { await stack?.close(); });

// A sign-in started, left at GitHub (a tab closed, a password looked up), and started again from the
// same browser a few minutes later: the second start puts a new OAuth state into the same pre-auth
// session. That session's 10-minute window still counted from the first start, so the second round
// trip had only what was left of it: one back after the first start's ten minutes found the session
// expired and answered auth_error=github_login_failed, though the user had done everything right.
test.serial('a sign-in started again has the whole pre-auth window for its round trip', async (t) => {
  stack.github.addUser({ id: 901, login: 'second-try' });
  const agent = stack.agent();
  const first = await agent.get('/api/auth/github/login');
  t.is(first.status, 302);
  const preAuth = agent.jar.get('sid');
  t.truthy(preAuth);

  clock.advance(8 * 60_000); // back from GitHub without signing in; starts again
  const second = await agent.get('/api/auth/github/login');
  t.is(second.status, 302);
  t.is(agent.jar.get('sid'), preAuth, 'the same pre-auth session holds the new state');

  clock.advance(3 * 60_000); // three minutes at GitHub this time (2FA): 11 minutes after the first start
  const authorize = await fetch(`${second.location}&login=second-try`, { redirect: 'manual' });
  const cb = new URL(authorize.headers.get('location')!);
  const done = await agent.get(cb.pathname + cb.search);
  t.is(done.location, '/', 'the second sign-in signs in');
  const session = await agent.get('/api/session');
  t.is(session.status, 200);
  t.like(session.json.user, { id: 901, login: 'second-try' });
});

// The window still ends: a start left alone for ten minutes cannot be completed.
test.serial('a pre-auth session left for ten minutes after its last start has expired', async (t) => {
  stack.github.addUser({ id: 902, login: 'too-slow' });
  const agent = stack.agent();
  await agent.get('/api/auth/github/login');
  clock.advance(5 * 60_000);
  const second = await agent.get('/api/auth/github/login');
  clock.advance(10 * 60_000);
  const authorize = await fetch(`${second.location}&login=too-slow`, { redirect: 'manual' });
  const cb = new URL(authorize.headers.get('location')!);
  const done = await agent.get(cb.pathname + cb.search);
  t.is(done.location, '/?auth_error=github_login_failed');
  t.is((await agent.get('/api/session')).status, 401);
});

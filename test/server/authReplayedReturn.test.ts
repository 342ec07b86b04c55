import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';

let stack: Stack;
test.before(async () => { stack = await startStack(); });
test.after.always(async () => { await stack?.close(); });

/** A sign-in started (`start`: the login route's answer) and authorized on GitHub as `login`: the callback's path and query (a new code each call). */
async function callbackPath(start: { location: string | null }, login: string): Promise<string> {
  const authorize = await fetch(`${start.location}&login=${login}`, { redirect: 'manual' });
  const cb = new URL(authorize.headers.get('location')!);
  return cb.pathname + cb.search;
}

// One return of a sign-in arriving twice (the callback page reloaded while it loads, a browser
// repeating the navigation): GitHub takes the code once, so the second exchange fails. That failure
// destroyed the pre-auth session and cleared the cookie while the first return, whose exchange had
// worked, was still asking GitHub for the profile; the first then found its pre-auth session used up
// and signed nobody in. The browser ended signed out after a sign-in that had succeeded at GitHub.
test.serial('a replayed return whose code is already spent does not undo the return that is signing in', async (t) => {
  stack.github.addUser({ id: 801, login: 'reloader' });
  const agent = stack.agent();
  const start = await agent.get('/api/auth/github/login');
  const path = await callbackPath(start, 'reloader');

  const profiles = stack.github.holdProfiles();
  const first = agent.get(path); // exchanges the code, then waits for the profile
  while (profiles.waiting() < 1) await new Promise((r) => setImmediate(r));
  const replayed = await agent.get(path); // same cookie, same code: GitHub refuses the spent code
  t.is(replayed.status, 302);
  t.false(replayed.setCookies.some((c) => c.startsWith('sid=;')), 'the failed replay leaves the cookie alone');
  profiles.release();
  const done = await first;
  t.is(done.location, '/');

  const session = await agent.get('/api/session');
  t.is(session.status, 200, 'the browser is signed in');
  t.like(session.json.user, { id: 801, login: 'reloader' });
  t.is((await stack.redis.client.smembers(stack.web.deps.sessions.keys.userIndex(801))).length, 1, 'one session for the user');
});

// The ordinary failure still leaves nothing behind: a spent code with no other return in flight.
test.serial('a return whose exchange fails, alone, signs nobody in and leaves no usable session', async (t) => {
  stack.github.addUser({ id: 802, login: 'spent-code' });
  const agent = stack.agent();
  const start = await agent.get('/api/auth/github/login');
  const authorize = await fetch(`${start.location}&login=spent-code`, { redirect: 'manual' });
  const cb = new URL(authorize.headers.get('location')!);
  const code = cb.searchParams.get('code');
  t.truthy(code);
  // Somebody else spends the code first.
  const burned = await fetch(`${stack.github.oauthUrl}/login/oauth/access_token`, {
    method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ client_id: stack.github.clientId, client_secret: stack.github.clientSecret, code }),
  });
  t.true(burned.status < 500);
  const failed = await agent.get(cb.pathname + cb.search);
  t.is(failed.location, '/?auth_error=github_login_failed');
  t.is((await agent.get('/api/session')).status, 401);
  const again = await agent.get(cb.pathname + cb.search);
  t.is(again.location, '/?auth_error=github_login_failed', 'its state cannot be used again');
});

// Sign-in started in two tabs of one browser: the second start replaced the first one's state in the
// pre-auth session (grant keeps one). The first tab's return, its state no longer the session's, was
// refused, and its refusal ended the pre-auth session and cleared the cookie, so the second tab's
// return, carrying the state the session did hold, failed as well: two failures for one sign-in.
test.serial('a return with a state the session no longer holds leaves the sign-in that holds it alone', async (t) => {
  stack.github.addUser({ id: 803, login: 'two-tabs' });
  const agent = stack.agent();
  const returns: string[] = [];
  for (let tab = 0; tab < 2; tab++) {
    const start = await agent.get('/api/auth/github/login'); // the second start finds the first one's pre-auth session
    returns.push(await callbackPath(start, 'two-tabs'));
  }
  const stale = await agent.get(returns[0]!);
  t.is(stale.location, '/?auth_error=github_login_failed', 'the first tab\'s state was replaced');
  t.false(stale.setCookies.some((c) => c.startsWith('sid=;')), 'the cookie stays');
  const current = await agent.get(returns[1]!);
  t.is(current.location, '/');
  t.like((await agent.get('/api/session')).json.user, { id: 803, login: 'two-tabs' });
});

// "Authorize" clicked twice: two returns of one sign-in (one state, two codes), both sent by the browser
// with the pre-auth cookie. The first signs in; the second reaches the server after the first consumed the
// pre-auth session. It found no session, and its answer cleared the cookie: the browser was signed out of
// the sign-in that had just succeeded (found by a review).
test.serial('a second return of the same sign-in, arriving after the first consumed the pre-auth session, leaves the new cookie alone', async (t) => {
  stack.github.addUser({ id: 9101, login: 'double-click' });
  const agent = stack.agent();
  const start = await agent.get('/api/auth/github/login');
  const preAuthCookie = agent.cookieHeader();
  const cbs = [await callbackPath(start, 'double-click'), await callbackPath(start, 'double-click')];
  t.not(cbs[0], cbs[1], 'two codes');
  const first = await agent.get(cbs[0]!);
  t.is(first.location, '/');
  const signedIn = agent.cookieHeader();
  t.not(signedIn, preAuthCookie);

  // The second return, sent with the pre-auth cookie before the first's answer came back.
  const second = await fetch(`${stack.url}${cbs[1]}`, { headers: { cookie: preAuthCookie }, redirect: 'manual' });
  const secondCookies = second.headers.getSetCookie();
  agent.applySetCookies(secondCookies);
  t.false(secondCookies.some((c) => /^sid=;/.test(c)), 'the late return does not clear the cookie');
  const session = await agent.get('/api/session');
  t.is(session.status, 200, 'the browser is still signed in after its successful sign-in');
});

// The callback page reloaded twice while the first return waits for GitHub's profile. The first reload's
// exchange fails (code spent): its state is dropped, the pre-auth session kept for the return that is
// signing in (the test above). The second reload found a session with no state and ended it, cookie and
// all, so the first return found its pre-auth session used up and nobody was signed in (found by a review).
test.serial('two reloads of the callback while the first return waits for the profile do not undo the sign-in', async (t) => {
  stack.github.addUser({ id: 9102, login: 'reloader-twice' });
  const agent = stack.agent();
  const start = await agent.get('/api/auth/github/login');
  const path = await callbackPath(start, 'reloader-twice');

  const profiles = stack.github.holdProfiles();
  const first = agent.get(path);
  while (profiles.waiting() < 1) await new Promise((r) => setImmediate(r));
  const reload1 = await agent.get(path);
  t.is(reload1.location, '/?auth_error=github_login_failed');
  const reload2 = await agent.get(path);
  t.is(reload2.location, '/?auth_error=github_login_failed');
  profiles.release();
  const done = await first;
  t.is(done.location, '/');
  const session = await agent.get('/api/session');
  t.is(session.status, 200, 'the browser is signed in');
});

import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';

let stack: Stack;
test.before(async () => { stack = await startStack(); });
test.after.always(async () => { await stack?.close(); });

const SID = 'sid';

test('full sign-in: redirect chain, state, cookie flags, new id after login', async (t) => {
  stack.github.addUser({ id: 501, login: 'alice', name: 'Alice' });
  const agent = stack.agent();
  const start = await agent.get('/api/auth/github/login');
  t.is(start.status, 302);
  const authorize = new URL(start.location!);
  t.is(authorize.origin + authorize.pathname, `${stack.github.oauthUrl}/login/oauth/authorize`);
  t.is(authorize.searchParams.get('client_id'), stack.github.clientId);
  t.is(authorize.searchParams.get('redirect_uri'), `${stack.url}/api/auth/github/callback`);
  t.regex(authorize.searchParams.get('state')!, /^[0-9a-f]{40}$/);
  t.is(authorize.searchParams.get('code_challenge_method'), 'S256');
  const preLogin = agent.jar.get(SID);
  const preLoginSig = agent.jar.get(`${SID}.sig`);
  t.truthy(preLogin, 'a pre-auth session holds the OAuth state');
  const cookie = start.setCookies.find((c) => c.startsWith(`${SID}=`))!;
  t.regex(cookie, /httponly/i);
  t.regex(cookie, /samesite=lax/i);
  t.notRegex(cookie, /expires=/i, 'browser-session cookie; expiry is server-side');
  t.true(start.setCookies.some((c) => c.startsWith(`${SID}.sig=`)), 'the id is signed');
  t.true(Buffer.from(preLogin!, 'base64url').length >= 32, 'id has at least 256 bits');

  const toCallback = await fetch(`${start.location}&login=alice`, { redirect: 'manual' });
  t.is(toCallback.status, 302);
  const callback = new URL(toCallback.headers.get('location')!);
  t.is(callback.pathname, '/api/auth/github/callback');
  t.falsy(callback.searchParams.get('access_token'), 'the token never travels in a URL');

  const done = await agent.get(callback.pathname + callback.search);
  t.is(done.status, 302);
  t.is(done.location, '/');
  const postLogin = agent.jar.get(SID);
  t.truthy(postLogin);
  t.not(postLogin, preLogin, 'session id regenerated at login');

  const session = await agent.get('/api/session');
  t.is(session.status, 200);
  t.like(session.json.user, { id: 501, login: 'alice', name: 'Alice' });
  t.deepEqual(session.json.render, { configured: false, verified: false, verifiedAt: null, keyHint: null, owners: [] });
  t.regex(session.json.csrfToken, /^[A-Za-z0-9_-]{43}$/);
  t.is(session.headers.get('cache-control'), 'no-store');

  // The pre-login cookie no longer authenticates (its record was destroyed).
  const old = stack.agent();
  old.jar.set(SID, preLogin!);
  old.jar.set(`${SID}.sig`, preLoginSig!);
  const stale = await old.get('/api/session');
  t.is(stale.status, 401);
});

test('a forged state is rejected and no session is created', async (t) => {
  stack.github.addUser({ id: 502, login: 'mallory' });
  const agent = stack.agent();
  const start = await agent.get('/api/auth/github/login');
  const forged = new URL(start.location!);
  forged.searchParams.set('state', 'f'.repeat(40));
  const toCallback = await fetch(`${forged.href}&login=mallory`, { redirect: 'manual' });
  const done = await agent.get(new URL(toCallback.headers.get('location')!).pathname + new URL(toCallback.headers.get('location')!).search);
  t.is(done.status, 302);
  t.is(done.location, '/?auth_error=github_login_failed');
  t.is((await agent.get('/api/session')).status, 401);
});

test('a missing state is rejected', async (t) => {
  stack.github.addUser({ id: 503, login: 'nostate' });
  const agent = stack.agent();
  const start = await agent.get('/api/auth/github/login');
  const toCallback = await fetch(`${start.location}&login=nostate`, { redirect: 'manual' });
  const cb = new URL(toCallback.headers.get('location')!);
  cb.searchParams.delete('state');
  const done = await agent.get(cb.pathname + cb.search);
  t.is(done.location, '/?auth_error=github_login_failed');
  t.is((await agent.get('/api/session')).status, 401);
});

test('a callback without the pre-auth session (login CSRF) is rejected', async (t) => {
  stack.github.addUser({ id: 504, login: 'victim' });
  const attacker = stack.agent();
  const start = await attacker.get('/api/auth/github/login');
  const toCallback = await fetch(`${start.location}&login=victim`, { redirect: 'manual' });
  const cb = new URL(toCallback.headers.get('location')!);
  const victim = stack.agent();
  const done = await victim.get(cb.pathname + cb.search);
  t.is(done.location, '/?auth_error=github_login_failed');
  t.is((await victim.get('/api/session')).status, 401);
});

test('access denied on GitHub comes back as a clear error', async (t) => {
  const agent = stack.agent();
  const start = await agent.get('/api/auth/github/login');
  stack.github.setAuthorizingUser(null);
  const toCallback = await fetch(start.location!, { redirect: 'manual' });
  const cb = new URL(toCallback.headers.get('location')!);
  const done = await agent.get(cb.pathname + cb.search);
  t.is(done.location, '/?auth_error=access_denied');
});

test('logout destroys the session server-side; the old cookie is useless', async (t) => {
  const agent = stack.agent();
  await stack.signIn(agent, 'bob');
  const cookie = agent.cookieHeader();
  t.is((await agent.post('/api/auth/logout', {}, { csrf: false })).status, 403, 'logout needs the CSRF token');
  const out = await agent.post('/api/auth/logout');
  t.is(out.status, 200);
  t.is(out.headers.get('clear-site-data'), '"cookies", "storage"');
  const replay = await fetch(`${stack.url}/api/session`, { headers: { cookie } });
  t.is(replay.status, 401);
  const replayPost = await fetch(`${stack.url}/api/render/status`, { headers: { cookie } });
  t.is(replayPost.status, 401);
});

test('a tampered cookie signature is rejected before any lookup', async (t) => {
  const agent = stack.agent();
  await stack.signIn(agent, 'carol');
  agent.jar.set(`${SID}.sig`, 'AAAA' + agent.jar.get(`${SID}.sig`)!.slice(4));
  t.is((await agent.get('/api/session')).status, 401);
});

test('two users side by side never see each other', async (t) => {
  const a = stack.agent();
  const b = stack.agent();
  await stack.signIn(a, 'dave');
  await stack.signIn(b, 'erin');
  const [sa, sb] = await Promise.all([a.get('/api/session'), b.get('/api/session')]);
  t.is(sa.json.user.login, 'dave');
  t.is(sb.json.user.login, 'erin');
  t.not(sa.json.csrfToken, sb.json.csrfToken);
  // One user's CSRF token is worthless in the other's session.
  const cross = await b.post('/api/render/clear-credentials', {}, { headers: { 'x-csrf-token': a.csrfToken! } });
  t.is(cross.status, 403);
});

// grant takes a callback without `code` for a provider's answer as it stands (implicit flow), its
// `access_token` included, and checks `state` only beside a code: a cross-site page could send a
// browser that just started sign-in to /callback?access_token=<the attacker's token> and sign it in
// as the attacker (login CSRF), state or no state.
test('a return without a code, carrying a token, signs nobody in (with or without the right state)', async (t) => {
  stack.github.addUser({ id: 505, login: 'token-planter' });
  const planted = stack.github.issueToken('token-planter');
  for (const withState of [false, true]) {
    const victim = stack.agent();
    const start = await victim.get('/api/auth/github/login');
    const state = new URL(start.location!).searchParams.get('state')!;
    const query = new URLSearchParams({ access_token: planted, ...(withState ? { state } : {}) });
    const done = await victim.get(`/api/auth/github/callback?${query.toString()}`);
    t.is(done.status, 302);
    t.is(done.location, '/?auth_error=github_login_failed', `state ${withState ? 'given' : 'absent'}`);
    t.is((await victim.get('/api/session')).status, 401, 'not signed in as the token\'s owner');
  }
  t.false(stack.github.calls.some((c) => c.path === '/api/v3/user' && c.login === 'token-planter'), 'the planted token was never used');
});

// Two returns of one sign-in (Authorize clicked twice on GitHub: two codes, the same state) both
// loaded the pre-auth session before either replaced it, and each made a signed-in session with a
// token of its own: one of them in no browser's cookie, alive until it idled out.
test('two returns of one sign-in racing: one signed-in session, the pre-auth session is used once', async (t) => {
  stack.github.addUser({ id: 506, login: 'double-click' });
  const agent = stack.agent();
  const start = await agent.get('/api/auth/github/login');
  const returns: string[] = [];
  for (let i = 0; i < 2; i++) {
    const authorize = await fetch(`${start.location}&login=double-click`, { redirect: 'manual' });
    const cb = new URL(authorize.headers.get('location')!);
    returns.push(cb.pathname + cb.search);
  }
  const cookie = agent.cookieHeader();
  const profiles = stack.github.holdProfiles();
  const both = returns.map((path) => fetch(`${stack.url}${path}`, { headers: { cookie }, redirect: 'manual' }));
  while (profiles.waiting() < 2) await new Promise((r) => setImmediate(r));
  profiles.release();
  const answers = await Promise.all(both);
  const signedIn = answers.filter((res) => res.headers.getSetCookie().some((c) => c.startsWith(`${SID}=`) && !c.startsWith(`${SID}=;`)));
  t.is(signedIn.length, 1, 'one return signs in');
  t.true(answers.every((res) => res.status === 302 && res.headers.get('location') === '/'), 'both land on the app');
  t.is(answers.filter((res) => res.headers.getSetCookie().some((c) => c.startsWith(`${SID}=;`))).length, 0, 'the other does not clear the cookie the first set');
  const sessions = await stack.redis.client.smembers(stack.web.deps.sessions.keys.userIndex(506));
  t.is(sessions.length, 1, 'one session for the user');
});

test('the user\'s session index drops the sessions whose record expired when the user signs in again', async (t) => {
  const { sessions, redis } = stack.web.deps;
  let userId = 0;
  let lastRef = '';
  for (let i = 0; i < 5; i++) {
    const agent = stack.agent();
    await stack.signIn(agent, 'index-grower');
    userId = (await agent.get('/api/session')).json.user.id as number;
    lastRef = sessions.refOf(agent.jar.get('sid')!);
    // What Redis does when a record's TTL runs out with nobody reading it (the usual end of a session
    // nobody signs out of), sooner here; it leaves the index as it was.
    if (i < 4) await redis.pexpire(sessions.keys.record(lastRef), 1);
    await new Promise((r) => setTimeout(r, 20));
  }
  t.deepEqual(await redis.smembers(sessions.keys.userIndex(userId)), [lastRef], 'only the live session; the four expired ones dropped');
});

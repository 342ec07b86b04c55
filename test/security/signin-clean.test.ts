import test from 'ava';
import { manualClock } from '../../server/clock.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { addNodeRepo, signedInWithKey } from '../helpers/pipeline.js';
import type { Agent } from '../helpers/agent.js';

// Attack (issue 11 part 2): sign-in used to keep the session object (koa-session's regenerate()),
// so a second person signing in from the same browser inherited the first one's Render key,
// workspaces and CSRF token; and a cross-site top-level GET to the login route rotated a signed-in
// session, ending its deploys. No worker runs here, so a requested deploy stays queued (running).

const clock = manualClock(Date.parse('2026-11-23T09:00:00Z'));
let stack: Stack;
test.before(async () => { stack = await startStack({ clock }); });
test.after.always(async () => { await stack?.close(); });

const sidOf = (agent: Agent) => agent.jar.get('sid')!;

/**
 * A browser following redirects from `path` until it is back on the app, as a top-level navigation
 * would: to GitHub (which answers at once for a user who authorized the app before) and back.
 */
async function navigate(agent: Agent, path: string, githubLogin: string, headers: Record<string, string> = {}): Promise<string> {
  let res = await agent.get(path, { headers });
  for (let hops = 0; hops < 5 && res.status === 302 && res.location; hops++) {
    if (!res.location.startsWith('http')) return res.location;
    const github = await fetch(`${res.location}&login=${encodeURIComponent(githubLogin)}`, { redirect: 'manual' });
    res = await agent.get(github.headers.get('location')!.replace(stack.url, ''), { headers });
  }
  return res.location ?? `(${res.status})`;
}

/**
 * OAuth state for `login`'s sign-in, planted in the session `into` holds: the state a signed-in
 * session would carry had sign-in started in it (written through the store's own
 * compare-and-set write). Returns GitHub's redirect back to our callback for that sign-in.
 */
async function plantSignIn(into: Agent, login: string): Promise<string> {
  const sessions = stack.web.deps.sessions;
  const other = stack.agent();
  const start = await other.get('/api/auth/github/login');
  const oauthState = (await sessions.get(sidOf(other)))!.grant;
  // A compare-and-set write at the version read, as the session middleware writes at the end of a request.
  const target = (await sessions.load(sidOf(into)))!;
  await sessions.save(sidOf(into), target.version, { ...target.sess, grant: oauthState });
  const authorize = await fetch(`${start.location}&login=${encodeURIComponent(login)}`, { redirect: 'manual' });
  return authorize.headers.get('location')!.replace(stack.url, '');
}

test.serial('a cross-site GET to the login route leaves a signed-in session and its running deploy alone', async (t) => {
  const alice = await signedInWithKey(stack, 'clean-alice-1');
  addNodeRepo(stack, 'clean-alice-1', 'app');
  const deploy = await alice.agent.post('/api/render/deploy', { github_repo: 'clean-alice-1/app', project_name: 'clean-a1' });
  t.is(deploy.status, 202);
  const cookie = alice.agent.cookieHeader();
  const landed = await navigate(alice.agent, '/api/auth/github/login', 'clean-alice-1', { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' });
  t.is(landed, '/', 'straight back to the app, no OAuth round trip');
  t.is(alice.agent.cookieHeader(), cookie, 'same session id');
  const session = await alice.agent.get('/api/session');
  t.is(session.status, 200);
  t.true(session.json.render.configured, 'key still connected');
  t.is((await alice.agent.get(`/api/render/deployments/${deploy.json.id}`)).json.status, 'queued', 'the deploy is not revoked');
});

test.serial('Bob signing in over Alice\'s session (same browser, no sign-out) starts empty and cannot use her workspace', async (t) => {
  const alice = await signedInWithKey(stack, 'clean-alice-2');
  addNodeRepo(stack, 'clean-alice-2', 'app');
  const aliceDeploy = await alice.agent.post('/api/render/deploy', { github_repo: 'clean-alice-2/app', project_name: 'clean-a2' });
  t.is(aliceDeploy.status, 202);
  const aliceSession = (await alice.agent.get('/api/session')).json;
  const aliceCookie = alice.agent.cookieHeader();
  await stack.signIn(stack.agent(), 'clean-bob'); // Bob exists on GitHub
  const jar = alice.agent;

  const callback = await plantSignIn(jar, 'clean-bob');
  const done = await jar.get(callback);
  t.is(done.status, 302);
  t.is(done.location, '/');
  t.not(jar.cookieHeader(), aliceCookie, 'a new session id');

  const bob = await jar.get('/api/session');
  t.is(bob.status, 200);
  t.is(bob.json.user.login, 'clean-bob');
  t.deepEqual(bob.json.render, { configured: false, verified: false, verifiedAt: null, keyHint: null, owners: [] }, 'nothing of Alice\'s key or workspaces');
  t.not(bob.json.csrfToken, aliceSession.csrfToken, 'a fresh CSRF token');
  jar.csrfToken = bob.json.csrfToken;
  const status = await jar.get('/api/render/status');
  t.like(status.json, { configured: false, verifiedAt: null, keyHint: null, owners: [] });
  t.false(status.text.includes(aliceSession.render.owners[0].id));

  const intoAlice = await jar.post('/api/render/deploy', { github_repo: 'clean-alice-2/app', project_name: 'bob-into-alice', owner_id: alice.ownerId });
  t.is(intoAlice.status, 400, 'no key, no deploy');
  t.is(intoAlice.json.error.code, 'render_key_missing');
  t.is((await jar.get(`/api/render/deployments/${aliceDeploy.json.id}`)).status, 404);
  t.deepEqual((await jar.get('/api/render/my-deployments')).json.deployments, []);

  // Alice's session ended as at sign-out: her cookie is dead and her running deploy stopped.
  t.is((await fetch(`${stack.url}/api/session`, { headers: { cookie: aliceCookie } })).status, 401);
  const aliceAgain = stack.agent();
  await stack.signIn(aliceAgain, 'clean-alice-2');
  t.is((await aliceAgain.get(`/api/render/deployments/${aliceDeploy.json.id}`)).json.status, 'credentials_revoked');
});

test.serial('the Render key never outlives the session it was given to, across re-logins', async (t) => {
  const alice = await signedInWithKey(stack, 'clean-alice-3');
  for (let i = 0; i < 3; i++) {
    clock.advance(20 * 60_000);
    const callback = await plantSignIn(alice.agent, 'clean-alice-3');
    t.is((await alice.agent.get(callback)).location, '/');
    const session = await alice.agent.get('/api/session');
    t.is(session.json.user.login, 'clean-alice-3');
    t.false(session.json.render.configured, `re-login ${i + 1} does not carry the key into a session with a new lifetime`);
    alice.agent.csrfToken = session.json.csrfToken;
    t.is((await alice.agent.post('/api/render/setup', { api_key: alice.apiKey })).status, 200, 'the key is given again, to this session');
  }
});

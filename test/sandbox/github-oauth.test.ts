import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { startGitHubSimulator, type GitHubSimulator } from '../../sandbox/github/index.js';

const REDIRECT = 'http://127.0.0.1:9/api/auth/github/callback';

async function authorize(sim: GitHubSimulator, extra: Record<string, string> = {}): Promise<URL> {
  const u = new URL('/login/oauth/authorize', sim.oauthUrl);
  u.search = new URLSearchParams({ client_id: sim.clientId, redirect_uri: REDIRECT, scope: 'read:user repo', ...extra }).toString();
  const res = await fetch(u, { redirect: 'manual' });
  if (res.status !== 302) throw new Error(`authorize answered ${res.status}`);
  return new URL(res.headers.get('location')!);
}

async function exchange(sim: GitHubSimulator, fields: Record<string, string>, json = true): Promise<Record<string, string>> {
  const res = await fetch(new URL('/login/oauth/access_token', sim.oauthUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(json ? { accept: 'application/json' } : {}) },
    body: new URLSearchParams({ client_id: sim.clientId, client_secret: sim.clientSecret, redirect_uri: REDIRECT, ...fields }),
  });
  if (res.status !== 200) throw new Error(`access_token answered ${res.status}`);
  const text = await res.text();
  return json ? JSON.parse(text) as Record<string, string> : Object.fromEntries(new URLSearchParams(text));
}

test('authorize redirects back with a code and the state byte for byte; the code buys a token that works on /user', async (t) => {
  const sim = await startGitHubSimulator();
  t.teardown(() => sim.close());
  sim.addUser({ id: 42, login: 'alice', name: 'Alice A.' });
  const state = 'St4te-with_odd~chars.&=/';
  const back = await authorize(sim, { state });
  t.is(back.origin + back.pathname, REDIRECT);
  t.is(back.searchParams.get('state'), state);
  const code = back.searchParams.get('code');
  t.truthy(code);

  const tok = await exchange(sim, { code: code! });
  t.regex(tok.access_token!, /^gho_[A-Za-z0-9]{36}$/);
  t.is(tok.token_type, 'bearer');
  t.is(tok.scope, 'read:user,repo');
  t.deepEqual(sim.tokensFor('alice'), [tok.access_token!]);

  const me = await fetch(`${sim.apiUrl}/user`, { headers: { authorization: `token ${tok.access_token}` } });
  t.is(me.status, 200);
  t.is(me.headers.get('content-type'), 'application/json; charset=utf-8');
  t.is(me.headers.get('x-ratelimit-limit'), '5000');
  t.is(me.headers.get('x-oauth-scopes'), 'read:user, repo');
  const body = await me.json() as Record<string, unknown>;
  t.like(body, { id: 42, login: 'alice', name: 'Alice A.', type: 'User', html_url: 'https://github.com/alice' });
  t.true(String(body.avatar_url).startsWith('https://'));
  // The call log never holds a token or code.
  t.false(JSON.stringify(sim.calls).includes(tok.access_token!));
  t.false(JSON.stringify(sim.calls).includes(code!));
});

test('without Accept: application/json the token response is form-urlencoded, like GitHub', async (t) => {
  const sim = await startGitHubSimulator({ clientId: 'abc', clientSecret: 'shh' });
  t.teardown(() => sim.close());
  sim.addUser({ login: 'bob' });
  const code = (await authorize(sim)).searchParams.get('code')!;
  const tok = await exchange(sim, { code }, false);
  t.regex(tok.access_token!, /^gho_/);
});

test('no authorizing user gives access_denied with the state echoed', async (t) => {
  const sim = await startGitHubSimulator();
  t.teardown(() => sim.close());
  sim.addUser({ login: 'alice' });
  sim.setAuthorizingUser(null);
  const back = await authorize(sim, { state: 'xyz' });
  t.is(back.searchParams.get('error'), 'access_denied');
  t.truthy(back.searchParams.get('error_description'));
  t.is(back.searchParams.get('state'), 'xyz');
  t.is(back.searchParams.get('code'), null);
});

test('login= override picks the approving user', async (t) => {
  const sim = await startGitHubSimulator();
  t.teardown(() => sim.close());
  sim.addUser({ login: 'alice' });
  sim.addUser({ login: 'carol', name: null });
  const code = (await authorize(sim, { login: 'carol' })).searchParams.get('code')!;
  const tok = await exchange(sim, { code });
  const me = await (await fetch(`${sim.apiUrl}/user`, { headers: { authorization: `Bearer ${tok.access_token}` } })).json() as { login: string; name: null };
  t.is(me.login, 'carol');
  t.is(me.name, null);
});

test('unknown client_id at authorize is a 404 page', async (t) => {
  const sim = await startGitHubSimulator();
  t.teardown(() => sim.close());
  const res = await fetch(`${sim.oauthUrl}/login/oauth/authorize?client_id=nope&redirect_uri=${encodeURIComponent(REDIRECT)}`, { redirect: 'manual' });
  t.is(res.status, 404);
});

test('a code is single use, and a made-up code is bad_verification_code with status 200', async (t) => {
  const sim = await startGitHubSimulator();
  t.teardown(() => sim.close());
  sim.addUser({ login: 'alice' });
  const code = (await authorize(sim)).searchParams.get('code')!;
  t.truthy((await exchange(sim, { code })).access_token);
  const again = await exchange(sim, { code });
  t.deepEqual(Object.keys(again).sort(), ['error', 'error_description', 'error_uri']);
  t.is(again.error, 'bad_verification_code');
  t.is(again.error_description, 'The code passed is incorrect or expired.');
  t.is((await exchange(sim, { code: 'made-up' })).error, 'bad_verification_code');
  t.is(sim.tokensFor('alice').length, 1);
});

test('a code expires after 10 minutes', async (t) => {
  let now = Date.now();
  const sim = await startGitHubSimulator({ now: () => now });
  t.teardown(() => sim.close());
  sim.addUser({ login: 'alice' });
  const code = (await authorize(sim)).searchParams.get('code')!;
  now += 10 * 60_000 + 1;
  t.is((await exchange(sim, { code })).error, 'bad_verification_code');
});

test('wrong client secret is incorrect_client_credentials and leaves the code usable', async (t) => {
  const sim = await startGitHubSimulator();
  t.teardown(() => sim.close());
  sim.addUser({ login: 'alice' });
  const code = (await authorize(sim)).searchParams.get('code')!;
  t.is((await exchange(sim, { code, client_secret: 'wrong' })).error, 'incorrect_client_credentials');
  t.truthy((await exchange(sim, { code })).access_token);
});

test('the code is bound to the redirect_uri it was issued for', async (t) => {
  const sim = await startGitHubSimulator();
  t.teardown(() => sim.close());
  sim.addUser({ login: 'alice' });
  const code = (await authorize(sim)).searchParams.get('code')!;
  t.is((await exchange(sim, { code, redirect_uri: 'http://evil.example/cb' })).error, 'redirect_uri_mismatch');
});

test('PKCE: the S256 verifier must match the challenge', async (t) => {
  const sim = await startGitHubSimulator();
  t.teardown(() => sim.close());
  sim.addUser({ login: 'alice' });
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const pkce = { code_challenge: challenge, code_challenge_method: 'S256' };

  const c1 = (await authorize(sim, pkce)).searchParams.get('code')!;
  t.is((await exchange(sim, { code: c1 })).error, 'bad_verification_code', 'missing verifier');
  const c2 = (await authorize(sim, pkce)).searchParams.get('code')!;
  t.is((await exchange(sim, { code: c2, code_verifier: randomBytes(32).toString('base64url') })).error, 'bad_verification_code');
  const c3 = (await authorize(sim, pkce)).searchParams.get('code')!;
  t.regex((await exchange(sim, { code: c3, code_verifier: verifier })).access_token!, /^gho_/);
});

test('bad, revoked and missing tokens', async (t) => {
  const sim = await startGitHubSimulator();
  t.teardown(() => sim.close());
  sim.addUser({ login: 'alice' });
  const tok = (await exchange(sim, { code: (await authorize(sim)).searchParams.get('code')! })).access_token!;
  const bad = await fetch(`${sim.apiUrl}/user`, { headers: { authorization: 'Bearer gho_nope' } });
  t.is(bad.status, 401);
  t.like(await bad.json(), { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
  t.is((await fetch(`${sim.apiUrl}/user`)).status, 401);
  sim.revokeToken(tok);
  t.is((await fetch(`${sim.apiUrl}/user`, { headers: { authorization: `Bearer ${tok}` } })).status, 401);
});

import test from 'ava';
import { request } from 'node:http';
import { startStack, type Stack } from '../helpers/stack.js';

// Behind Render's proxy (HTTPS_ONLY + TRUST_PROXY): the http → https redirect must point at BASE_URL,
// whatever Host or X-Forwarded-Host the client sends (issue 11 part 6: it answered 308 https://evil.example/).
const BASE_URL = 'https://orchestrator.example.test';

let stack: Stack;
let direct: Stack;
test.before(async () => {
  [stack, direct] = await Promise.all([
    startStack({ env: { BASE_URL, HTTPS_ONLY: 'true', TRUST_PROXY: 'true' } }),
    startStack({ env: { BASE_URL, HTTPS_ONLY: 'true', TRUST_PROXY: 'false' } }),
  ]);
});
test.after.always(async () => { await Promise.all([stack?.close(), direct?.close()]); });

/** A raw request, so Host and the request line are exactly what an attacker sends. */
function raw(target: Stack, path: string, headers: Record<string, string>): Promise<{ status: number; location: string | undefined }> {
  const { port } = new URL(target.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('X-Forwarded-Host and Host do not steer the https redirect: it goes to BASE_URL', async (t) => {
  const res = await raw(stack, '/api/session?x=1', {
    host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http', 'x-forwarded-for': '198.51.100.7',
  });
  t.is(res.status, 308);
  t.is(res.location, `${BASE_URL}/api/session?x=1`);
});

test('an absolute-form request line or a protocol-relative path cannot name another host either', async (t) => {
  const absolute = await raw(stack, 'http://evil.example/next', { host: 'evil.example', 'x-forwarded-proto': 'http' });
  t.is(absolute.status, 308);
  t.is(absolute.location, `${BASE_URL}/next`);
  const slashes = await raw(stack, '//evil.example/x', { host: 'evil.example', 'x-forwarded-proto': 'http' });
  t.is(slashes.status, 308);
  t.is(new URL(slashes.location!).host, new URL(BASE_URL).host);
});

test('X-Forwarded-Proto is read like the client IP: the proxy hop (last entry) counts, not what the client put first', async (t) => {
  // The client claims https; the proxy appended the real scheme, http.
  const spoofed = await raw(stack, '/', { 'x-forwarded-proto': 'https, http' });
  t.is(spoofed.status, 308);
  t.is(spoofed.location, `${BASE_URL}/`);
  // The client claims http; the proxy says https: served, not redirected.
  const real = await raw(stack, '/api/session', { 'x-forwarded-proto': 'http, https' });
  t.not(real.status, 308);
  t.is(real.status, 401);
});

test('probes on the private network are not redirected', async (t) => {
  t.is((await raw(stack, '/healthz', { 'x-forwarded-proto': 'http' })).status, 200);
});

test('without TRUST_PROXY, X-Forwarded-Proto is not read at all (no redirect decided by a client header)', async (t) => {
  const res = await raw(direct, '/api/session', { 'x-forwarded-proto': 'http', 'x-forwarded-host': 'evil.example', host: 'evil.example' });
  t.not(res.status, 308);
  t.is(res.location, undefined);
});

test('HTTPS_ONLY without TRUST_PROXY: sign-in and sign-out set their Secure cookie (no redirect, but no 500 either)', async (t) => {
  // Koa sees plain http here (no proxy header is trusted), and the cookies package refused the Secure
  // session cookie HTTPS_ONLY asks for: every sign-in was a 500 internal_error.
  const agent = direct.agent();
  direct.github.addUser({ id: 7301, login: 'directsignin' });
  const start = await agent.get('/api/auth/github/login');
  t.is(start.status, 302, start.text);
  const authorize = await fetch(`${start.location}&login=directsignin`, { redirect: 'manual' });
  // The callback is on BASE_URL (the proxy's https origin): this request reaches the app directly.
  const done = await agent.get(new URL(authorize.headers.get('location')!).pathname + new URL(authorize.headers.get('location')!).search);
  t.is(done.status, 302, done.text);
  t.true(agent.jar.has('__Host-sid'), 'the session cookie is the __Host- one');
  const me = await agent.get('/api/session');
  t.is(me.status, 200);
  t.is(me.json.user.login, 'directsignin');
  agent.csrfToken = me.json.csrfToken;
  const out = await agent.post('/api/auth/logout', {}, { headers: { origin: BASE_URL } });
  t.is(out.status, 200, out.text);
  t.true(out.setCookies.some((c) => c.startsWith('__Host-sid=;') && /;\s*secure/i.test(c)), out.setCookies.join(' | '));
  t.is((await agent.get('/api/session')).status, 401);
});

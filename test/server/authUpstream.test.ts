import test from 'ava';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startStack, type Stack } from '../helpers/stack.js';
import type { Agent } from '../helpers/agent.js';

// GitHub answering the sign-in's token exchange and profile read badly (a probe's). A proxy in front of the
// simulator's OAuth endpoints answers the token exchange as told (`mode`), everything else is forwarded. Each
// ends with a clear auth_error and no session; a token exchange answered with a JSON `null` was a 500 (grant
// read `.error` of it, server/routes/auth.ts tokenExchange).

type Mode = null | { status: number; type: string; body: string } | 'hang' | { swapTo: string };
let mode: Mode = null;
let target = '';
let proxy: Server;
let stack: Stack;

test.before(async () => {
  proxy = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith('/login/oauth/access_token') && mode !== null) {
      const m = mode;
      req.resume();
      if (m === 'hang') return; // never answered
      if ('swapTo' in m) {
        const token = stack.github.issueToken(m.swapTo);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ access_token: token, token_type: 'bearer', scope: 'read:user,repo' }));
        return;
      }
      res.writeHead(m.status, { 'content-type': m.type });
      res.end(m.body);
      return;
    }
    const t = new URL(target);
    const fwd = httpRequest({ host: t.hostname, port: t.port, path: url, method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    req.pipe(fwd);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  stack = await startStack({ env: { GITHUB_OAUTH_URL: proxyUrl } });
  target = stack.github.oauthUrl;
});
test.after.always(async () => { await stack?.close(); proxy?.closeAllConnections(); proxy?.close(); });
test.afterEach(() => { mode = null; });

let nextId = 62000;
function user(login: string): string { stack.github.addUser({ id: nextId++, login }); return login; }

async function authorizeAs(agent: Agent, login: string): Promise<string> {
  const start = await agent.get('/api/auth/github/login');
  if (start.status !== 302) throw new Error(`start ${start.status}`);
  const authorize = await fetch(`${start.location}&login=${login}`, { redirect: 'manual' });
  const cb = new URL(authorize.headers.get('location')!);
  return cb.pathname + cb.search;
}

const answers: Array<[string, Mode]> = [
  ['500 JSON', { status: 500, type: 'application/json', body: '{"message":"Server Error"}' }],
  ['502 HTML', { status: 502, type: 'text/html', body: '<html>Bad gateway</html>' }],
  ['503 with an access_token in the body', { status: 503, type: 'application/json', body: '{"access_token":"gho_fake503"}' }],
  ['200 error field', { status: 200, type: 'application/json', body: '{"error":"bad_verification_code"}' }],
  ['200 error and token', { status: 200, type: 'application/json', body: '{"error":"x","access_token":"gho_x"}' }],
  ['200 html', { status: 200, type: 'text/html', body: '<html>hello</html>' }],
  ['200 bad JSON', { status: 200, type: 'application/json', body: '{"access_token":' }],
  ['200 token as array (form)', { status: 200, type: 'application/x-www-form-urlencoded', body: 'access_token[]=a&access_token[]=b' }],
  ['200 token as object', { status: 200, type: 'application/json', body: '{"access_token":{"a":1}}' }],
  ['200 empty token', { status: 200, type: 'application/json', body: '{"access_token":""}' }],
  ['200 unknown token', { status: 200, type: 'application/json', body: '{"access_token":"gho_notatoken"}' }],
  ['200 huge body', { status: 200, type: 'application/json', body: JSON.stringify({ access_token: 'a'.repeat(2_000_000) }) }],
  ['200 null', { status: 200, type: 'application/json', body: 'null' }],
  ['200 number', { status: 200, type: 'application/json', body: '42' }],
];

for (const [name, m] of answers) {
  test.serial(`token exchange answered ${name}: a clear auth_error, no session, no 500`, async (t) => {
    const agent = stack.agent();
    const path = await authorizeAs(agent, user(`up-${nextId}`));
    mode = m;
    const r = await agent.get(path);
    if (r.status >= 500) t.log(stack.logs.filter((l) => /TypeError|Cannot read|"err"/.test(l)).slice(-1).join('').slice(0, 600));
    t.is(r.status, 302, r.text.slice(0, 300));
    t.regex(r.location ?? '', /^\/\?auth_error=/, String(r.location));
    t.is((await agent.get('/api/session')).status, 401);
  });
}

test.serial('token exchange never answered: the callback ends within grant\'s timeout, with an auth_error', async (t) => {
  const agent = stack.agent();
  const path = await authorizeAs(agent, user(`up-hang-${nextId}`));
  mode = 'hang';
  const started = Date.now();
  const r = await agent.get(path);
  t.log('took', Date.now() - started, 'ms');
  t.is(r.status, 302);
  t.regex(r.location ?? '', /^\/\?auth_error=/);
  t.is((await agent.get('/api/session')).status, 401);
});

test.serial('/user fails (500, 401, bad shape, huge): github_profile_failed, no session, and the sign-in can be started again', async (t) => {
  for (const fault of [
    { status: 500 },
    { status: 401, body: { message: 'Bad credentials' } },
    { status: 200, body: { id: '12', login: 'x', avatar_url: '' } },
    { status: 200, body: { login: 'x' } },
    { status: 200, body: 'not json' },
    { status: 403, body: { message: 'API rate limit exceeded' }, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 60) } },
  ]) {
    const agent = stack.agent();
    const path = await authorizeAs(agent, user(`up-prof-${nextId}`));
    stack.github.injectFault({ path: '/user', ...fault });
    const r = await agent.get(path);
    t.is(r.status, 302, `${JSON.stringify(fault)}: ${r.text.slice(0, 200)}`);
    t.is(r.location, '/?auth_error=github_profile_failed', JSON.stringify(fault));
    t.is((await agent.get('/api/session')).status, 401);
    const again = await agent.get('/api/auth/github/login');
    t.is(again.status, 302, 'a new start works');
    t.true(again.location!.includes('/login/oauth/authorize'));
  }
});

test.serial('the token GitHub hands back belongs to someone else than who authorized: the session is the token\'s user (what /user says), never a mix', async (t) => {
  const agent = stack.agent();
  const authorizer = user(`up-auth-${nextId}`);
  const other = user(`up-other-${nextId}`);
  const path = await authorizeAs(agent, authorizer);
  mode = { swapTo: other };
  const r = await agent.get(path);
  t.is(r.location, '/');
  const me = await agent.get('/api/session');
  t.is(me.json.user.login, other);
  // the GitHub token stored is the one /user was read with: the repos listing answers as that user
  agent.csrfToken = me.json.csrfToken;
  const repos = await agent.get('/api/github/repos');
  t.true(repos.status === 200, repos.text.slice(0, 200));
});

test.serial('a token without the repo scope (scope edited on the authorize URL): signing in works or fails cleanly, never a 500', async (t) => {
  const agent = stack.agent();
  const login = user(`up-scope-${nextId}`);
  const start = await agent.get('/api/auth/github/login');
  const url = new URL(start.location!);
  url.searchParams.set('scope', 'read:user');
  url.searchParams.set('login', login);
  const authorize = await fetch(url, { redirect: 'manual' });
  const cb = new URL(authorize.headers.get('location')!);
  const r = await agent.get(cb.pathname + cb.search);
  t.is(r.status, 302);
  t.log('location', r.location);
  if (r.location === '/') {
    const me = await agent.get('/api/session');
    agent.csrfToken = me.json.csrfToken;
    const repos = await agent.get('/api/github/repos');
    t.true(repos.status < 500, repos.text.slice(0, 200));
    t.log('repos', repos.status, repos.text.slice(0, 200));
  }
});

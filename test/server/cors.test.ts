import test from 'ava';
import { startStack, dumpRedis, type Stack } from '../helpers/stack.js';

// CORS_ORIGINS over HTTP: a listed origin gets CORS headers on the API (preflights answered before
// auth, CSRF, limits and sessions), any other origin gets none, and its writes stay refused.

const FRONT = 'https://front.example.com'; // listed, another site: bearer tokens only
const SUBDOMAIN = 'http://127.0.0.1:1'; // listed, same site as the app (its cookie goes along)
const EVIL = 'https://evil.example';

let stack: Stack;
test.before(async () => { stack = await startStack({ env: { CORS_ORIGINS: `${FRONT},${SUBDOMAIN}` } }); });
test.after.always(async () => { await stack?.close(); });

let nextId = 8800;
function tokenUser(login: string): string {
  stack.github.addUser({ id: nextId++, login });
  return stack.github.issueToken(login);
}
async function withKey(login: string): Promise<string> {
  const token = tokenUser(login);
  const apiKey = `rnd_${login}${'c'.repeat(24)}`;
  stack.render.addAccount({ apiKey, workspaces: [{ name: `${login} ws` }] });
  const setup = await stack.agent({ authorization: `Bearer ${token}` }).post('/api/render/setup', { api_key: apiKey });
  if (setup.status !== 200) throw new Error(`setup: ${setup.status} ${setup.text}`);
  return token;
}

const preflight = (path: string, origin: string, headers: Record<string, string> = {}) => fetch(stack.url + path, {
  method: 'OPTIONS',
  headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,idempotency-key', ...headers },
});
const corsHeaders = (res: { headers: Headers }) => [...res.headers.keys()].filter((k) => k.startsWith('access-control-'));
const deployBody = (name: string) => ({ github_repo: `${name}/app`, project_name: `${name}-app` });
const myDeployments = async (token: string) => (await stack.agent({ authorization: `Bearer ${token}` }).get('/api/render/my-deployments')).json.deployments as unknown[];

test.serial('a preflight from a listed origin on the API is 204 with exactly that origin, credentials, methods, the headers the API reads and Vary: Origin', async (t) => {
  for (const [path, origin] of [['/api/render/deploy', FRONT], ['/api/session', SUBDOMAIN], ['/mcp', FRONT], ['/api/no/such/route', FRONT]] as const) {
    const res = await preflight(path, origin);
    t.is(res.status, 204, path);
    t.is(res.headers.get('access-control-allow-origin'), origin, path);
    t.is(res.headers.get('access-control-allow-credentials'), 'true');
    const methods = res.headers.get('access-control-allow-methods')!.split(/,\s*/);
    for (const m of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) t.true(methods.includes(m), m);
    const allowed = res.headers.get('access-control-allow-headers')!.split(/,\s*/);
    for (const h of ['content-type', 'authorization', 'x-csrf-token', 'idempotency-key', 'x-render-api-key', 'mcp-protocol-version', 'x-background']) t.true(allowed.includes(h), h);
    t.false(allowed.includes('*'));
    t.truthy(Number(res.headers.get('access-control-max-age')) > 0);
    t.regex(res.headers.get('vary') ?? '', /origin/i);
    t.is(res.headers.get('set-cookie'), null);
    t.is(await res.text(), '');
  }
});

test.serial('an unlisted origin, no Origin, or a non-API path gets no CORS headers; a preflight is not one without Access-Control-Request-Method', async (t) => {
  for (const origin of [EVIL, 'null', `${FRONT}.evil.example`, FRONT.toUpperCase(), `${FRONT}/`, 'https://front.example.com:443x']) {
    const res = await preflight('/api/render/deploy', origin);
    t.deepEqual(corsHeaders(res), [], origin);
    t.not(res.status, 204, origin);
  }
  t.deepEqual(corsHeaders(await preflight('/', FRONT)), [], 'the UI is not shared');
  t.deepEqual(corsHeaders(await preflight('/healthz', FRONT)), []);
  const plainOptions = await fetch(`${stack.url}/api/session`, { method: 'OPTIONS', headers: { origin: FRONT } });
  t.is(plainOptions.headers.get('access-control-allow-methods'), null, 'a plain OPTIONS is not answered as a preflight');
  const get = await stack.agent({ origin: EVIL, authorization: `Bearer ${tokenUser('corsevilget')}` }).get('/api/session');
  t.is(get.status, 200);
  t.deepEqual(corsHeaders(get), [], 'the browser keeps the body from the page');
});

test.serial('a preflight passes no auth, CSRF or limit, makes no session and changes nothing in Redis, whatever it carries', async (t) => {
  const agent = stack.agent();
  await stack.signIn(agent, 'corspreflight');
  await stack.web.deps.telemetry.recorder.flush(); // the sign-in's own requests, counted before the snapshot
  const before = await dumpRedis(stack.web.deps.redis);
  const odd: Array<Record<string, string>> = [
    {},
    { 'access-control-request-method': 'PROPFIND' },
    { 'access-control-request-method': 'x'.repeat(4000) },
    { 'access-control-request-headers': 'cookie, x-evil, ' + 'a,'.repeat(2000) },
    { 'access-control-request-headers': '' },
    { 'content-type': 'application/json', 'content-length': '5' },
    { authorization: 'Bearer not-a-token' },
    { cookie: agent.cookieHeader() },
  ];
  for (let i = 0; i < 60; i++) {
    const headers = odd[i % odd.length]!;
    const init: RequestInit = { method: 'OPTIONS', headers: { origin: FRONT, 'access-control-request-method': 'POST', ...headers } };
    if (headers['content-length']) init.body = '{"a":';
    const res = await fetch(`${stack.url}/api/render/deploy`, init);
    t.is(res.status, 204, JSON.stringify(headers).slice(0, 80));
    t.is(res.headers.get('set-cookie'), null);
    t.is(res.headers.get('access-control-allow-origin'), FRONT);
  }
  const odd404 = await fetch(`${stack.url}/api/%zz/..%2f..%2f`, { method: 'OPTIONS', headers: { origin: FRONT, 'access-control-request-method': 'DELETE' } });
  t.is(odd404.status, 204);
  await stack.web.deps.telemetry.recorder.flush();
  t.is(await dumpRedis(stack.web.deps.redis), before, 'no session, no counter, no record');
  t.is((await agent.get('/api/session')).status, 200, 'the cookie session is untouched');
});

test.serial('a preflight from an unlisted origin is refused 403 origin_rejected before auth, sessions, telemetry and limits: no CORS headers, no cookie, nothing in Redis', async (t) => {
  const agent = stack.agent();
  await stack.signIn(agent, 'corsunlisted');
  const token = tokenUser('corsunlistedbearer');
  await stack.web.deps.telemetry.recorder.flush();
  const before = await dumpRedis(stack.web.deps.redis);
  const carried: Array<Record<string, string>> = [
    {},
    { cookie: agent.cookieHeader() },
    { authorization: `Bearer ${token}` },
    { authorization: 'Bearer not-a-token' },
    { 'x-render-api-key': `rnd_${'z'.repeat(32)}` },
    { 'content-type': 'application/json', 'content-length': '5' },
  ];
  for (const origin of [EVIL, 'null', `${FRONT}.evil.example`, FRONT.toUpperCase()]) {
    for (const [path, method] of [['/api/render/deploy', 'POST'], ['/api/session', 'GET'], ['/mcp', 'POST'], ['/api/no/such/route', 'DELETE'], ['/', 'POST']] as const) {
      for (const headers of carried) {
        const init: RequestInit = { method: 'OPTIONS', headers: { origin, 'access-control-request-method': method, ...headers } };
        if (headers['content-length']) init.body = '{"a":';
        const res = await fetch(stack.url + path, init);
        const what = `${origin} ${path} ${Object.keys(headers).join(',')}`;
        t.is(res.status, 403, what);
        t.is(((await res.json()) as { error: { code: string } }).error.code, 'origin_rejected', what);
        t.deepEqual(corsHeaders(res), [], what);
        t.is(res.headers.get('set-cookie'), null, what);
        t.is(res.headers.get('allow'), null, `${what}: not the router's OPTIONS answer`);
      }
    }
  }
  await stack.web.deps.telemetry.recorder.flush();
  t.is(await dumpRedis(stack.web.deps.redis), before, 'no session, no telemetry, no limit counter, no lock-out');
  t.is((await agent.get('/api/session')).status, 200, 'the cookie session is untouched');
  const listed = await preflight('/api/render/deploy', FRONT);
  t.is(listed.status, 204, 'a listed origin still gets its preflight answered');
  t.is(listed.headers.get('access-control-allow-origin'), FRONT);
});

test.serial('a listed origin reads GET and POST answers with a bearer token (Allow-Origin, credentials, Vary, exposed headers), cross-site or not', async (t) => {
  const token = await withKey('corsfront');
  const api = stack.agent({ origin: FRONT, 'sec-fetch-site': 'cross-site', authorization: `Bearer ${token}` });
  const session = await api.get('/api/session');
  t.is(session.status, 200);
  t.is(session.json.user.login, 'corsfront');
  t.is(session.headers.get('access-control-allow-origin'), FRONT);
  t.is(session.headers.get('access-control-allow-credentials'), 'true');
  t.regex(session.headers.get('vary') ?? '', /origin/i);
  const exposed = session.headers.get('access-control-expose-headers')!.toLowerCase().split(/,\s*/);
  for (const h of ['idempotent-replayed', 'retry-after', 'x-request-id', 'location']) t.true(exposed.includes(h), h);
  t.is(session.headers.get('access-control-allow-methods'), null, 'only preflights list methods');

  const first = await api.post('/api/render/deploy', deployBody('corsfront'), { headers: { 'idempotency-key': 'cors-1' } });
  t.is(first.status, 202, first.text);
  t.is(first.headers.get('access-control-allow-origin'), FRONT);
  const again = await api.post('/api/render/deploy', deployBody('corsfront'), { headers: { 'idempotency-key': 'cors-1' } });
  t.is(again.status, 202);
  t.is(again.headers.get('idempotent-replayed'), 'true');
  t.is(again.json.id, first.json.id);

  // Errors are readable too (the page can show them): no token is 401, with the headers.
  const anonymous = await stack.agent({ origin: FRONT }).get('/api/session');
  t.is(anonymous.status, 401);
  t.is(anonymous.headers.get('access-control-allow-origin'), FRONT);
});

test.serial('an unlisted origin\'s POST is still 403 origin_rejected with no CORS headers and creates nothing, with or without a token', async (t) => {
  const token = await withKey('corsevil');
  for (const origin of [EVIL, 'null']) {
    const res = await stack.agent({ origin, authorization: `Bearer ${token}` }).post('/api/render/deploy', deployBody('corsevil'), { headers: { 'idempotency-key': `evil-${origin}` } });
    t.is(res.status, 403, origin);
    t.is(res.json.error.code, 'origin_rejected');
    t.deepEqual(corsHeaders(res), []);
  }
  const crossSiteNoOrigin = await stack.agent({ 'sec-fetch-site': 'cross-site', authorization: `Bearer ${token}` }).post('/api/render/deploy', deployBody('corsevil'));
  t.is(crossSiteNoOrigin.status, 403, 'cross-site Fetch Metadata without a listed Origin is refused');
  t.deepEqual(await myDeployments(token), []);
});

test.serial('a same-site listed origin uses the session cookie with its CSRF token; without the token it is 403', async (t) => {
  const agent = stack.agent({ origin: SUBDOMAIN, 'sec-fetch-site': 'same-site' });
  await stack.signIn(agent, 'corscookie');
  const session = await agent.get('/api/session');
  t.is(session.headers.get('access-control-allow-origin'), SUBDOMAIN);
  const noToken = await agent.post('/api/render/setup', { api_key: 'rnd_x' }, { csrf: false });
  t.is(noToken.status, 403);
  t.is(noToken.json.error.code, 'csrf_failed');
  t.is(noToken.headers.get('access-control-allow-origin'), SUBDOMAIN);
  const apiKey = `rnd_corscookie${'d'.repeat(24)}`;
  stack.render.addAccount({ apiKey, workspaces: [{ name: 'corscookie ws' }] });
  const setup = await agent.post('/api/render/setup', { api_key: apiKey });
  t.is(setup.status, 200, setup.text);
  t.is(setup.headers.get('access-control-allow-origin'), SUBDOMAIN);
});

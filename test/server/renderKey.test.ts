import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';

let stack: Stack;
test.before(async () => { stack = await startStack(); });
test.after.always(async () => { await stack?.close(); });

const key = (n: string) => `rnd_${n.padEnd(24, 'x')}`;

test('key setup happy path: verified against Render, owners listed, stored sealed', async (t) => {
  const apiKey = key('happy');
  const account = stack.render.addAccount({ apiKey, workspaces: [{ name: 'Acme' }, { name: 'Side project' }] });
  const agent = stack.agent();
  await stack.signIn(agent, 'happy');
  const res = await agent.post('/api/render/setup', { api_key: apiKey });
  t.is(res.status, 200, res.text);
  t.true(res.json.configured);
  t.true(res.json.verified);
  t.is(res.json.keyHint, `rnd_...${apiKey.slice(-4)}`);
  t.deepEqual(res.json.owners.map((o: { name: string }) => o.name).sort(), ['Acme', 'Side project']);
  t.truthy(account);
  const status = await agent.get('/api/render/status');
  t.is(status.json.owners.length, 2);
  t.truthy(status.json.verifiedAt);
  const session = await agent.get('/api/session');
  t.true(session.json.render.verified);
  // Every authenticated read sends this body: one character past Latin-1 in it costs each read Node's slow
  // UTF-8 path (the whole response a two-byte string; bench/README.md, api).
  t.regex(session.text, /^[\x20-\x7e]*$/, 'the signed-in session answer is ASCII');
  t.regex(status.text, /^[\x20-\x7e]*$/, 'the key status is ASCII');
  t.false(JSON.stringify(res.json).includes(apiKey));
});

test('an invalid key gets 400 render_key_invalid and nothing is stored', async (t) => {
  const agent = stack.agent();
  await stack.signIn(agent, 'wrongkey');
  const res = await agent.post('/api/render/setup', { api_key: key('unknown') });
  t.is(res.status, 400);
  t.is(res.json.error.code, 'render_key_invalid');
  t.regex(res.json.error.message, /Render rejected this API key/);
  t.false((await agent.get('/api/render/status')).json.configured);
});

test('key shape errors read as one sentence about what was pasted, no field names, and name the field for the form', async (t) => {
  const agent = stack.agent();
  await stack.signIn(agent, 'shapes');
  const cases: Array<[unknown, RegExp]> = [
    ['', /Paste your Render API key first/],
    [undefined, /Paste your Render API key first/],
    [42, /as text/],
    ['sk_live_1234567890', /Render keys start with rnd_/],
    ['rnd_short', /incomplete/],
    ['rnd_abcdefghij klmnop', /incomplete|characters/],
    [`rnd_${'a'.repeat(300)}`, /too long/],
  ];
  for (const [apiKey, expected] of cases) {
    const res = await agent.post('/api/render/setup', apiKey === undefined ? {} : { api_key: apiKey });
    t.is(res.status, 400, String(apiKey));
    t.is(res.json.error.code, 'validation_failed');
    t.regex(res.json.error.message, expected);
    t.false(res.json.error.message.includes('api_key'), `no raw field name: ${res.json.error.message}`);
    t.false(res.json.error.message.includes(';'), `one message: ${res.json.error.message}`);
    if (typeof apiKey === 'string' && apiKey.startsWith('rnd_')) t.notRegex(res.json.error.message, /start with rnd_/, 'not told to start with rnd_ when it does');
    t.is(res.json.error.field, 'api_key');
  }
  const unknown = await agent.post('/api/render/setup', { api_key: key('unknownkey') });
  t.is(unknown.json.error.code, 'render_key_invalid');
  t.notRegex(unknown.json.error.message, /starts? with rnd_/);
});

test('a revoked key is rejected', async (t) => {
  const apiKey = key('revoked');
  stack.render.addAccount({ apiKey });
  stack.render.revokeKey(apiKey);
  const agent = stack.agent();
  await stack.signIn(agent, 'revoked');
  const res = await agent.post('/api/render/setup', { api_key: apiKey });
  t.is(res.json.error.code, 'render_key_invalid');
});

// Serial: both tests end with clearFaults(), which would also clear the other's fault mid-flight.
test.serial('Render down: 503 with a clear message, nothing stored', async (t) => {
  const apiKey = key('outage');
  stack.render.addAccount({ apiKey });
  const agent = stack.agent();
  await stack.signIn(agent, 'outage');
  const rule = stack.render.setFault({ route: '/owners', kind: 'status', status: 503, apiKey });
  t.truthy(rule);
  const res = await agent.post('/api/render/setup', { api_key: apiKey });
  stack.render.clearFaults();
  t.is(res.status, 503);
  t.is(res.json.error.code, 'render_unavailable');
  t.regex(res.json.error.message, /Nothing was saved/);
  t.false((await agent.get('/api/render/status')).json.configured);
});

test.serial('a connection reset from Render is also a clean 503', async (t) => {
  const apiKey = key('reset');
  stack.render.addAccount({ apiKey });
  const agent = stack.agent();
  await stack.signIn(agent, 'resetuser');
  stack.render.setFault({ route: '/owners', kind: 'reset', apiKey });
  const res = await agent.post('/api/render/setup', { api_key: apiKey });
  stack.render.clearFaults();
  t.is(res.status, 503);
  t.false((await agent.get('/api/render/status')).json.configured);
});

test('missing CSRF token → 403; wrong Origin → 403; not signed in → 401', async (t) => {
  const apiKey = key('csrf');
  stack.render.addAccount({ apiKey });
  const agent = stack.agent();
  await stack.signIn(agent, 'csrfuser');
  const noToken = await agent.post('/api/render/setup', { api_key: apiKey }, { csrf: false });
  t.is(noToken.status, 403);
  t.is(noToken.json.error.code, 'csrf_failed');
  const wrongToken = await agent.post('/api/render/setup', { api_key: apiKey }, { headers: { 'x-csrf-token': 'x'.repeat(43) } });
  t.is(wrongToken.status, 403);
  const wrongOrigin = await agent.post('/api/render/setup', { api_key: apiKey }, { headers: { origin: 'https://evil.example' } });
  t.is(wrongOrigin.status, 403);
  t.is(wrongOrigin.json.error.code, 'origin_rejected');
  const crossSite = await agent.post('/api/render/setup', { api_key: apiKey }, { headers: { 'sec-fetch-site': 'cross-site' } });
  t.is(crossSite.status, 403);
  t.false((await agent.get('/api/render/status')).json.configured, 'nothing stored by rejected requests');
  const sameOrigin = await agent.post('/api/render/setup', { api_key: apiKey }, { headers: { origin: stack.url } });
  t.is(sameOrigin.status, 200);
  const anon = stack.agent();
  t.is((await anon.post('/api/render/setup', { api_key: apiKey })).status, 401);
  t.is((await anon.get('/api/render/status')).status, 401);
  t.is((await anon.post('/api/render/clear-credentials')).status, 401);
});

test('the _csrf form field works for form posts', async (t) => {
  const apiKey = key('formpost');
  stack.render.addAccount({ apiKey });
  const agent = stack.agent();
  await stack.signIn(agent, 'formuser');
  const res = await agent.request('POST', '/api/render/setup', {
    body: new URLSearchParams({ api_key: apiKey, _csrf: agent.csrfToken! }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' }, csrf: false,
  });
  t.is(res.status, 200, res.text);
});

test('a form body with a field its parser would leave out (no name, a prototype name, past the 1,000th) is refused, nothing stored', async (t) => {
  // The parser dropped these silently and the route judged what was left: "api_key=<key>&=x" stored the key,
  // and on a redeploy (all fields optional) "= " was a plain redeploy, answered 202 (found by attack-fuzz).
  const apiKey = key('formdrop');
  stack.render.addAccount({ apiKey });
  const agent = stack.agent();
  await stack.signIn(agent, 'formdrop');
  const form = (body: string) => agent.request('POST', '/api/render/setup', { body: `${body}&_csrf=${agent.csrfToken!}`, headers: { 'content-type': 'application/x-www-form-urlencoded; charset=iso-8859-1' }, csrf: false });
  const apiKeyField = `api_key=${apiKey}`;
  for (const body of [`${apiKeyField}&=x`, `${apiKeyField}&= `, `=&${apiKeyField}`, `${apiKeyField}&__proto__=1`, `${apiKeyField}&constructor[prototype][x]=1`, `${apiKeyField}&toString=1`, `${apiKeyField}${'&'.repeat(1_000)}`]) {
    const res = await form(body);
    t.is(res.status, 400, `${body.slice(0, 60)}: ${res.text}`);
    t.is(res.json.error.code, 'validation_failed');
    t.false(res.text.includes(apiKey));
    t.false((await agent.get('/api/render/status')).json.configured, `${body.slice(0, 60)}: nothing stored`);
  }
  // Empty parts and empty values are not left out: they are read as before.
  const res = await form(`&${apiKeyField}&&`);
  t.is(res.status, 200, res.text);
});

test('oversized and malformed bodies get clean 4xx and change nothing', async (t) => {
  const agent = stack.agent();
  await stack.signIn(agent, 'badbodies');
  const big = await agent.request('POST', '/api/render/setup', { body: JSON.stringify({ api_key: 'rnd_' + 'a'.repeat(200_000) }), headers: { 'content-type': 'application/json' } });
  t.is(big.status, 413);
  t.is(big.json.error.code, 'payload_too_large');
  const broken = await agent.request('POST', '/api/render/setup', { body: '{"api_key": ', headers: { 'content-type': 'application/json' } });
  t.is(broken.status, 400);
  t.is(broken.json.error.code, 'malformed_json');
  // Valid JSON the parser refuses (a member named __proto__): said so, not "not valid JSON"; no key connected.
  // Nested, and spelt with escapes, alike.
  for (const member of ['"__proto__":{"x":1}', '"a":{"b":[{"__proto__":1}]}', '"\\u005f_proto__":{"x":1}']) {
    const poisoned = await agent.request('POST', '/api/render/setup', { body: `{"api_key":${JSON.stringify(key('p'))},${member}}`, headers: { 'content-type': 'application/json' } });
    t.is(poisoned.status, 400, poisoned.text);
    t.is(poisoned.json.error.code, 'validation_failed', member);
    t.regex(poisoned.json.error.message, /named "__proto__"/);
    t.false(poisoned.text.includes(key('p')), 'the key is not echoed');
    t.false((await agent.get('/api/render/status')).json.configured, 'nothing connected');
  }
  for (const body of [{}, { api_key: 42 }, { api_key: 'not-a-key' }, { api_key: key('x'), extra: true }, [], { api_key: null }]) {
    const res = await agent.post('/api/render/setup', body);
    t.is(res.status, 400, JSON.stringify(body));
    t.is(res.json.error.code, 'validation_failed');
  }
  const wrongType = await agent.request('POST', '/api/render/setup', { body: 'api_key=x', headers: { 'content-type': 'text/plain' } });
  t.true(wrongType.status >= 400 && wrongType.status < 500);
  t.false((await agent.get('/api/render/status')).json.configured);
  t.is((await fetch(`${stack.url}/healthz`)).status, 200, 'process still up');
});

test('clear-credentials removes the key', async (t) => {
  const apiKey = key('clear');
  stack.render.addAccount({ apiKey });
  const agent = stack.agent();
  await stack.signIn(agent, 'clearuser');
  t.is((await agent.post('/api/render/setup', { api_key: apiKey })).status, 200);
  const cleared = await agent.post('/api/render/clear-credentials');
  t.is(cleared.status, 200);
  t.false(cleared.json.configured);
  t.false((await agent.get('/api/session')).json.render.configured);
});

test('health and readiness', async (t) => {
  t.deepEqual(await (await fetch(`${stack.url}/healthz`)).json(), { status: 'ok' });
  const ready = await fetch(`${stack.url}/readyz`);
  t.is(ready.status, 200);
  t.is(((await ready.json()) as { checks: { redis: string } }).checks.redis, 'ok');
});

test('security headers: strict CSP, no caching of API responses, request id', async (t) => {
  const res = await fetch(`${stack.url}/api/session`);
  const csp = res.headers.get('content-security-policy')!;
  t.regex(csp, /default-src 'self'/);
  t.regex(csp, /script-src 'self'(;|$)/);
  t.regex(csp, /frame-ancestors 'none'/);
  t.is(res.headers.get('x-content-type-options'), 'nosniff');
  t.is(res.headers.get('cache-control'), 'no-store');
  t.regex(res.headers.get('x-request-id')!, /^[0-9a-f-]{36}$/);
  t.is(res.status, 401);
  t.deepEqual(await res.json(), { error: { code: 'unauthenticated', message: 'Sign in with GitHub first.' } });
  const unknown = await fetch(`${stack.url}/api/nope`);
  t.is(unknown.status, 404);
  t.is(((await unknown.json()) as { error: { code: string } }).error.code, 'not_found');
});

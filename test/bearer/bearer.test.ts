import test from 'ava';
import { manualClock } from '../../server/clock.js';
import { dumpRedis, type Stack } from '../helpers/stack.js';
import { usePipelineStack } from '../helpers/pipelineStack.js';
import { Agent } from '../helpers/agent.js';
import { addNodeRepo, waitFinished } from '../helpers/pipeline.js';

// Bearer-token REST (issue 13 part 1): GitHub user tokens and PATs from the GitHub simulator, over real HTTP.
const clock = manualClock();
let stack: Stack;
usePipelineStack(test, { clock, env: { BEARER_RECHECK_SECONDS: '120' } }, (p) => ({ stack } = p));

let nextId = 5000;
function user(login: string) {
  stack.github.addUser({ id: nextId++, login, name: `${login} name` });
  return stack.github.issueToken(login);
}
const bearer = (token: string, extra: Record<string, string> = {}) => new Agent(stack.url, { authorization: `Bearer ${token}`, ...extra });
const githubUserCalls = () => stack.github.calls.filter((c) => c.path === '/api/v3/user').length;
function renderAccount(login: string) {
  const apiKey = `rnd_${login}${'b'.repeat(24)}`;
  const account = stack.render.addAccount({ apiKey, workspaces: [{ name: `${login} ws` }] });
  return { apiKey, account };
}

test.serial('a GitHub token works on /api routes without cookies or CSRF, and is checked with GitHub once per window', async (t) => {
  const token = user('tokenuser');
  const api = bearer(token);
  const before = githubUserCalls();
  const session = await api.get('/api/session');
  t.is(session.status, 200, session.text);
  t.is(session.json.user.login, 'tokenuser');
  t.deepEqual(session.setCookies, [], 'no cookie is set on a bearer request');
  for (let i = 0; i < 3; i++) t.is((await api.get('/api/render/status')).status, 200);
  t.is(githubUserCalls() - before, 1, 'verified once, then cached by HMAC');
  clock.advance(121_000);
  t.is((await api.get('/api/render/status')).status, 200);
  t.is(githubUserCalls() - before, 2, 're-checked after the window');

  // State-changing without a CSRF token: setup stores the key in the token session.
  const { apiKey } = renderAccount('tokenuser');
  const setup = await api.post('/api/render/setup', { api_key: apiKey });
  t.is(setup.status, 200, setup.text);
  t.true((await api.get('/api/render/status')).json.configured);
  // Redis holds the token session under HMACs only: no token anywhere.
  const dump = await dumpRedis(stack.web.deps.redis);
  t.false(dump.includes(token));
  t.false(dump.includes(apiKey));
});

test.serial('bad, expired and revoked tokens are 401 github_token_invalid; a revoked one stops within the re-check window', async (t) => {
  const bad = await bearer('gho_notarealtokennotarealtoken0000').get('/api/session');
  t.is(bad.status, 401);
  t.is(bad.json.error.code, 'github_token_invalid');
  const junk = await bearer('not a token at all').get('/api/session');
  t.is(junk.status, 401);
  t.is(junk.json.error.code, 'github_token_invalid');

  stack.github.addUser({ id: nextId++, login: 'patuser' });
  const pat = stack.github.issuePat('patuser');
  t.is((await bearer(pat).get('/api/session')).json.user.login, 'patuser');
  stack.github.expireToken(pat);
  clock.advance(121_000);
  const expired = await bearer(pat).get('/api/session');
  t.is(expired.status, 401);
  t.is(expired.json.error.code, 'github_token_invalid');

  const token = user('revoked');
  const { apiKey } = renderAccount('revoked');
  t.is((await bearer(token).post('/api/render/setup', { api_key: apiKey })).status, 200);
  stack.github.revokeToken(token);
  t.is((await bearer(token).get('/api/render/status')).status, 200, 'still inside the window: cached');
  clock.advance(121_000);
  const after = await bearer(token).get('/api/render/status');
  t.is(after.status, 401);
  t.is(after.json.error.code, 'github_token_invalid');
  t.false(after.text.includes(token));
});

test.serial('a request with both a session cookie and a bearer token is 400 and changes nothing', async (t) => {
  const browser = stack.agent();
  await stack.signIn(browser, 'both');
  const token = stack.github.issueToken('both');
  const res = await browser.post('/api/auth/logout', {}, { headers: { authorization: `Bearer ${token}` } });
  t.is(res.status, 400);
  t.is(res.json.error.code, 'bearer_with_cookie');
  t.is((await browser.get('/api/session')).status, 200, 'the browser session is untouched');
  // X-Render-Api-Key is for bearer requests only.
  const keyOnCookie = await browser.get('/api/render/status', { headers: { 'x-render-api-key': 'rnd_whateverwhateverwhatever' } });
  t.is(keyOnCookie.status, 400);
});

test.serial('logout and clear-credentials end the token session; the token then starts a fresh one', async (t) => {
  const token = user('ender');
  const api = bearer(token);
  const { apiKey } = renderAccount('ender');
  t.is((await api.post('/api/render/setup', { api_key: apiKey })).status, 200);
  t.is((await api.post('/api/render/clear-credentials')).status, 200);
  t.false((await api.get('/api/render/status')).json.configured);
  t.is((await api.post('/api/render/setup', { api_key: apiKey })).status, 200);
  const out = await api.post('/api/auth/logout');
  t.is(out.status, 200, out.text);
  t.deepEqual(out.setCookies, []);
  const again = await api.get('/api/render/status');
  t.is(again.status, 200, 'a new token session');
  t.false(again.json.configured, 'the key ended with the session it was given to');
});

test.serial('X-Render-Api-Key: used for that request and its deploy only, never stored in the token session', async (t) => {
  const token = user('ci');
  const { apiKey } = renderAccount('ci');
  addNodeRepo(stack, 'ci', 'app');
  const ci = bearer(token, { 'x-render-api-key': apiKey });
  const services = await ci.get('/api/render/services');
  t.is(services.status, 200, services.text);
  const redis = stack.web.deps.redis;
  const sessionsBefore = await redis.keys(`${stack.config.redisPrefix}:sess:*`);
  const deploy = await ci.post('/api/render/deploy', { github_repo: 'ci/app', project_name: 'ci-app' });
  t.is(deploy.status, 202, deploy.text);
  t.false((await bearer(token).get('/api/render/status')).json.configured, 'the token session holds no key');
  const during = await redis.keys(`${stack.config.redisPrefix}:sess:*`);
  t.is(during.length, sessionsBefore.length + 1, 'one key session kept for the running deploy');
  const job = await stack.web.deps.queue.getJob(deploy.json.id);
  t.deepEqual(Object.keys(job?.data ?? {}).sort(), ['deploymentId', 'requestMac', 'userId']);
  const done = await waitFinished(bearer(token), deploy.json.id);
  t.is(done.status, 'live');
  // The worker discards the key's session when the deploy ends.
  for (let i = 0; i < 50 && (await redis.keys(`${stack.config.redisPrefix}:sess:*`)).length > sessionsBefore.length; i++) await new Promise((r) => setTimeout(r, 50));
  t.is((await redis.keys(`${stack.config.redisPrefix}:sess:*`)).length, sessionsBefore.length);
  const dump = await dumpRedis(redis);
  t.false(dump.includes(apiKey));
  t.false(dump.includes(token));
  t.false(stack.logs.join('').includes(apiKey));
  t.false(stack.logs.join('').includes(token));

  const wrong = await bearer(token, { 'x-render-api-key': `rnd_${'z'.repeat(30)}` }).get('/api/render/services');
  t.is(wrong.status, 400);
  t.is(wrong.json.error.code, 'render_key_invalid');
  const malformed = await bearer(token, { 'x-render-api-key': 'sk_live_x' }).get('/api/render/services');
  t.is(malformed.status, 400);
  t.is(malformed.json.error.code, 'validation_failed');
});

test.serial('a JSON body sent under a type the parser does not read (fetch\'s text/plain default, none at all) is 415, not a field error, and changes nothing', async (t) => {
  // It was read as no body: POST /api/render/setup said "Paste your Render API key first." to a client that had
  // sent its key, and a deploy named fields the client had sent as missing.
  const token = user('plaintext');
  const { apiKey } = renderAccount('plaintext');
  addNodeRepo(stack, 'plaintext', 'app');
  const base = { authorization: `Bearer ${token}` };
  const cases: Array<{ path: string; body: string; type?: string }> = [
    { path: '/api/render/setup', body: JSON.stringify({ api_key: apiKey }), type: 'text/plain;charset=UTF-8' },
    { path: '/api/render/setup', body: JSON.stringify({ api_key: apiKey }) },
    { path: '/api/render/deploy', body: JSON.stringify({ github_repo: 'plaintext/app', project_name: 'plain-app' }), type: 'text/plain' },
    { path: '/api/render/deploy', body: JSON.stringify({ github_repo: 'plaintext/app', project_name: 'plain-app' }), type: 'application/octet-stream' },
  ];
  for (const c of cases) {
    // Raw fetch: with no type given it sends text/plain;charset=UTF-8, as a script's fetch does.
    const headers: Record<string, string> = { ...base, ...(c.type ? { 'content-type': c.type } : {}) };
    const res = await bearer(token).request('POST', c.path, { body: c.body, headers });
    t.is(res.status, 415, `${c.path} ${c.type ?? '(none)'}: ${res.text}`);
    t.is(res.json?.error?.code, 'unsupported_media_type');
    t.false(res.text.includes(apiKey));
  }
  const api = bearer(token);
  t.false((await api.get('/api/render/status')).json.configured, 'no key stored');
  t.deepEqual((await api.get('/api/render/my-deployments')).json.deployments, [], 'nothing deployed');
  // JSON and form bodies are read as before, and a bodyless POST needs no type.
  t.is((await api.post('/api/render/setup', { api_key: apiKey })).status, 200);
  t.is((await api.request('POST', '/api/render/clear-credentials')).status, 200);
});

test.serial('GET /api/render/my-deployments: a cursor that is not a nextCursor of this API is a 400, not an empty last page', async (t) => {
  // It answered 200 {"deployments":[],"nextCursor":null}: a client that mangled the cursor (cut short, encoded
  // twice) was told it had seen every deployment.
  const token = user('pager');
  const { apiKey } = renderAccount('pager');
  addNodeRepo(stack, 'pager', 'app');
  const api = bearer(token);
  t.is((await api.post('/api/render/setup', { api_key: apiKey })).status, 200);
  for (const name of ['pager-one', 'pager-two']) t.is((await api.post('/api/render/deploy', { github_repo: 'pager/app', project_name: name })).status, 202);
  const first = await api.get('/api/render/my-deployments?limit=1');
  const cursor = first.json.nextCursor as string;
  t.truthy(cursor);
  for (const bad of [cursor.slice(0, -1), `${cursor}x`, encodeURIComponent(cursor).replace('_', '%255F'), 'abc', '%00%ff', `x${cursor}`]) {
    const res = await api.get(`/api/render/my-deployments?limit=1&cursor=${bad}`);
    t.is(res.status, 400, `${bad}: ${res.text}`);
    t.is(res.json.error.code, 'validation_failed');
    t.regex(res.json.error.message, /cursor/);
  }
  const next = await api.get(`/api/render/my-deployments?limit=1&cursor=${encodeURIComponent(cursor)}`);
  t.is(next.status, 200);
  t.is(next.json.deployments.length, 1);
  t.not(next.json.deployments[0].id, first.json.deployments[0].id);
  t.is((await api.get('/api/render/my-deployments?limit=1&cursor=')).json.deployments[0].id, first.json.deployments[0].id, 'an empty cursor is the first page');
});

import test from 'ava';
import { randomBytes } from 'node:crypto';
import type { Stack } from '../helpers/stack.js';
import { useAttackStack } from '../helpers/attackStack.js';
import {
  ATTACK_UA, contractViolation, requestFor, send, snapshot, tenantWithKey, unhandledErrors, withResources,
  type AttackRequest, type Caller, type RouteSpec, type Tenant, type TenantIds,
} from '../helpers/attack.js';
import { assertNoSecrets, findSecrets, type SecretWitness } from '../helpers/secretScan.js';

// CSRF on every state-changing route the app mounts (discovered from its router), session fixation,
// and a signed-out cookie replayed on every route.

const ROOMY = { points: 10_000, durationSec: 600 };

// What useAttackStack hands over (below).
let stack: Stack, witness: SecretWitness, specs: RouteSpec[], unknownRoutes: string[];
let owner: Tenant;
let ownerIds: TenantIds;
let other: Tenant;
const transcript: string[] = [];

// Sign-in and key-setup limits are lifted: this suite signs in many fresh users from one address.
useAttackStack(test, {
  appOptions: { security: { limits: { signInStart: ROOMY, signInCallback: ROOMY, keySetup: ROOMY } } },
  renderOptions: { rateLimits: { createService: { limit: 10_000 }, write: { limit: 10_000 } } },
}, async (s) => {
  ({ stack, witness, specs, unknownRoutes } = s);
  owner = await tenantWithKey(stack, 'csrf-owner');
  ownerIds = await withResources(stack, owner);
  other = await tenantWithKey(stack, 'csrf-other');
});

// Bearer-only routes (/mcp) read no cookie at all: nothing to forge; the bearer test below covers them.
const writers = () => specs.filter((s) => s.method !== 'GET' && s.access !== 'bearer');
const userRoutes = () => specs.filter((s) => s.access === 'user');
const as = (who: Caller | null, req: AttackRequest) => send(stack.url, who, req, transcript);

test.serial('every route the app mounts is in the attack catalogue', (t) => {
  t.deepEqual(unknownRoutes, [], 'new routes: add them to ROUTE_CATALOG in test/helpers/attackRoutes.ts');
  t.true(writers().length >= 9, `${writers().length} state-changing routes`);
});

test.serial('every state-changing route refuses a missing, wrong, foreign or misplaced CSRF token, a foreign Origin and a cross-site fetch', async (t) => {
  const before = await snapshot(stack, [owner, other]);
  const token = owner.agent.csrfToken!;
  const origin = stack.config.origin;
  const port = new URL(origin).port;
  const csrfCases: Array<[string, Partial<AttackRequest>]> = [
    ['no token', { csrf: 'none' }],
    ['a random token of the same length', { csrf: randomBytes(32).toString('base64url') }],
    ['an empty token', { csrf: '' }],
    ['the token with one more character', { csrf: `${token}A` }],
    ['the token cut short', { csrf: token.slice(0, -1) }],
    ['the token in another case', { csrf: token.toUpperCase() === token ? token.toLowerCase() : token.toUpperCase() }],
    ['another user\'s token', { csrf: other.agent.csrfToken! }],
  ];
  const originCases: Array<[string, Record<string, string>]> = [
    ['a foreign Origin', { origin: 'https://evil.example' }],
    ['Origin null (sandboxed frame, file:)', { origin: 'null' }],
    ['our host on another port', { origin: `http://127.0.0.1:${Number(port) + 1}` }],
    ['our origin as a prefix of another host', { origin: `${origin}.evil.example` }],
    ['our origin over https', { origin: origin.replace('http:', 'https:') }],
    ['localhost instead of 127.0.0.1', { origin: `http://localhost:${port}` }],
    ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
    ['Sec-Fetch-Site: cross-site with our Origin', { 'sec-fetch-site': 'cross-site', origin }],
  ];
  for (const spec of writers()) {
    const base = requestFor(spec, ownerIds);
    const name = `${spec.method} ${spec.path}`;
    for (const [what, change] of csrfCases) {
      const res = await as(owner, { ...base, ...change });
      t.is(res.status, 403, `${name} with ${what}: ${res.text}`);
      t.is(res.json?.error?.code, 'csrf_failed', `${name} with ${what}`);
    }
    // The token only counts in the header or the body, never in the URL (it would end up in logs and Referer).
    const inQuery = await as(owner, { ...base, csrf: 'none', path: `${base.path}?_csrf=${encodeURIComponent(token)}` });
    t.is(inQuery.status, 403, `${name} with the token in the query string`);
    for (const [what, headers] of originCases) {
      const res = await as(owner, { ...base, headers });
      t.is(res.status, 403, `${name} with ${what}: ${res.text}`);
      t.is(res.json?.error?.code, 'origin_rejected', `${name} with ${what}`);
    }
  }
  t.deepEqual(await snapshot(stack, [owner, other]), before, 'no refused request changed anything');
});

/** What a fresh tenant needs before a route can succeed (resume needs a suspended service). */
async function prepared(spec: RouteSpec, login: string): Promise<{ tn: Tenant; ids: TenantIds }> {
  const tn = await tenantWithKey(stack, login);
  const ids = await withResources(stack, tn);
  if (spec.path.endsWith('/resume')) await tn.render.suspendService(ids.serviceId);
  return { tn, ids };
}

test.serial('with the session\'s token and our own Origin every state-changing route accepts the request', async (t) => {
  const sameOrigin = { origin: stack.config.origin, 'sec-fetch-site': 'same-origin' };
  let n = 0;
  for (const spec of writers()) {
    const { tn, ids } = await prepared(spec, `csrf-ok-${n++}`);
    const res = await as(tn, { ...requestFor(spec, ids), headers: sameOrigin });
    t.true(res.status >= 200 && res.status < 300, `${spec.method} ${spec.path}: ${res.status} ${res.text}`);
  }
  // A form post carries the token as _csrf (no header): accepted the same way.
  // (Redeploy reads a body, whose commit_sha is optional: a form with the token alone is a plain redeploy.)
  for (const spec of writers().filter((s) => s.method === 'POST' && (s.body === 'ignored' || s.path === '/api/render/setup' || s.path === '/api/render/services/:id/redeploy'))) {
    const { tn, ids } = await prepared(spec, `csrf-form-${n++}`);
    const fields = new URLSearchParams({ _csrf: tn.agent.csrfToken!, ...(spec.path === '/api/render/setup' ? { api_key: ids.apiKey } : {}) });
    const res = await as(tn, { method: 'POST', path: requestFor(spec, ids).path, csrf: 'none', body: fields.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded', ...sameOrigin } });
    t.true(res.status >= 200 && res.status < 300, `form ${spec.method} ${spec.path}: ${res.status} ${res.text}`);
  }
});

test.serial('bearer tokens: every state-changing route accepts one without a CSRF token; with a session cookie as well it is 400 and changes nothing', async (t) => {
  let n = 0;
  for (const spec of writers()) {
    const { tn, ids } = await prepared(spec, `bearer-ok-${n++}`);
    const token = stack.github.issueToken(tn.login);
    const auth = { authorization: `Bearer ${token}` };
    // The token session is its own: the key goes in with a bearer setup (unless that is the route under test).
    if (spec.path !== '/api/render/setup') t.is((await as(null, { method: 'POST', path: '/api/render/setup', json: { api_key: tn.apiKey }, csrf: 'none', headers: auth })).status, 200);
    if (spec.path.endsWith('/resume')) await tn.render.suspendService(ids.serviceId);
    const res = await as(null, { ...requestFor(spec, ids), csrf: 'none', headers: auth });
    t.true(res.status >= 200 && res.status < 300, `bearer ${spec.method} ${spec.path}: ${res.status} ${res.text}`);
    t.is(res.headers['set-cookie'], undefined, `bearer ${spec.method} ${spec.path} sets no cookie`);
  }
  // A browser can never be driven by a token: cookie + bearer is refused before anything happens.
  const before = await snapshot(stack, [owner, other]);
  const ownerToken = stack.github.issueToken(owner.login);
  for (const spec of specs.filter((s) => s.access === 'user' || s.access === 'bearer')) {
    if (spec.stream) continue;
    const res = await as(owner, { ...requestFor(spec, ownerIds), headers: { authorization: `Bearer ${ownerToken}` } });
    t.is(res.status, 400, `${spec.method} ${spec.path} with cookie and bearer: ${res.text}`);
    t.is(res.json?.error?.code, 'bearer_with_cookie', `${spec.method} ${spec.path}`);
  }
  // A bearer-only route refuses the cookie alone.
  for (const spec of specs.filter((s) => s.access === 'bearer')) {
    const res = await as(owner, requestFor(spec, ownerIds));
    t.is(res.status, 401, `${spec.method} ${spec.path} with a cookie only`);
  }
  t.deepEqual(await snapshot(stack, [owner, other]), before, 'no refused request changed anything');
});

test.serial('session fixation: a cookie planted before sign-in never becomes the signed-in session', async (t) => {
  const attacker = stack.agent({ 'user-agent': ATTACK_UA });
  const start = await attacker.get('/api/auth/github/login');
  t.is(start.status, 302);
  const planted = new Map(attacker.jar);
  t.true(planted.size > 0, 'the login start handed out a pre-auth cookie');

  // The victim's browser carries the attacker's pre-auth cookie (set by a sibling subdomain, an injected header…).
  const victim = stack.agent({ 'user-agent': ATTACK_UA });
  for (const [k, v] of planted) victim.jar.set(k, v);
  await stack.signIn(victim, 'fixation-victim');
  for (const [k, v] of planted) t.not(victim.jar.get(k), v, `cookie ${k} was replaced at sign-in`);
  t.is((await victim.get('/api/session')).json.user.login, 'fixation-victim');

  // The attacker's copy leads nowhere: not the victim's session, not any session.
  for (const spec of userRoutes()) {
    const res = await as({ agent: attacker }, { method: spec.method, path: spec.path.replace(/:\w+/g, 'x'), json: spec.method === 'GET' ? undefined : {}, csrf: 'none' });
    t.is(res.status, 401, `${spec.method} ${spec.path} with the planted cookie`);
  }
  const sid = [...planted.keys()].find((k) => !k.endsWith('.sig'))!;
  const ref = stack.web.deps.sessions.refOf(planted.get(sid)!);
  t.is(await stack.redis.client.exists(`${stack.redis.prefix}:sess:${ref}`), 0, 'the pre-auth record is gone from Redis');

  // An id the attacker made up (unsigned, or signed with nothing) is never adopted either.
  const forged = stack.agent({ 'user-agent': ATTACK_UA });
  const madeUp = randomBytes(32).toString('base64url');
  forged.jar.set(sid, madeUp);
  await stack.signIn(forged, 'fixation-forged');
  t.not(forged.jar.get(sid), madeUp);
  const replay = await as(null, { method: 'GET', path: '/api/session', headers: { cookie: `${sid}=${madeUp}` } });
  t.is(replay.status, 401);
});

test.serial('a forged OAuth callback (a cross-site link, GET, cookie sent under SameSite=Lax) does not sign anyone out', async (t) => {
  const tn = await tenantWithKey(stack, 'callback-target');
  const cookie = tn.agent.cookieHeader();
  const crossSite = { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' };
  for (const query of ['', '?error=access_denied', '?code=forged&state=forged', `?code=x&state=${'s'.repeat(40)}`]) {
    const res = await as(tn, { method: 'GET', path: `/api/auth/github/callback${query}`, headers: crossSite });
    t.is(res.status, 302);
    t.regex(res.headers.location ?? '', /^\/\?auth_error=(github_login_failed|access_denied)$/);
  }
  // Even with sign-in state in the session (the user had clicked "Sign in" in another tab).
  t.is((await as(tn, { method: 'GET', path: '/api/auth/github/login' })).status, 302);
  t.is((await as(tn, { method: 'GET', path: '/api/auth/github/callback?code=forged&state=forged', headers: crossSite })).status, 302);
  t.is(tn.agent.cookieHeader(), cookie);
  const session = await tn.agent.get('/api/session');
  t.is(session.status, 200, 'still signed in');
  t.true(session.json.render.configured, 'key still connected');
});

test.serial('a signed-out cookie replayed on every route: 401, even after the user signs in again', async (t) => {
  const tn = await tenantWithKey(stack, 'replayed');
  const ids = await withResources(stack, tn);
  const cookie = tn.agent.cookieHeader();
  const token = tn.agent.csrfToken!;
  t.is((await tn.agent.post('/api/auth/logout')).status, 200);
  const replayAll = async (when: string) => {
    for (const spec of specs) {
      const res = await as(null, { ...requestFor(spec, ids), csrf: token, headers: { cookie, origin: stack.config.origin } });
      t.is(contractViolation(spec.path, res), null, `${spec.method} ${spec.path} ${when}`);
      // 401 before anything else; an id-bearing route may say 404 (it never tells whose id it was).
      if (spec.access === 'user') t.true(res.status === 401 || (res.status === 404 && Boolean(spec.params)), `${spec.method} ${spec.path} ${when}: ${res.status} ${res.text}`);
      else t.false(res.text.includes(ids.deploymentId) || res.text.includes(ids.serviceId), `${spec.method} ${spec.path} shows nothing of theirs`);
    }
  };
  await replayAll('after sign-out');
  const again = stack.agent({ 'user-agent': ATTACK_UA });
  await stack.signIn(again, 'replayed');
  t.is((await again.get('/api/session')).status, 200);
  await replayAll('after signing in again');
  // And what the old session started was stopped with it.
  const rec = await again.get(`/api/render/deployments/${ids.deploymentId}`);
  t.is(rec.json.status, 'credentials_revoked');
});

test.serial('the secret scan itself finds a planted secret in each place it searches, plain or URL-encoded', async (t) => {
  const canary = `rnd_canary/${randomBytes(8).toString('hex')}`;
  const key = `${stack.redis.prefix}:attack-canary`;
  await stack.redis.client.hset(key, 'v', `x${canary}x`);
  try {
    const found = await findSecrets({ stack, secrets: [canary], extraLogs: [['log line ', canary]], transcripts: [[`GET /?k=${encodeURIComponent(canary)}`]] });
    t.deepEqual(found.map((f) => `${f.where}/${f.form}`).sort(), ['extra log #0/plain', 'redis/plain', 'transcript #0/url-encoded']);
    t.false(JSON.stringify(found).includes(canary), 'the report masks what it found');
  } finally {
    await stack.redis.client.del(key);
  }
});

test.serial('afterwards: no unhandled error, no secret anywhere', async (t) => {
  t.deepEqual(unhandledErrors(stack.logs).map((l) => l.slice(0, 300)), []);
  await assertNoSecrets(t, { stack, agents: witness.agents, transcripts: [transcript], secrets: witness.secrets() });
});

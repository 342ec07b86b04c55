import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import type { Agent, AgentResponse } from '../helpers/agent.js';
import { addNodeRepo } from '../helpers/pipeline.js';
import { namedUtcMinute } from '../helpers/namedTime.js';

// Rate limits and the invalid-key lock-out, shrunk through the `security` option. The app trusts
// X-Forwarded-For here (TRUST_PROXY, as behind Render's proxy), so each test is its own client IP.

let stack: Stack;
test.before(async () => {
  stack = await startStack({
    env: { TRUST_PROXY: 'true' },
    appOptions: {
      security: {
        limits: {
          signInStart: { points: 3, durationSec: 60 },
          signInCallback: { points: 4, durationSec: 60 },
          keySetup: { points: 5, durationSec: 60 },
          deploys: { points: 2, durationSec: 60 },
          lifecycle: { points: 2, durationSec: 60 },
          invalidKeys: { maxInvalid: 3, windowSec: 60, lockSec: 30, maxInvalidPerUser: 4 },
          invalidTokens: { maxInvalid: 4, windowSec: 60 },
        },
      },
    },
  });
  // Until the web process's Redis connection is up, limits are counted by the in-memory insurance
  // limiter (by design); start counting once it is ready.
  for (let i = 0; i < 100 && (await fetch(`${stack.url}/readyz`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 20));
});
test.after.always(async () => { await stack?.close(); });

let ipCounter = 10;
const freshIp = () => `203.0.113.${ipCounter++}`;

function assert429(t: import('ava').ExecutionContext, res: AgentResponse<any>, code: string, maxSeconds: number) {
  t.is(res.status, 429, res.text);
  t.is(res.json.error.code, code);
  t.true(res.json.error.message.length > 20, 'a sentence, not a bare code');
  const retry = Number(res.headers.get('retry-after'));
  t.true(Number.isInteger(retry) && retry >= 1 && retry <= maxSeconds, `Retry-After ${res.headers.get('retry-after')}`);
}

async function signedIn(login: string, ip = freshIp()): Promise<Agent> {
  const agent = stack.agent({ 'x-forwarded-for': ip });
  await stack.signIn(agent, login);
  return agent;
}

function withKey(login: string): string {
  const apiKey = `rnd_${login.replace(/[^A-Za-z0-9]/g, '')}${'q'.repeat(24)}`;
  stack.render.addAccount({ apiKey });
  return apiKey;
}

test('sign-in start is limited per IP: 429 with Retry-After, other addresses unaffected', async (t) => {
  const agent = stack.agent({ 'x-forwarded-for': freshIp() });
  for (let i = 0; i < 3; i++) t.is((await agent.get('/api/auth/github/login')).status, 302);
  assert429(t, await agent.get('/api/auth/github/login'), 'rate_limited', 60);
  t.is((await stack.agent({ 'x-forwarded-for': freshIp() }).get('/api/auth/github/login')).status, 302);
});

test('the OAuth callback is limited per IP', async (t) => {
  const agent = stack.agent({ 'x-forwarded-for': freshIp() });
  for (let i = 0; i < 4; i++) t.is((await agent.get('/api/auth/github/callback?code=x&state=y')).status, 302);
  assert429(t, await agent.get('/api/auth/github/callback?code=x&state=y'), 'rate_limited', 60);
});

test('key setup is limited per IP, counting every attempt', async (t) => {
  const ip = freshIp();
  const agent = await signedIn('keyspammer', ip);
  for (let i = 0; i < 5; i++) t.is((await agent.post('/api/render/setup', { api_key: 'nope' })).status, 400);
  assert429(t, await agent.post('/api/render/setup', { api_key: withKey('keyspammer') }), 'rate_limited', 60);
  // The same user from elsewhere is not limited by this address's count.
  const elsewhere = await signedIn('keyspammer');
  t.is((await elsewhere.post('/api/render/setup', { api_key: withKey('keyspammer2') })).status, 200);
});

// Lock-out (issue 12 part 5): counted per key fingerprint and user, so a typo retried locks only
// that key; the correct key still works and clears the count; only a guessing-sized run of
// different keys locks key setup for the user. Each answer says how many tries are left or when the lock lifts.
// Serial: it counts Render /owners calls, which concurrent tests would add to.
test.serial('a wrong key retried is locked for that user; the correct key still works and clears the count', async (t) => {
  const agent = await signedIn('typist');
  const owners = () => stack.render.calls.filter((c) => c.route === '/owners').length;
  const typo = `rnd_typo${'z'.repeat(24)}`;
  const attempt = (apiKey: string) => { agent.defaults['x-forwarded-for'] = freshIp(); return agent.post('/api/render/setup', { api_key: apiKey }); };
  const first = await attempt(typo);
  t.is(first.status, 400);
  t.is(first.json.error.code, 'render_key_invalid');
  t.regex(first.json.error.message, /2 more tries before key setup is locked for 1 minute\./);
  t.regex((await attempt(typo)).json.error.message, /1 more try before/);
  const asked = Date.now();
  const locked = await attempt(typo);
  const answered = Date.now();
  assert429(t, locked, 'locked_out', 30);
  t.regex(locked.json.error.message, /locked for your account until \d\d:\d\d UTC: try again in 1 minute\./);
  // The minute named is not before the lock lifts (the app's clock read between asked and answered), nor a minute after.
  const lockMs = Number(locked.headers.get('retry-after')) * 1000;
  const named = namedUtcMinute(locked.json.error.message, asked + lockMs);
  t.true(named >= asked + lockMs && named < answered + lockMs + 60_000, `${locked.json.error.message} (asked ${new Date(asked).toISOString()}, Retry-After ${lockMs / 1000} s)`);
  const before = owners();
  assert429(t, await attempt(typo), 'locked_out', 30);
  t.is(owners(), before, 'a locked key is not even sent to Render');

  // The correct key is not refused because of the typo, and clears the counts.
  t.is((await attempt(withKey('typist'))).status, 200);
  t.true((await agent.get('/api/render/status')).json.configured);
  t.regex((await attempt(`rnd_othertypo${'y'.repeat(20)}`)).json.error.message, /2 more tries/);
});

test('many different invalid keys lock key setup for the user (guessing), even for a valid key', async (t) => {
  const agent = await signedIn('guesser');
  const attempt = (apiKey: string) => { agent.defaults['x-forwarded-for'] = freshIp(); return agent.post('/api/render/setup', { api_key: apiKey }); };
  for (let i = 0; i < 3; i++) {
    const res = await attempt(`rnd_wrongguess${i}${'z'.repeat(20)}`);
    t.is(res.status, 400);
    t.is(res.json.error.code, 'render_key_invalid');
    t.regex(res.json.error.message, new RegExp(`${[2, 2, 1][i]} more tr`), 'the smaller of the per-key and per-user allowance');
  }
  const locked = await attempt(`rnd_wrongguess3${'z'.repeat(20)}`);
  assert429(t, locked, 'locked_out', 30);
  t.regex(locked.json.error.message, /key setup is locked for your account until \d\d:\d\d UTC: try again in 1 minute/);
  const validKey = `rnd_guesservalid${'q'.repeat(20)}`;
  const account = stack.render.addAccount({ apiKey: validKey });
  assert429(t, await attempt(validKey), 'locked_out', 30);
  t.is(stack.render.calls.filter((c) => c.accountId === account.id).length, 0, 'a locked user\'s key is not even sent to Render');
  t.false((await agent.get('/api/render/status')).json.configured);

  const other = await signedIn('honest');
  t.is((await other.post('/api/render/setup', { api_key: withKey('honest') })).status, 200, 'other users are not locked');
});

test('deploy requests are limited per user', async (t) => {
  const agent = await signedIn('eager');
  t.is((await agent.post('/api/render/setup', { api_key: withKey('eager') })).status, 200);
  for (let i = 0; i < 3; i++) addNodeRepo(stack, 'eager', `app-${i}`);
  for (let i = 0; i < 2; i++) t.is((await agent.post('/api/render/deploy', { github_repo: `eager/app-${i}`, project_name: `app-${i}` })).status, 202);
  assert429(t, await agent.post('/api/render/deploy', { github_repo: 'eager/app-2', project_name: 'app-2' }), 'rate_limited', 60);

  // Same address, another user: not limited by eager's count.
  const calm = await signedIn('calm');
  t.is((await calm.post('/api/render/setup', { api_key: withKey('calm') })).status, 200);
  addNodeRepo(stack, 'calm', 'one');
  t.is((await calm.post('/api/render/deploy', { github_repo: 'calm/one', project_name: 'one' })).status, 202);
});

test('lifecycle calls (services and cancel) share one per-user limit', async (t) => {
  const agent = await signedIn('fiddler');
  t.is((await agent.post('/api/render/setup', { api_key: withKey('fiddler') })).status, 200);
  const unknownService = 'srv-' + 'a'.repeat(20);
  t.is((await agent.post(`/api/render/deployments/dpl-${'b'.repeat(20)}/cancel`)).status, 404);
  t.is((await agent.delete(`/api/render/services/${unknownService}`)).status, 404);
  assert429(t, await agent.post(`/api/render/services/${unknownService}/suspend`), 'rate_limited', 60);
  assert429(t, await agent.post(`/api/render/deployments/dpl-${'b'.repeat(20)}/cancel`), 'rate_limited', 60);
  t.is((await agent.get('/api/render/my-deployments')).status, 200, 'reads are not limited by it');
});

// A bearer token's first request sends its token to GitHub, limited per address by the tokens GitHub
// refused from there (invalidTokens; not the browser's sign-in limit: test/bearer/token-check-limit).
// Concurrent first requests of one token share one GitHub check, but each counts against its own
// address's limit: an address over its limit does not get through on another's check, nor does its 429
// reach the other.
test('concurrent first bearer requests of one token: the limit is each address\'s own', async (t) => {
  const [spent, fresh] = [freshIp(), freshIp()];
  const bearer = async (token: string, ip: string) => fetch(`${stack.url}/api/session`, { headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': ip } });
  for (let i = 0; i < 4; i++) t.is((await bearer(`gho_notatoken${i}${'x'.repeat(20)}`, spent)).status, 401);
  for (const [n, order] of [[1, [fresh, spent]], [2, [spent, fresh]]] as const) {
    stack.github.addUser({ id: 9300 + n, login: `limited-joiner-${n}` });
    const token = stack.github.issueToken(`limited-joiner-${n}`);
    const answers = await Promise.all(order.map((ip) => bearer(token, ip)));
    const byIp = new Map(order.map((ip, i) => [ip, answers[i]!.status]));
    t.is(byIp.get(spent), 429, `round ${n}: the spent address is refused`);
    t.is(byIp.get(fresh), 200, `round ${n}: the other address signs in`);
  }
});

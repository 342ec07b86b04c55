import test from 'ava';
import { manualClock } from '../../server/clock.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { Agent } from '../helpers/agent.js';

// A bearer token's GitHub check and the browser's sign-in are limited apart. Each check used to spend the
// per-IP OAuth callback limit: an API client re-checked every window from one address (a CI runner, an
// office NAT) used up its sign-in budget, so the people behind that address could not sign in, and a few
// browser sign-ins there locked the API client out. A token GitHub vouched for spends nothing; tokens
// GitHub refuses are limited per IP by a limit of their own, and only new (unknown) tokens are held by it.

const clock = manualClock();
let stack: Stack;
const RECHECK_MS = 60_000;
test.before(async () => {
  stack = await startStack({
    clock,
    env: { TRUST_PROXY: 'true', BEARER_RECHECK_SECONDS: String(RECHECK_MS / 1000) },
    appOptions: { security: { limits: { signInCallback: { points: 3, durationSec: 3600 }, invalidTokens: { maxInvalid: 3, windowSec: 3600 } } } },
  });
  for (let i = 0; i < 100 && (await fetch(`${stack.url}/readyz`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 20));
});
test.after.always(async () => { await stack?.close(); });

let ipCounter = 10;
const freshIp = () => `198.51.100.${ipCounter++}`;
let nextId = 7000;
function token(login: string) {
  stack.github.addUser({ id: nextId++, login, name: login });
  return stack.github.issueToken(login);
}
const bearer = (tok: string, ip: string) => new Agent(stack.url, { authorization: `Bearer ${tok}`, 'x-forwarded-for': ip });
const userChecks = () => stack.github.calls.filter((c) => c.path === '/api/v3/user').length;

test.serial('a valid token re-checked many times from one address leaves its browser sign-ins alone', async (t) => {
  const ip = freshIp();
  const api = bearer(token('ci-bot'), ip);
  const before = userChecks();
  for (let i = 0; i < 6; i++) {
    const res = await api.get('/api/session');
    t.is(res.status, 200, `check ${i + 1}: ${res.text}`);
    clock.advance(RECHECK_MS + 1_000);
  }
  t.is(userChecks() - before, 6, 'each one asked GitHub');
  // Three browser sign-ins, the whole callback budget of this address, still work.
  for (let i = 0; i < 3; i++) await t.notThrowsAsync(stack.signIn(stack.agent({ 'x-forwarded-for': ip }), `person${i}`));
});

test.serial('browser sign-ins that spent the address\'s callback budget do not lock out a valid token', async (t) => {
  const ip = freshIp();
  for (let i = 0; i < 3; i++) await stack.signIn(stack.agent({ 'x-forwarded-for': ip }), `office${i}`);
  const limited = await stack.agent({ 'x-forwarded-for': ip }).get('/api/auth/github/callback?code=x&state=y');
  t.is(limited.status, 429, 'the browser budget is spent');
  const res = await bearer(token('office-script'), ip).get('/api/session');
  t.is(res.status, 200, res.text);
});

test.serial('tokens GitHub refuses are limited per address by their own limit: new tokens wait, vouched ones and sign-ins go on', async (t) => {
  const ip = freshIp();
  const known = bearer(token('steady'), ip);
  t.is((await known.get('/api/session')).status, 200);
  for (let i = 0; i < 3; i++) {
    const res = await bearer(`gho_madeup${i}${'x'.repeat(30)}`, ip).get('/api/session');
    t.is(res.status, 401, res.text);
    t.is(res.json.error.code, 'github_token_invalid');
  }
  const before = userChecks();
  const held = await bearer(`gho_madeup9${'x'.repeat(30)}`, ip).get('/api/session');
  t.is(held.status, 429, held.text);
  t.is(held.json.error.code, 'rate_limited');
  t.true(Number(held.headers.get('retry-after')) >= 1);
  t.regex(held.json.error.message, /GitHub tokens/);
  t.is((await bearer(token('newcomer'), ip).get('/api/session')).status, 429, 'a new token waits too: it might be the next guess');
  t.is(userChecks(), before, 'neither was sent to GitHub');
  // A token GitHub vouched for is re-checked as usual, and the address's people still sign in.
  clock.advance(RECHECK_MS + 1_000);
  t.is((await known.get('/api/session')).status, 200);
  t.is(userChecks(), before + 1);
  await t.notThrowsAsync(stack.signIn(stack.agent({ 'x-forwarded-for': ip }), 'bystander'));
  // Other addresses are not held.
  t.is((await bearer(`gho_madeup8${'x'.repeat(30)}`, freshIp()).get('/api/session')).status, 401);
});

test.serial('a valid token\'s check is not counted against the refusals of its address', async (t) => {
  const ip = freshIp();
  for (let i = 0; i < 5; i++) t.is((await bearer(token(`fresh${i}`), ip).get('/api/session')).status, 200);
  t.is((await bearer(`gho_madeup7${'x'.repeat(30)}`, ip).get('/api/session')).status, 401, 'the refusal allowance is untouched');
});

import test from 'ava';
import { manualClock } from '../../server/clock.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { Agent } from '../helpers/agent.js';

// A token that belongs to no user — Actions' own GITHUB_TOKEN, a GitHub App's installation token — is
// answered 403 "Resource not accessible by integration" by GitHub's GET /user (README: it cannot be
// used). The check took any answer but 401 for GitHub failing: 503 github_unavailable, "GitHub did not
// answer. Try again in a minute." with Retry-After, so a CI script retried for minutes and then reported
// an outage, and such tokens were never counted against the address's refused-token limit.

const clock = manualClock();
let stack: Stack;
const RECHECK_MS = 60_000;
test.before(async () => {
  stack = await startStack({
    clock,
    env: { TRUST_PROXY: 'true', BEARER_RECHECK_SECONDS: String(RECHECK_MS / 1000) },
    appOptions: { security: { limits: { invalidTokens: { maxInvalid: 3, windowSec: 3600 } } } },
  });
});
test.after.always(async () => { await stack?.close(); });

const NOT_A_USER = { message: 'Resource not accessible by integration', documentation_url: 'https://docs.github.com/rest/users/users#get-the-authenticated-user', status: '403' };
const userChecks = () => stack.github.calls.filter((c) => c.path === '/api/v3/user').length;

test.serial('an installation token (Actions\' GITHUB_TOKEN) is 401 github_token_invalid saying so, not 503; it counts as a refused token', async (t) => {
  const ip = '198.51.100.40';
  const before = userChecks();
  for (let i = 0; i < 3; i++) {
    stack.github.injectFault({ path: '/user', status: 403, body: NOT_A_USER });
    const res = await new Agent(stack.url, { authorization: `Bearer ghs_${String(i).repeat(36)}`, 'x-forwarded-for': ip }).get('/api/session');
    t.is(res.status, 401, res.text);
    t.is(res.json.error.code, 'github_token_invalid');
    t.regex(res.json.error.message, /not a user token/);
    t.is(res.headers.get('retry-after'), null);
  }
  t.is(userChecks() - before, 3, 'GitHub asked once per token, not again');
  // The address's allowance of refused tokens (3 here) is spent: the next new token waits, without a GitHub call.
  const next = await new Agent(stack.url, { authorization: `Bearer ghs_${'9'.repeat(36)}`, 'x-forwarded-for': ip }).get('/api/session');
  t.is(next.status, 429, next.text);
  t.is(userChecks() - before, 3);
});

test.serial('a token GitHub vouched for that it later answers 403 on GET /user ends its session, as a refusal does', async (t) => {
  stack.github.addUser({ id: 7300, login: 'turned' });
  const tok = stack.github.issueToken('turned');
  const apiKey = `rnd_turned${'t'.repeat(24)}`;
  stack.render.addAccount({ apiKey, workspaces: [{ name: 'turned ws' }] });
  const api = new Agent(stack.url, { authorization: `Bearer ${tok}`, 'x-forwarded-for': '198.51.100.41' });
  t.is((await api.post('/api/render/setup', { api_key: apiKey })).status, 200);
  clock.advance(RECHECK_MS + 1_000);
  stack.github.injectFault({ path: '/user', status: 403, body: NOT_A_USER });
  const res = await api.get('/api/render/status');
  t.is(res.status, 401, res.text);
  t.is(res.json.error.code, 'github_token_invalid');
  // GitHub vouches again: a new token session, without the key the ended one held.
  const again = await api.get('/api/render/status');
  t.is(again.status, 200, again.text);
  t.false(again.json.configured, 'the key ended with the session GitHub would no longer vouch for');
});

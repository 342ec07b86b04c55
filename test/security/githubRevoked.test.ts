import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { addNodeRepo, signedInWithKey } from '../helpers/pipeline.js';

// GitHub stops accepting a browser session's token (revoked in GitHub's settings, expired): the next request that asks
// GitHub with it was a 401 github_token_invalid ("Sign in again"), and the page showed the sign-in screen, but the
// session stayed live behind the cookie, Render key included: a reload signed the browser in again (the next person
// at a shared computer), and the user's other tabs went on (found by a review). It now ends as at sign-out.
let stack: Stack;
test.before(async () => { stack = await startStack(); });
test.after.always(async () => { await stack?.close(); });

test('a browser session whose GitHub token GitHub refuses ends: 401, cookie cleared, the session and its deploys over', async (t) => {
  const { agent } = await signedInWithKey(stack, 'revokee');
  addNodeRepo(stack, 'revokee', 'app');
  const queued = await agent.post('/api/render/deploy', { github_repo: 'revokee/app', project_name: 'revokee-app' });
  t.is(queued.status, 202, queued.text); // no worker runs: it stays queued
  const cookie = agent.cookieHeader();
  for (const token of stack.github.tokensFor('revokee')) stack.github.revokeToken(token);

  const repos = await agent.get('/api/github/repos');
  t.is(repos.status, 401, repos.text);
  t.is(repos.json.error.code, 'github_token_invalid');
  t.true(repos.setCookies.some((c) => /^sid=;/.test(c)), 'the cookie is cleared');
  // The cookie as it was (a reload, another tab): the session is over.
  const replayed = await fetch(`${stack.url}/api/session`, { headers: { cookie } });
  t.is(replayed.status, 401);
  t.is((await stack.web.deps.deployments.get(queued.json.id))?.status, 'credentials_revoked', 'its deploys stop, as at sign-out');
});

test('a late refusal of an ended session leaves the cookie of the sign-in made after it alone', async (t) => {
  // Only the request that ended the session clears the cookie: the old session's request still at GitHub when
  // the user signed in again was answered after, and its cleared cookie signed the browser out again (found by a review).
  const agent = stack.agent();
  await stack.signIn(agent, 'clobbered');
  const held = stack.github.holdRequest('/user/repos');
  const slow = agent.get('/api/github/repos');
  await held.arrived;
  for (const token of stack.github.tokensFor('clobbered')) stack.github.revokeToken(token);
  const first = await agent.get('/api/github/repos/clobbered/x/branches');
  t.is(first.status, 401, first.text);
  // The page shows the sign-in screen; the user signs in again.
  await stack.signIn(agent, 'clobbered');
  t.is((await agent.get('/api/session')).status, 200, 'signed in again');
  held.release();
  const late = await slow;
  t.is(late.status, 401, late.text);
  t.false(late.setCookies.some((c) => /^sid=;/.test(c)), 'the late answer clears no cookie');
  t.is((await agent.get('/api/session')).status, 200, 'the new sign-in stands');
});

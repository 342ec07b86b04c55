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

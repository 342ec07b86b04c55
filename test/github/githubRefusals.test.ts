import test from 'ava';
import { sharedFixture } from '../helpers/fixture.js';
import { startStack, type Stack } from '../helpers/stack.js';

// The repository picker (GET /api/github/repos/:owner/:repo/branches) meeting GitHub's less common
// answers, as the deploy form shows them ("Could not load branches: <message>").

let stack: Stack;
sharedFixture(test, () => startStack(), (s) => { stack = s; });

async function signedIn(login: string) {
  const agent = stack.agent();
  await stack.signIn(agent, login);
  return agent;
}

// An organization with SAML single sign-on answers an OAuth token not yet authorized for it 403, with an
// X-GitHub-SSO header and a message saying what to do
// (https://docs.github.com/en/rest/authentication/authenticating-to-the-rest-api#authenticating-with-a-token-that-has-not-been-authorized-for-saml-sso).
// GitHub answered, and answers the same until the user authorizes the token: "GitHub did not answer. Try
// again in a minute." (503 github_unavailable) sent the user waiting for an outage that is not there.
test('an SSO-protected organization\'s repository: GitHub\'s refusal and what to do, not "GitHub did not answer"', async (t) => {
  const agent = await signedIn('ssouser');
  stack.github.addRepo({ owner: 'ssoorg', name: 'app', collaborators: ['ssouser'] });
  const message = 'Resource protected by organization SAML enforcement. You must grant your OAuth token access to this organization.';
  stack.github.injectFault({
    path: '/repos/ssoorg/app', status: 403, times: 10,
    headers: { 'x-github-sso': 'required; url=https://github.com/orgs/ssoorg/sso?authorization_request=AAAA', 'x-ratelimit-remaining': '4990', 'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3000) },
    body: { message, documentation_url: 'https://docs.github.com/articles/authenticating-to-a-github-organization-with-saml-single-sign-on/' },
  });
  const res = await agent.get('/api/github/repos/ssoorg/app/branches');
  t.not(res.json?.error?.code, 'github_unavailable', `answered ${res.status} ${res.text}`);
  t.is(res.status, 403, res.text);
  t.is(res.json?.error?.code, 'github_forbidden');
  t.true(String(res.json?.error?.message).includes(message), res.json?.error?.message);
  t.is(res.headers.get('retry-after'), null, 'nothing to wait for');
});

// A repository GitHub disabled (terms of service) answers 403 "Repository access blocked"; one taken down
// (DMCA) 451 with the same message. Neither is GitHub failing to answer.
test('a repository GitHub blocked (403 or 451 "Repository access blocked") is said as such, not "GitHub did not answer"', async (t) => {
  const agent = await signedIn('blockeduser');
  for (const status of [403, 451]) {
    const name = `app${status}`;
    stack.github.addRepo({ owner: 'blockeduser', name });
    stack.github.injectFault({ path: `/repos/blockeduser/${name}`, status, times: 10, body: { message: 'Repository access blocked', block: { reason: status === 451 ? 'dmca' : 'tos', created_at: '2024-01-01T00:00:00Z' } } });
    const res = await agent.get(`/api/github/repos/blockeduser/${name}/branches`);
    t.not(res.json?.error?.code, 'github_unavailable', `${status}: answered ${res.status} ${res.text}`);
    t.is(res.json?.error?.code, 'github_forbidden', `${status}: ${res.text}`);
    t.true(String(res.json?.error?.message).includes('Repository access blocked'), res.json?.error?.message);
  }
});

// GitHub's primary limit: 403 with x-ratelimit-remaining 0 and the window's reset, the time to ask again
// (docs/github-api.md "When to ask again"). "Try again in a minute" with Retry-After: 60 sent the user (and
// an API client honouring Retry-After) back every minute for the rest of the hour, each ask refused.
test('GitHub\'s primary rate limit: Retry-After is the window\'s reset, not a minute', async (t) => {
  const agent = await signedIn('limiteduser');
  stack.github.addRepo({ owner: 'limiteduser', name: 'app' });
  const reset = Math.floor(Date.now() / 1000) + 40 * 60;
  stack.github.injectFault({
    path: '/repos/limiteduser/app', status: 403, times: 10,
    headers: { 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset), 'x-ratelimit-resource': 'core' },
    body: { message: 'API rate limit exceeded for user ID 1.', documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api' },
  });
  const res = await agent.get('/api/github/repos/limiteduser/app/branches');
  t.is(res.status, 429, res.text);
  t.is(res.json?.error?.code, 'rate_limited');
  const wait = Number(res.headers.get('retry-after'));
  t.true(wait > 30 * 60 && wait <= 40 * 60 + 5, `Retry-After ${res.headers.get('retry-after')}`);
  t.notRegex(String(res.json?.error?.message), /in a minute/, res.json?.error?.message);
});

// GitHub lists a repository's branches by name; the picker reads 1,000 at most. With more (a monorepo's
// Dependabot and release branches), a default branch named after the 1,000th was not in the answer, and the
// form (view-deploy.js) preselected the first branch listed instead: Deploy deployed some other branch.
test('a repository with more than 1,000 branches: the default branch is in the picker\'s list', async (t) => {
  const agent = await signedIn('manybranches');
  const branches: Record<string, Record<string, string>> = { main: { 'index.html': 'main' } };
  for (let i = 0; i < 1005; i++) branches[`dependabot/npm/pkg-${String(i).padStart(4, '0')}`] = { 'index.html': String(i) };
  stack.github.addRepo({ owner: 'manybranches', name: 'mono', defaultBranch: 'main', branches });
  const res = await agent.get('/api/github/repos/manybranches/mono/branches');
  t.is(res.status, 200, res.text);
  t.is(res.json.defaultBranch, 'main');
  t.true((res.json.branches as string[]).includes('main'), `${(res.json.branches as string[]).length} branches listed, main not among them`);
});

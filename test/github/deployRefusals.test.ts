import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, renderCalls, signedInWithKey, waitFinished } from '../helpers/pipeline.js';

// A deploy meeting GitHub's refusals of a repository the user picked: what the deployment says.

let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES }, worker: { retryBackoffMs: 20 } }, (p) => ({ stack } = p));

// A repository taken down for legal reasons answers 451 "Repository access blocked" (GitHub's DMCA block), the
// same on every ask. Read as a malformed answer (bad_response), the deploy was retried as an outage, run after
// run, and ended saying GitHub or Render was failing; it is GitHub refusing the repository.
test('a deploy of a repository GitHub blocked (451) ends at once as the repository refused, nothing on Render', async (t) => {
  const { agent, accountId } = await signedInWithKey(stack, 'dmcauser');
  addNodeRepo(stack, 'dmcauser', 'app');
  stack.github.injectFault({ path: '/repos/dmcauser/app', status: 451, times: 200, body: { message: 'Repository access blocked', block: { reason: 'dmca', created_at: '2024-01-01T00:00:00Z', html_url: 'https://github.com/github/dmca/blob/master/2024/01/x.md' } } });
  const res = await agent.post('/api/render/deploy', { github_repo: 'dmcauser/app', project_name: 'dmca-app', branch: 'main' });
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id);
  t.is(done.status, 'failed');
  t.is(done.failure?.code, 'repo_not_found', JSON.stringify(done.failure));
  const asked = stack.github.calls.filter((c) => c.path.startsWith('/api/v3/repos/dmcauser/app')).length;
  t.true(asked <= 3, `${asked} GitHub calls: asked again as an outage`);
  t.is(renderCalls(stack, accountId, 'POST', '/services').length, 0, 'nothing was created on Render');
});

// A deploy from an organization with SAML SSO the token is not authorized for failed repo_not_found, "was not
// found, or your GitHub account cannot see it", and GitHub's own words (grant the token access to the
// organization) were dropped: the user sees the repository in the picker's list and was told it does not exist.
test('a deploy from an SSO-protected organization says to authorize the token for it', async (t) => {
  const { agent } = await signedInWithKey(stack, 'ssodeployer');
  addNodeRepo(stack, 'ssodeployer', 'app');
  const message = 'Resource protected by organization SAML enforcement. You must grant your OAuth token access to this organization.';
  stack.github.injectFault({ path: '/repos/ssodeployer/app', status: 403, times: 200, headers: { 'x-github-sso': 'required; url=https://github.com/orgs/x/sso?authorization_request=A' }, body: { message } });
  const res = await agent.post('/api/render/deploy', { github_repo: 'ssodeployer/app', project_name: 'sso-app', branch: 'main' });
  const done = await waitFinished(agent, res.json.id);
  t.is(done.status, 'failed');
  t.true(String(done.failure?.message).includes('grant your OAuth token access'), JSON.stringify(done.failure));
});

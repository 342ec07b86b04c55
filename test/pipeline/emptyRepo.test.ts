import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { renderCalls, signedInWithKey, waitFinished } from '../helpers/pipeline.js';

let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

// A repository created on GitHub without a commit has no branch at all, not even its default one
// (docs/github-api.md, "An empty repository"): "Branch main does not exist" would send the user
// looking for a branch; what is missing is a first commit.
test('deploying an empty GitHub repository fails as repo_empty, saying to push a commit, with nothing on Render', async (t) => {
  const { agent, accountId } = await signedInWithKey(stack, 'emptier');
  stack.github.addRepo({ owner: 'emptier', name: 'blank', empty: true });
  for (const [i, body] of [{ branch: 'main' }, {}].entries()) {
    const res = await agent.post('/api/render/deploy', { github_repo: 'emptier/blank', project_name: `blank-${i}`, ...body });
    t.is(res.status, 202, res.text);
    const done = await waitFinished(agent, res.json.id);
    t.is(done.status, 'failed');
    t.is(done.failure?.code, 'repo_empty', JSON.stringify(done.failure));
    t.is(done.failure?.message, 'emptier/blank is empty on GitHub: push a commit to main, then deploy again.');
  }
  t.is(renderCalls(stack, accountId, 'POST', '/services').length, 0, 'nothing was created on Render');
});

test('a branch missing from a repository that has commits is still branch_not_found', async (t) => {
  const { agent } = await signedInWithKey(stack, 'nobranch');
  stack.github.addRepo({ owner: 'nobranch', name: 'app', branches: { main: { 'index.html': '<p>hi</p>' } } });
  const res = await agent.post('/api/render/deploy', { github_repo: 'nobranch/app', project_name: 'nb', branch: 'gone' });
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id);
  t.is(done.failure?.code, 'branch_not_found', JSON.stringify(done.failure));
  t.is(done.failure?.message, 'Branch "gone" does not exist in nobranch/app.');
});

import test, { type ExecutionContext } from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, renderCalls, signedInWithKey, waitFinished } from '../helpers/pipeline.js';

let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

/** Right after GitHub answers `afterPath` (the worker's read of it), every read of owner/app is GitHub's 404. */
function hideRepoAfter(owner: string, afterPath: string): void {
  stack.github.afterAnswer(`/repos/${owner}/app${afterPath}`, () => {
    stack.github.injectFault({ path: `/repos/${owner}/app`, status: 404, body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/repos/repos#get-a-repository' }, times: 50 });
  });
}

/** Deploys owner/app and checks it ended repo_not_found with nothing created on Render; the failure's message. */
async function deployFailsRepoNotFound(t: ExecutionContext, owner: string, body: Record<string, string>): Promise<string> {
  const { agent, accountId } = await signedInWithKey(stack, owner);
  const res = await agent.post('/api/render/deploy', { github_repo: `${owner}/app`, branch: 'main', ...body });
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id);
  t.is(done.status, 'failed');
  t.is(done.failure?.code, 'repo_not_found', JSON.stringify(done.failure));
  t.is(renderCalls(stack, accountId, 'POST', '/services').length, 0, 'nothing was created on Render');
  return done.failure?.message ?? '';
}

// A repository made private (or deleted, or transferred) after the worker read its branch and before
// it read the files: GitHub answers the contents 404, as it does for any repository the token cannot
// see (docs/github-api.md). The record must say what happened and what to do, as verifying's own
// 404 does, not quote GitHub's raw answer to an internal call.
test('a repository hidden from the token between verifying and detection fails repo_not_found, saying what to do', async (t) => {
  addNodeRepo(stack, 'hider', 'app');
  // Right after the worker's branch read is answered, every read of the repository is GitHub's 404.
  hideRepoAfter('hider', '/branches');
  const message = await deployFailsRepoNotFound(t, 'hider', { project_name: 'hidden-app' });
  t.regex(message, /^GitHub repository hider\/app was not found, or your GitHub account cannot see it\./);
});

// The same, hidden once the root is listed and before its files are read: a file GitHub answers 404
// for is one the repository does not have, so detection would go on without package.json.
test('a repository hidden from the token while detection reads its files fails repo_not_found, not a detection of what is left', async (t) => {
  addNodeRepo(stack, 'hider2', 'app');
  hideRepoAfter('hider2', '/contents');
  const message = await deployFailsRepoNotFound(t, 'hider2', { project_name: 'hidden-app-2' });
  t.regex(message, /^GitHub repository hider2\/app was not found, or your GitHub account cannot see it\./);
});

// The same between the branch read and the check that the named commit is on it: the compare's 404 is
// the repository's, not the commit's. "Commit … does not exist … check the commit SHA and that it was
// pushed" sent the user (or CI) looking for a push that happened.
test('a repository hidden from the token while a named commit is checked fails repo_not_found, not commit_not_found', async (t) => {
  addNodeRepo(stack, 'hider3', 'app');
  const a = stack.github.branchHead('hider3', 'app', 'main')!;
  stack.github.push('hider3', 'app', 'main', { 'package.json': JSON.stringify({ name: 'app', scripts: { start: 'node index.js' } }), 'index.js': '', 'b.js': '' });
  hideRepoAfter('hider3', '/branches');
  await deployFailsRepoNotFound(t, 'hider3', { project_name: 'hidden-app-3', commit_sha: a });
});

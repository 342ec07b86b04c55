import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, renderCalls, signedInWithKey, waitFinished } from '../helpers/pipeline.js';

let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

// A repository made private (or deleted, or transferred) after the worker read its branch and before
// it read the files: GitHub answers the contents 404, as it does for any repository the token cannot
// see (docs/github-api.md). The record must say what happened and what to do, as verifying's own
// 404 does, not quote GitHub's raw answer to an internal call.
test('a repository hidden from the token between verifying and detection fails repo_not_found, saying what to do', async (t) => {
  const { agent, accountId } = await signedInWithKey(stack, 'hider');
  addNodeRepo(stack, 'hider', 'app');
  // Right after the worker's branch read is answered, every read of the repository is GitHub's 404.
  stack.github.afterAnswer('/repos/hider/app/branches', () => {
    stack.github.injectFault({ path: '/repos/hider/app', status: 404, body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/repos/repos#get-a-repository' }, times: 50 });
  });
  const res = await agent.post('/api/render/deploy', { github_repo: 'hider/app', project_name: 'hidden-app', branch: 'main' });
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id);
  t.is(done.status, 'failed');
  t.is(done.failure?.code, 'repo_not_found', JSON.stringify(done.failure));
  t.regex(done.failure?.message ?? '', /^GitHub repository hider\/app was not found, or your GitHub account cannot see it\./);
  t.is(renderCalls(stack, accountId, 'POST', '/services').length, 0, 'nothing was created on Render');
});

// The same, hidden once the root is listed and before its files are read: a file GitHub answers 404
// for is one the repository does not have, so detection would go on without package.json.
test('a repository hidden from the token while detection reads its files fails repo_not_found, not a detection of what is left', async (t) => {
  const { agent, accountId } = await signedInWithKey(stack, 'hider2');
  addNodeRepo(stack, 'hider2', 'app');
  stack.github.afterAnswer('/repos/hider2/app/contents', () => {
    stack.github.injectFault({ path: '/repos/hider2/app', status: 404, body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/repos/repos#get-a-repository' }, times: 50 });
  });
  const res = await agent.post('/api/render/deploy', { github_repo: 'hider2/app', project_name: 'hidden-app-2', branch: 'main' });
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id);
  t.is(done.status, 'failed');
  t.is(done.failure?.code, 'repo_not_found', JSON.stringify(done.failure));
  t.regex(done.failure?.message ?? '', /^GitHub repository hider2\/app was not found, or your GitHub account cannot see it\./);
  t.is(renderCalls(stack, accountId, 'POST', '/services').length, 0, 'nothing was created on Render');
});

// The same between the branch read and the check that the named commit is on it: the compare's 404 is
// the repository's, not the commit's. "Commit … does not exist … check the commit SHA and that it was
// pushed" sent the user (or CI) looking for a push that happened.
test('a repository hidden from the token while a named commit is checked fails repo_not_found, not commit_not_found', async (t) => {
  const { agent, accountId } = await signedInWithKey(stack, 'hider3');
  addNodeRepo(stack, 'hider3', 'app');
  const a = stack.github.branchHead('hider3', 'app', 'main')!;
  stack.github.push('hider3', 'app', 'main', { 'package.json': JSON.stringify({ name: 'app', scripts: { start: 'node index.js' } }), 'index.js': '', 'b.js': '' });
  stack.github.afterAnswer('/repos/hider3/app/branches', () => {
    stack.github.injectFault({ path: '/repos/hider3/app', status: 404, body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/repos/repos#get-a-repository' }, times: 50 });
  });
  const res = await agent.post('/api/render/deploy', { github_repo: 'hider3/app', project_name: 'hidden-app-3', branch: 'main', commit_sha: a });
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id);
  t.is(done.status, 'failed');
  t.is(done.failure?.code, 'repo_not_found', JSON.stringify(done.failure));
  t.is(renderCalls(stack, accountId, 'POST', '/services').length, 0, 'nothing was created on Render');
});

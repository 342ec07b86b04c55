import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { renderApi, signedInWithKey, waitFinished } from '../helpers/pipeline.js';

let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

const app = { 'package.json': JSON.stringify({ name: 'b', scripts: { start: 'node index.js' } }), 'package-lock.json': '{}', 'index.js': '' };

// Names git check-ref-format and GitHub accept, that the branch picker lists: Dependabot's (with '@'),
// a '+', a '#', a non-ASCII letter.
const GIT_BRANCHES = ['dependabot/npm_and_yarn/@types/node-20.11.5', 'release+1.0', 'feature/#12-fix', 'fix/ünïcode'];

test('a branch GitHub lists in the picker, named with @, +, # or a non-ASCII letter, is detected and deployed', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'brancher');
  for (const [i, branch] of GIT_BRANCHES.entries()) {
    stack.github.addRepo({ owner: 'brancher', name: `r${i}`, branches: { main: { 'index.html': '<p>hi</p>' }, [branch]: app } });
    const listed = await agent.get(`/api/github/repos/brancher/r${i}/branches`);
    t.true(listed.json.branches.includes(branch), `${branch} is in the picker`);
    const detected = await agent.get(`/api/github/repos/brancher/r${i}/detect?branch=${encodeURIComponent(branch)}`);
    t.is(detected.status, 200, `detect on ${branch}: ${detected.text}`);
    t.is(detected.json.stack?.stack ?? detected.json.stack, 'node', `detect on ${branch} reads that branch`);
    const res = await agent.post('/api/render/deploy', { github_repo: `brancher/r${i}`, project_name: `br-${i}`, branch });
    t.is(res.status, 202, `deploy of ${branch}: ${res.text}`);
    if (res.status !== 202) continue;
    const done = await waitFinished(agent, res.json.id);
    t.is(done.status, 'live', `${branch}: ${JSON.stringify(done.failure)}`);
    t.is(done.request.branch, branch);
    t.is(done.stack.stack, 'node', 'the branch\'s own files were read, not main\'s');
    t.is((await renderApi(stack, apiKey, 'GET', `/services/${done.serviceId}`)).branch, branch, 'Render deploys that branch');
  }
});

test('names git refuses are still a 400 on the branch field, with nothing queued', async (t) => {
  const { agent } = await signedInWithKey(stack, 'badbranch');
  stack.github.addRepo({ owner: 'badbranch', name: 'r', branches: { main: app } });
  for (const branch of ['sp ace', 'a..b', 'x?y', 'x:y', 'x~1', 'x^', 'x*', 'x[1]', 'back\\slash', '-dash', '.hidden', 'a/.b', 'end.', 'end/', 'a//b', 'x.lock', 'x@{1}', '@', 'tab\there', 'nul\u0000', 'bidi\u202eevil', 'del\u007f']) {
    const res = await agent.post('/api/render/deploy', { github_repo: 'badbranch/r', project_name: 'bad', branch });
    t.is(res.status, 400, `${JSON.stringify(branch)}: ${res.text}`);
    t.is(res.json.error?.field, 'branch', JSON.stringify(branch));
  }
  t.deepEqual((await agent.get('/api/render/my-deployments?limit=10')).json.deployments, []);
});

// GitHub answers a renamed branch's old name (Get a branch) with a 301 to the new one, which the client
// follows: the commit read is the new branch's, so the branch Render is asked to build must be too.
// Git itself keeps no such redirect, so a service on the old name would build a branch that is gone.
test('a branch renamed on GitHub, asked for by its old name, is deployed under the name it has now', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'renamer');
  stack.github.addRepo({ owner: 'renamer', name: 'app', defaultBranch: 'master', branches: { master: app } });
  stack.github.renameBranch('renamer', 'app', 'master', 'main');
  const res = await agent.post('/api/render/deploy', { github_repo: 'renamer/app', project_name: 'renamed', branch: 'master' });
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  t.is(done.commitSha, stack.github.branchHead('renamer', 'app', 'main'));
  t.is(done.request.branch, 'main');
  t.true(done.timeline.some((e: { note?: string }) => e.note?.includes('renamed')), 'the timeline says why another name is deployed');
  t.is((await renderApi(stack, apiKey, 'GET', `/services/${done.serviceId}`)).branch, 'main', 'Render builds the branch that exists');
});

test('the default branch renamed between reading the repository and reading its branch: the new name is deployed', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'renamer2');
  stack.github.addRepo({ owner: 'renamer2', name: 'app', defaultBranch: 'master', branches: { master: app } });
  // Renamed right after the worker's first read, the repository's, says the default branch is master
  // (no branch in the request: the route itself reads nothing from GitHub).
  stack.github.afterAnswer('/repos/renamer2/app', () => stack.github.renameBranch('renamer2', 'app', 'master', 'main'));
  const res = await agent.post('/api/render/deploy', { github_repo: 'renamer2/app', project_name: 'renamed2' });
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  t.is(done.request.branch, 'main');
  t.is(done.commitSha, stack.github.branchHead('renamer2', 'app', 'main'));
  t.is((await renderApi(stack, apiKey, 'GET', `/services/${done.serviceId}`)).branch, 'main');
});

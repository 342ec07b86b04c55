import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { useGitHubLinkedPipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, renderApi, renderDeploysOf, signedInWithKey, statusesWhenPosted, waitFinished } from '../helpers/pipeline.js';

// A GitHub repository renamed or transferred (its old name redirects: 301 for reads, 307 for writes, to
// /repositories/{id}, as long as no repository takes the old name), or its name reused by a new repository,
// around deploys and redeploys. Render's builds check out what the GitHub simulator has, following a moved
// repository's old name as git does (sandbox/github renameRepo). A deploy asked under the old name goes on
// under the name GitHub has now (workers/tasks/githubSteps.ts branchToDeploy): linked to the old one, the
// service built whatever repository took that name next. Not covered (docs/github-api.md, "A renamed or
// transferred repository"): a service linked earlier whose repository is renamed and its old name reused.

let stack: Stack;
useGitHubLinkedPipelineStack(test, (p) => { stack = p.stack; });

const head = (owner: string, name: string) => stack.github.branchHead(owner, name, 'main')!;

test.serial('simulator: a renamed repository answers its old name by redirect, and the app follows it', async (t) => {
  const u = await signedInWithKey(stack, 'rn0');
  addNodeRepo(stack, 'rn0', 'app');
  const sha = head('rn0', 'app');
  stack.github.renameRepo('rn0', 'app', 'rn0/app-renamed');
  const branches = await u.agent.get('/api/github/repos/rn0/app/branches');
  t.is(branches.status, 200, branches.text);
  t.deepEqual(branches.json.branches, ['main']);
  t.is(head('rn0', 'app'), sha, 'a clone by the old name follows the rename');
  addNodeRepo(stack, 'rn0', 'app', { 'index.js': 'console.log("a new repository")' });
  t.not(head('rn0', 'app'), sha, 'once the old name is taken, it means the new repository');
});

test.serial('a deploy asked under a repository\'s old name links the service to the name GitHub answered with', async (t) => {
  const u = await signedInWithKey(stack, 'rn1');
  addNodeRepo(stack, 'rn1', 'app');
  const ours = head('rn1', 'app');
  stack.github.renameRepo('rn1', 'app', 'rn1/app-renamed');

  const asked = await u.agent.post('/api/render/deploy', { github_repo: 'rn1/app', project_name: 'rn1-app' });
  t.is(asked.status, 202, asked.text);
  const done = await waitFinished(u.agent, asked.json.id);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  t.is(done.commitSha, ours);
  const svc = await renderApi(stack, u.apiKey, 'GET', `/services/${done.serviceId}`);
  t.is(svc.repo, 'https://github.com/rn1/app-renamed', 'the service names the repository as it is called now, not a name anyone may take next');
  t.is(done.request.githubRepo, 'rn1/app-renamed');
  t.true(done.timeline.some((e: { note: string | null }) => e.note?.includes('repository rn1/app is rn1/app-renamed on GitHub now')), 'the timeline says why the name changed');
});

test.serial('a service created under an old name: a redeploy after the old name is taken does not build the other repository', async (t) => {
  const u = await signedInWithKey(stack, 'rn1b');
  addNodeRepo(stack, 'rn1b', 'app');
  const ours = head('rn1b', 'app');
  stack.github.renameRepo('rn1b', 'app', 'rn1b/app-renamed');
  const done = await waitFinished(u.agent, (await u.agent.post('/api/render/deploy', { github_repo: 'rn1b/app', project_name: 'rn1b-app' })).json.id);
  t.is(done.status, 'live', JSON.stringify(done.failure));

  // The old name taken by a new repository (here the same owner's; after a transfer or an account rename, whoever holds the owner name).
  addNodeRepo(stack, 'rn1b', 'app', { 'index.js': 'console.log("someone else")' });
  const theirs = head('rn1b', 'app');
  t.not(theirs, ours);
  const again = await u.agent.post(`/api/render/services/${done.serviceId}/redeploy`);
  t.is(again.status, 202, again.text);
  const redeployed = await waitFinished(u.agent, again.json.id);
  const built = (await renderDeploysOf(stack, u.apiKey, done.serviceId)).find((d) => d.id === redeployed.deployId);
  t.log(`redeploy: ${redeployed.status}, Render built ${built?.commit?.id}; ours ${ours}, theirs ${theirs}`);
  t.not(built?.commit?.id, theirs, 'the service never builds the repository that took the old name');
});

test.serial('a repository renamed while its deploy builds: the final commit status reaches the commit where it now lives', async (t) => {
  const u = await signedInWithKey(stack, 'rn3');
  addNodeRepo(stack, 'rn3', 'app');
  const ours = head('rn3', 'app');
  const release = stack.render.holdPhase({ serviceName: 'rn3-app' }, 'build_in_progress');
  t.teardown(release);
  const id = (await u.agent.post('/api/render/deploy', { github_repo: 'rn3/app', project_name: 'rn3-app' })).json.id as string;
  await statusesWhenPosted(stack, 'rn3', 'app', ours, 1);
  stack.github.renameRepo('rn3', 'app', 'rn3/app-renamed');
  release();
  const done = await waitFinished(u.agent, id);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  const statuses = await statusesWhenPosted(stack, 'rn3', 'app-renamed', ours, 2);
  t.deepEqual(statuses.map((s) => s.state), ['pending', 'success']);
});

test.serial('a repository renamed and its name reused right after verifying read its branch: the other repository is never deployed', async (t) => {
  const u = await signedInWithKey(stack, 'rn4');
  addNodeRepo(stack, 'rn4', 'app');
  let theirs = '';
  stack.github.afterAnswer('/repos/rn4/app/branches', () => {
    stack.github.renameRepo('rn4', 'app', 'rn4/app-renamed');
    addNodeRepo(stack, 'rn4', 'app', { 'index.js': 'console.log("new")' });
    theirs = head('rn4', 'app');
  });
  const id = (await u.agent.post('/api/render/deploy', { github_repo: 'rn4/app', project_name: 'rn4-app' })).json.id as string;
  const done = await waitFinished(u.agent, id);
  t.truthy(theirs);
  // Detection lists the commit verifying found: the repository now holding the name has no such commit.
  t.is(done.status, 'failed');
  t.falsy(done.serviceId, 'nothing was created on Render');
  t.is(done.failure?.code, 'commit_not_found', 'said as what happened, not as GitHub\'s answer to a listing');
  t.regex(done.failure?.message ?? '', /no longer in rn4\/app on GitHub/);
  t.false(done.failure?.message.includes('No commit found for the ref'));
});

test.serial('a repository renamed (its old name free): a redeploy of a commit pushed since is checked and deployed, its statuses on the renamed repository', async (t) => {
  const u = await signedInWithKey(stack, 'rn8');
  addNodeRepo(stack, 'rn8', 'app');
  const first = await waitFinished(u.agent, (await u.agent.post('/api/render/deploy', { github_repo: 'rn8/app', project_name: 'rn8-app' })).json.id);
  t.is(first.status, 'live', JSON.stringify(first.failure));
  stack.github.renameRepo('rn8', 'app', 'rn8/app-renamed');
  const pushed = stack.github.push('rn8', 'app-renamed', 'main', { 'package.json': JSON.stringify({ name: 'app', scripts: { start: 'node index.js' } }), 'package-lock.json': '{}', 'index.js': 'console.log(2)' });
  const asked = await u.agent.post(`/api/render/services/${first.serviceId}/redeploy`, { commit_sha: pushed });
  t.is(asked.status, 202, asked.text);
  const done = await waitFinished(u.agent, asked.json.id);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  const statuses = await statusesWhenPosted(stack, 'rn8', 'app-renamed', pushed, 2);
  t.deepEqual(statuses.map((s) => s.state), ['pending', 'success']);
});

test.serial('a moved repository whose name GitHub answers outside the owner/name shape is deployed under the name asked', async (t) => {
  const u = await signedInWithKey(stack, 'rn9');
  addNodeRepo(stack, 'rn9', 'app');
  // Not a name GitHub gives, but an answer the app does not control: it never reaches a URL or a path.
  stack.github.renameRepo('rn9', 'app', 'rn9/app renamed');
  const done = await waitFinished(u.agent, (await u.agent.post('/api/render/deploy', { github_repo: 'rn9/app', project_name: 'rn9-app' })).json.id);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  t.is(done.request.githubRepo, 'rn9/app');
  const svc = await renderApi(stack, u.apiKey, 'GET', `/services/${done.serviceId}`);
  t.is(svc.repo, 'https://github.com/rn9/app');
});

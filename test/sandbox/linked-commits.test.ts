import test from 'ava';
import { startGitHubSimulator } from '../../sandbox/github/index.js';
import { startRenderSimulator } from '../../sandbox/render/index.js';
import { branchCommitsFromGitHub, headsFromGitHub } from '../../sandbox/seed.js';
import { renderTestClient, webServiceBody } from './render-test-client.js';

// Sandbox mode: Render builds what GitHub has. A deploy of a repository's branch checks out the
// branch's head as the GitHub simulator has it, so the deployment page shows one commit, not the
// one checked when the deploy was requested beside an unrelated one "built by Render".
test('a linked Render simulator builds the GitHub simulator\'s branch head', async (t) => {
  const github = await startGitHubSimulator();
  const render = await startRenderSimulator({ manualDeploys: true, commitOf: headsFromGitHub(github) });
  t.teardown(async () => { await render.close(); await github.close(); });
  github.addUser({ login: 'octo' });
  github.addRepo({ owner: 'octo', name: 'app', branches: { main: { 'index.js': 'main' }, dev: { 'index.js': 'dev' } } });
  const account = render.addAccount({ apiKey: 'rnd_linked' });
  const api = renderTestClient(render.url, 'rnd_linked');

  const token = github.issueToken('octo');
  const headOf = async (branch: string) => {
    const res = await fetch(`${github.apiUrl}/repos/octo/app/branches/${branch}`, { headers: { authorization: `Bearer ${token}` } });
    return ((await res.json()) as { commit: { sha: string } }).commit.sha;
  };
  for (const branch of ['main', 'dev']) {
    const created = await api.call('POST', '/services', webServiceBody(account.ownerId, `app-${branch}`, { repo: 'https://github.com/octo/app', branch }));
    t.is(created.status, 201);
    const deploy = (await api.get(`/services/${created.body.service.id}/deploys/${created.body.deployId}`)).body;
    t.is(deploy.commit.id, await headOf(branch), branch);
  }
  // A repository the GitHub simulator does not have still builds (a made-up commit), as before.
  const other = await api.call('POST', '/services', webServiceBody(account.ownerId, 'elsewhere', { repo: 'https://github.com/someone/else', branch: 'main' }));
  t.is(other.status, 201);
  t.regex((await api.get(`/services/${other.body.service.id}/deploys/${other.body.deployId}`)).body.commit.id, /^[0-9a-f]{40}$/);
});

// Trigger deploy's commitId (docs/render-api.md §6.3): the deploy builds that commit; one the service's
// branch does not have fails its build at checkout (the simulator's `commitOnBranch`).
test('a linked Render simulator builds a named commit of the branch, and fails one the branch lacks', async (t) => {
  const github = await startGitHubSimulator();
  const render = await startRenderSimulator({ phaseMs: { created: 5, build_in_progress: 5, pre_deploy_in_progress: 5, update_in_progress: 5 }, commitOf: headsFromGitHub(github), commitOnBranch: branchCommitsFromGitHub(github) });
  t.teardown(async () => { await render.close(); await github.close(); });
  github.addUser({ login: 'octo' });
  github.addRepo({ owner: 'octo', name: 'app', branches: { main: { 'index.js': 'a' }, dev: { 'index.js': 'dev' } } });
  const a = github.branchHead('octo', 'app', 'main')!;
  const b = github.push('octo', 'app', 'main', { 'index.js': 'b' });
  const account = render.addAccount({ apiKey: 'rnd_named' });
  const api = renderTestClient(render.url, 'rnd_named');
  const created = await api.call('POST', '/services', webServiceBody(account.ownerId, 'named', { repo: 'https://github.com/octo/app', branch: 'main' }));
  t.is(created.status, 201);
  const serviceId = created.body.service.id as string;
  const settled = async (deployId: string) => {
    for (;;) {
      const d = (await api.get(`/services/${serviceId}/deploys/${deployId}`)).body;
      if (!['created', 'queued', 'build_in_progress', 'pre_deploy_in_progress', 'update_in_progress'].includes(d.status)) return d;
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  t.is((await settled(created.body.deployId)).commit.id, b, 'the first deploy builds the head');
  const ofA = await api.call('POST', `/services/${serviceId}/deploys`, { commitId: a });
  t.is(ofA.status, 201);
  t.is(ofA.body.commit.id, a);
  t.is((await settled(ofA.body.id)).status, 'live');
  for (const missing of ['cd'.repeat(20), github.branchHead('octo', 'app', 'dev')!]) {
    const res = await api.call('POST', `/services/${serviceId}/deploys`, { commitId: missing });
    t.is(res.status, 201, 'accepted; the build fails at checkout (what Render answers for such a commit is not documented: docs/render-api.md §6.3)');
    t.like(await settled(res.body.id), { status: 'build_failed', commit: { id: missing } });
  }
});

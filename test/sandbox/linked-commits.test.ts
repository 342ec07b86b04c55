import test from 'ava';
import { startGitHubSimulator } from '../../sandbox/github/index.js';
import { startRenderSimulator } from '../../sandbox/render/index.js';
import { headsFromGitHub } from '../../sandbox/seed.js';
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

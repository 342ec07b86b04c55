import test from 'ava';
import { detectStack } from '../../server/stacks/detect.js';
import { repoFilesFromGitHub } from '../../server/stacks/fromGitHub.js';
import { startGitHubSimulator } from '../../sandbox/github/index.js';
import { createGitHubClient } from '../../server/github/client.js';

// Detection decides from root names: a directory that happens to be called Dockerfile, go.mod or
// index.html is not that file. Taken for one, the repository was deployed as what it is not (Render
// then failed to build a directory as a Dockerfile), whichever listing GitHub answered with.

const START = JSON.stringify({ scripts: { start: 'node server.js' } });

/** 1,200 filler files push a root past the contents API's 1,000 entries: it is then read as a Git tree. */
const crowd = (n: number): Record<string, string> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${String(i).padStart(4, '0')}.json`, '{}']));

for (const [label, filler] of [['contents listing', 0], ['Git tree (over 1,000 entries)', 1_200]] as const) {
  test(`directories named like manifests are not manifests (${label})`, async (t) => {
    const sim = await startGitHubSimulator();
    t.teardown(() => sim.close());
    sim.addUser({ login: 'dora' });
    sim.addRepo({
      owner: 'dora', name: 'dirs',
      branches: {
        main: { ...crowd(filler), 'Dockerfile/README.md': 'notes', 'go.mod/x': '', 'Gemfile/y': '', 'package.json': START, 'server.js': '' },
        site: { ...crowd(filler), 'index.html/a.txt': '', 'public/index.html': '<h1>hi</h1>' },
        lock: { ...crowd(filler), 'yarn.lock/z': '', 'package-lock.json': '{}', 'package.json': START },
      },
    });
    const gh = createGitHubClient({ apiUrl: sim.apiUrl, token: sim.issueToken('dora'), retries: false });
    const node = await detectStack(await repoFilesFromGitHub(gh, 'dora', 'dirs', 'main'));
    t.like(node, { stack: 'node', startCommand: 'npm start' });
    const site = await detectStack(await repoFilesFromGitHub(gh, 'dora', 'dirs', 'site'));
    t.like(site, { stack: 'static', publishPath: 'public' });
    const npm = await detectStack(await repoFilesFromGitHub(gh, 'dora', 'dirs', 'lock'));
    t.is(npm.buildCommand, 'npm ci');
  });
}

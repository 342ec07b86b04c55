// Adversarial probe of render.yaml detection (server/stacks/blueprint.ts): which service a deploy takes
// from the file. The deploy-level tests are test/pipeline/blueprintDeploy.test.ts.
import test from 'ava';
import { stackFromBlueprint } from '../../server/stacks/blueprint.js';
import { detectStack, type RepoFiles } from '../../server/stacks/detect.js';

const web = (extra: string) => `services:\n  - type: web\n    name: api\n    runtime: node\n${extra}    buildCommand: npm ci\n    startCommand: node server.js\n`;

test('a service naming this repository in repo: (any URL form GitHub and Render take) is read; one naming another is skipped', (t) => {
  for (const url of ['https://github.com/Acme/Shop', 'https://github.com/acme/shop.git', 'http://www.github.com/acme/shop/', 'git@github.com:acme/shop.git']) {
    t.like(stackFromBlueprint(web(`    repo: ${url}\n`), 'acme/shop'), { startCommand: 'node server.js' }, url);
  }
  for (const url of ['https://github.com/acme/shop-old', 'https://github.com/render-examples/webdis.git', 'https://gitlab.com/acme/shop', 'https://github.com/acme']) {
    t.is(stackFromBlueprint(web(`    repo: ${url}\n`), 'acme/shop'), null, url);
  }
  // A repository whose name has a dot (GitHub Pages' owner.github.io, site.js): its bare owner/name was taken
  // for a host and a path, and no URL of it matched, so its own render.yaml service was skipped.
  for (const url of ['https://github.com/acme/acme.github.io', 'git@github.com:Acme/acme.github.io.git']) {
    t.like(stackFromBlueprint(web(`    repo: ${url}\n`), 'acme/acme.github.io'), { startCommand: 'node server.js' }, url);
  }
  t.is(stackFromBlueprint(web('    repo: https://github.com/acme/acme.github.io\n'), 'acme/site.js'), null);
  // Not knowing the repository, a service that names one is not taken for it; one that names none is.
  t.is(stackFromBlueprint(web('    repo: https://github.com/acme/shop\n')), null);
  t.like(stackFromBlueprint(web('')), { startCommand: 'node server.js' });
});

test('detection with the repository named skips another repository\'s service for the next one, then the repository\'s files', async (t) => {
  const files = (yaml: string): RepoFiles => ({ list: ['package.json', 'render.yaml'], dirs: [], read: async (p) => (p === 'render.yaml' ? yaml : p === 'package.json' ? '{"scripts":{"start":"node index.js"}}' : null) });
  const other = 'services:\n  - type: worker\n    name: theirs\n    runtime: python\n    repo: https://github.com/someone/else\n    buildCommand: pip install .\n    startCommand: python w.py\n';
  t.like(await detectStack(files(other), { repo: 'acme/shop' }), { stack: 'node', serviceType: 'web_service', startCommand: 'npm start' });
  t.like(await detectStack(files(`${other}  - type: web\n    name: ours\n    runtime: node\n    buildCommand: npm ci\n    startCommand: node ours.js\n`), { repo: 'acme/shop' }),
    { startCommand: 'node ours.js', reason: 'render.yaml declares the node web service "ours".' });
});

test('a path outside the repository is refused only in the service that is deployed, not in one skipped before it', (t) => {
  const skippedFirst = (skipped: string) => `services:\n${skipped}  - type: web\n    name: api\n    runtime: node\n    rootDir: apps/api\n    buildCommand: npm ci\n    startCommand: node server.js\n`;
  for (const skipped of [
    '  - type: cron\n    runtime: node\n    schedule: "@daily"\n    rootDir: ../x\n    buildCommand: a\n    startCommand: b\n',
    '  - type: web\n    runtime: node\n    rootDir: /etc\n    buildCommand: a\n',
    '  - type: worker\n    runtime: static\n    rootDir: ../../x\n    staticPublishPath: ../../etc\n',
    '  - type: web\n    runtime: docker\n    repo: https://github.com/someone/else\n    rootDir: ../x\n    dockerfilePath: ../../etc/passwd\n',
  ]) {
    t.like(stackFromBlueprint(skippedFirst(skipped), 'acme/shop'), { rootDir: 'apps/api', startCommand: 'node server.js' }, skipped);
  }
  // The service deployed is still judged.
  t.throws(() => stackFromBlueprint(skippedFirst('').replace('apps/api', '../api'), 'acme/shop'), { message: /is not a directory inside the repository/ });
});

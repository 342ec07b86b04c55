// Adversarial probe of the Blueprint path in a deploy: a repository's render.yaml as a hostile or merely
// unusual repository writes it, deployed through the web API, the worker, and the GitHub and Render
// simulators over HTTP. Each test drives what a user would do and checks what ends up on Render.
import test, { type ExecutionContext } from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { renderApi, renderCalls, signedInWithKey, waitFinished } from '../helpers/pipeline.js';
import { firstControl } from '../../server/stacks/lines.js';

let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

/** Deploys owner/repo (main holding `files`); the finished deployment and its service on Render (if any). */
async function deployed(t: ExecutionContext, owner: string, files: Record<string, string>) {
  const { agent, apiKey, accountId } = await signedInWithKey(stack, owner);
  stack.github.addRepo({ owner, name: 'repo', branches: { main: files } });
  const res = await agent.post('/api/render/deploy', { github_repo: `${owner}/repo`, project_name: `${owner}-svc`, branch: 'main' });
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id);
  const svc = done.serviceId ? await renderApi(stack, apiKey, 'GET', `/services/${done.serviceId}`) : null;
  return { done, svc, accountId };
}

// A Blueprint service may name the repository it is built from (`repo:`, "If omitted, uses the repo
// containing the render.yaml file": spec/render.yaml.json). One built from another repository (Render's own
// example file names render-examples/webdis) says nothing about this repository's code: deployed with its
// rootDir and dockerCommand, this repository was built in a directory it does not have, running another
// project's command.
test('a render.yaml service built from another repository (repo:) is not taken for this repository\'s', async (t) => {
  const { done, svc } = await deployed(t, 'otherrepo', {
    'render.yaml': [
      'services:',
      '  - type: web', '    name: webdis', '    runtime: docker', '    repo: https://github.com/render-examples/webdis.git',
      '    rootDir: webdis', '    dockerCommand: ./webdis.sh',
      '  - type: web', '    name: app', '    runtime: node', '    repo: https://github.com/OtherRepo/Repo.git',
      '    buildCommand: npm ci', '    startCommand: node server.js',
      '',
    ].join('\n'),
    'package.json': JSON.stringify({ name: 'app', scripts: { start: 'node server.js' } }),
    'server.js': '',
  });
  t.is(done.status, 'live', JSON.stringify(done.failure));
  t.is(svc.rootDir ?? '', '', `created with rootDir ${JSON.stringify(svc.rootDir)}`);
  t.is(svc.serviceDetails.runtime, 'node');
  t.is(svc.serviceDetails.envSpecificDetails.startCommand, 'node server.js');
  t.regex(done.stack.reason, /"app"/, 'the service of this repository (its URL in another case) is the one deployed');
});

// A service that detection skips (a cron job whose schedule is not valid, a node service without a start
// command) is not the one deployed: a path of it outside the repository must not end the deploy, which
// deploys the next service.
test('a path outside the repository in a service detection skips does not refuse the service it deploys', async (t) => {
  const { done, svc } = await deployed(t, 'skipped', {
    'render.yaml': [
      'services:',
      '  - type: cron', '    name: nightly', '    runtime: node', '    schedule: "every night"', '    rootDir: ../shared',
      '    buildCommand: npm ci', '    startCommand: node job.js',
      '  - type: web', '    name: api', '    runtime: node', '    rootDir: apps/api', '    buildCommand: npm ci', '    startCommand: node server.js',
      '',
    ].join('\n'),
    'apps/api/package.json': '{}',
  });
  t.is(done.status, 'live', JSON.stringify(done.failure));
  t.is(svc.rootDir, 'apps/api');
});

// Render's validation quotes the file back (an unknown field's name, a duplicated service's name): the
// deploy's failure is a sentence (the pipeline's bound, test/pipeline/blueprintBounds.test.ts), not whatever
// the file held, and holds no control character or direction override that rewrites it on screen.
test('an invalid render.yaml whose errors quote huge or bidi-laden names fails with a bounded, plain sentence', async (t) => {
  // YAML takes implicit keys up to 1,024 characters: five such unknown fields, each named in its error's path and message.
  const long = (c: string) => c.repeat(1_000);
  const { done, accountId } = await deployed(t, 'quoted', {
    'render.yaml': [
      'services:',
      '  - type: web', '    name: app', '    runtime: node', '    buildCommand: npm ci', '    startCommand: node index.js',
      '    "evil\\u202Eexe.txt": 1',
      '    "two\\nlines": 1',
      ...['a', 'b', 'c'].map((c) => `    ${long(c)}: 1`),
      '',
    ].join('\n'),
    'package.json': JSON.stringify({ scripts: { start: 'node index.js' } }),
  });
  t.is(done.status, 'failed');
  t.is(done.failure.code, 'invalid_blueprint', done.failure.message.slice(0, 300));
  t.is(firstControl(done.failure.message), null, JSON.stringify(done.failure.message.slice(0, 400)));
  t.true(done.failure.message.length < 2_000, `${done.failure.message.length} characters`);
  t.is(renderCalls(stack, accountId, 'POST', '/services').length, 0);
});

// What the deploy does not apply of the service it takes from render.yaml (its env vars, generated secrets
// and database links, a preDeployCommand migration…) is said in the detection the deploy
// form shows, and in the deployment's, before anything is created: the deploy went live without them, its
// reason naming only the commands it used.
test('the fields of the render.yaml service a deploy does not apply are named in the detection, in the form and in the deployment', async (t) => {
  const { agent } = await signedInWithKey(stack, 'unapplied');
  stack.github.addRepo({ owner: 'unapplied', name: 'repo', branches: { main: {
    'render.yaml': [
      'services:',
      '  - type: web', '    name: api', '    runtime: node', '    plan: standard', '    autoDeploy: false',
      '    buildCommand: npm ci', '    preDeployCommand: npm run migrate', '    startCommand: node server.js',
      '    envVars:', '      - key: DATABASE_URL', '        fromDatabase:', '          name: db', '          property: connectionString',
      '      - key: APP_SECRET', '        generateValue: true',
      'databases:', '  - name: db',
      '',
    ].join('\n'),
    'package.json': '{}',
  } } });
  const detected = await agent.get('/api/github/repos/unapplied/repo/detect');
  t.is(detected.status, 200, detected.text);
  // autoDeploy: false is applied (the service is created with auto-deploy off: test/stacks/blueprintAutoDeployBranch.test.ts).
  t.is(detected.json.reason, 'render.yaml declares the node web service "api". Auto-deploy is off, as its autoDeploy in render.yaml says. Its envVars, preDeployCommand and plan in render.yaml are not applied by this deploy (Deploy as Blueprint applies the whole file).');
  const res = await agent.post('/api/render/deploy', { github_repo: 'unapplied/repo', project_name: 'unapplied-api', branch: 'main' });
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id);
  t.is(done.stack.reason, detected.json.reason);
});

// A render.yaml that groups its services in a project (projects → environments → services, Render's
// tutorial https://render.com/tutorials/advanced-blueprint-patterns/projects-and-environments) declares
// them as the flat form does: unread, the repository was deployed from its package.json, as if the
// Blueprint declared no service.
test('a render.yaml whose services are in projects → environments deploys its first service, from the form\'s detection to Render', async (t) => {
  const files = {
    'render.yaml': [
      'projects:',
      '- name: shop',
      '  environments:',
      '  - name: production',
      '    services:',
      '    - type: web', '      name: api', '      runtime: node', '      buildCommand: npm ci', '      startCommand: node api.js',
      '      envVars:', '      - key: NODE_ENV', '        value: production',
      '  - name: staging',
      '    services:',
      '    - type: web', '      name: api-staging', '      runtime: node', '      buildCommand: npm ci', '      startCommand: node staging.js',
      '',
    ].join('\n'),
    'package.json': JSON.stringify({ name: 'shop', scripts: { start: 'node index.js' } }),
  };
  const { done, svc } = await deployed(t, 'grouped', files);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  t.is(svc.serviceDetails.envSpecificDetails.startCommand, 'node api.js');
  t.is(svc.serviceDetails.envSpecificDetails.buildCommand, 'npm ci');
  t.regex(done.stack.reason, /^render\.yaml declares the node web service "api"\. Its envVars in render\.yaml is not applied by this deploy/);
  // What the deploy form shows, for the same files.
  const { agent } = await signedInWithKey(stack, 'groupedform');
  stack.github.addRepo({ owner: 'groupedform', name: 'repo', branches: { main: files } });
  const detected = await agent.get('/api/github/repos/groupedform/repo/detect');
  t.is(detected.status, 200, detected.text);
  t.like(detected.json, { startCommand: 'node api.js', hasBlueprint: true });
});

// An empty render.yaml (nothing, or only blank lines and comments; Render's setup starts from "an empty YAML
// file" that is then populated: https://render.com/docs/infrastructure-as-code) declares no Blueprint. The
// deploy took '' for no file and checked nothing, while the form showed "it is checked with Render before
// deploying" and its check (GET /blueprint) reported the file invalid: all three now take it for no file.
test('an empty or comments-only render.yaml is no Blueprint: not in the form, not checked, deployed from the other files', async (t) => {
  for (const [login, yaml] of [['emptybp', ''], ['commentbp', '# Blueprint to come\n\n   # services: later\n']] as const) {
    const { agent, accountId } = await signedInWithKey(stack, login);
    stack.github.addRepo({ owner: login, name: 'repo', branches: { main: { 'render.yaml': yaml, 'package.json': JSON.stringify({ scripts: { start: 'node index.js' } }) } } });
    const detected = await agent.get(`/api/github/repos/${login}/repo/detect`);
    t.is(detected.status, 200, detected.text);
    t.like(detected.json, { stack: 'node', startCommand: 'npm start', hasBlueprint: false }, `${login}: the form offers no Blueprint check`);
    const check = await agent.get(`/api/github/repos/${login}/repo/blueprint`);
    t.is(check.status, 404, check.text);
    t.is(check.json.error.code, 'blueprint_not_found');
    t.is(check.json.error.message, `${login}/repo's render.yaml on main is empty (only blank lines or comments): it declares no Blueprint.`);
    const res = await agent.post('/api/render/deploy', { github_repo: `${login}/repo`, project_name: `${login}-svc`, branch: 'main' });
    t.is(res.status, 202, res.text);
    const done = await waitFinished(agent, res.json.id);
    t.is(done.status, 'live', `${login}: ${JSON.stringify(done.failure)}`);
    t.false(done.stack.fromBlueprint);
    t.is(renderCalls(stack, accountId, 'POST', '/blueprints/validate').length, 0, `${login}: nothing sent to Render's validation`);
  }
});

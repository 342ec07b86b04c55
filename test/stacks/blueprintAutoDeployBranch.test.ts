// A render.yaml service's autoDeploy / autoDeployTrigger and branch (spec/render.yaml.json), deployed through
// the web API, the worker and the GitHub and Render simulators over HTTP.
// - Auto-deploy: POST /services takes `autoDeploy: yes|no` (spec/render-openapi.json servicePOST); the service
//   was created with `yes` whatever the file said, so a Blueprint with `autoDeploy: false` got a service that
//   deployed every push. Now it is created as the file says (autoDeployTrigger, else autoDeploy; checksPass,
//   which the create body cannot ask for, is created off), and the settings page's toggle shows it.
// - Branch: the deploy builds the branch it was asked for (the form's, the API's, else the default one), whose
//   files were detected; a service's `branch:` naming another is said so by name in the detection the form
//   shows and in the deployment, and one naming the same is not reported as "not applied".
import test, { type ExecutionContext } from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { renderApi, signedInWithKey, waitFinished } from '../helpers/pipeline.js';
import { stackFromBlueprint } from '../../server/stacks/blueprint.js';

let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

const yaml = (...extra: string[]) => [
  'services:',
  '  - type: web', '    name: api', '    runtime: node', ...extra.map((l) => `    ${l}`),
  '    buildCommand: npm ci', '    startCommand: node server.js',
  '',
].join('\n');
const NODE_FILES = { 'package.json': JSON.stringify({ name: 'api', scripts: { start: 'node server.js' } }), 'server.js': '' };

/**
 * owner/repo with `branches` (main its default), detected as the form does (at `branch`) and deployed (with
 * `branch` when given, else none: the API's default branch), live; the detection, the deployment, the service
 * on Render and what the service's settings page shows.
 */
async function deployed(t: ExecutionContext, owner: string, branches: Record<string, Record<string, string>>, branch?: string) {
  const { agent, apiKey } = await signedInWithKey(stack, owner);
  stack.github.addRepo({ owner, name: 'repo', branches });
  const detected = await agent.get(`/api/github/repos/${owner}/repo/detect${branch ? `?branch=${branch}` : ''}`);
  t.is(detected.status, 200, detected.text);
  const res = await agent.post('/api/render/deploy', { github_repo: `${owner}/repo`, project_name: `${owner}-api`, ...(branch ? { branch } : {}) });
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  t.is(done.stack.reason, detected.json.reason, 'the deployment says what the form showed');
  const svc = await renderApi(stack, apiKey, 'GET', `/services/${done.serviceId}`);
  const settings = await agent.get(`/api/render/services/${done.serviceId}/settings`);
  t.is(settings.status, 200, settings.text);
  return { reason: detected.json.reason as string, done, svc, settings: settings.json.settings };
}

test('a render.yaml service with autoDeploy: false is created with auto-deploy off, as its settings page shows', async (t) => {
  const { reason, svc, settings } = await deployed(t, 'adfalse', { main: { 'render.yaml': yaml('autoDeploy: false', 'plan: starter'), ...NODE_FILES } }, 'main');
  t.is(svc.autoDeploy, 'no');
  t.false(settings.autoDeploy);
  t.is(reason, 'render.yaml declares the node web service "api". Auto-deploy is off, as its autoDeploy in render.yaml says. Its plan in render.yaml is not applied by this deploy (Deploy as Blueprint applies the whole file).');
});

test('autoDeployTrigger decides the service\'s auto-deploy: off and checksPass create it off, commit on, over autoDeploy', async (t) => {
  const cases = [
    { owner: 'trigoff', lines: ['autoDeployTrigger: off'], autoDeploy: 'no', reason: 'render.yaml declares the node web service "api". Auto-deploy is off, as its autoDeployTrigger in render.yaml says.' },
    // Render's create body cannot ask for "wait for checks": on, every push deployed, checks passed or not.
    { owner: 'trigchecks', lines: ['autoDeployTrigger: checksPass'], autoDeploy: 'no', reason: 'render.yaml declares the node web service "api". Its autoDeployTrigger checksPass cannot be set through Render\'s API, so auto-deploy is off: a push deploys nothing until you redeploy, or turn auto-deploy on in the service\'s settings (then every push deploys, checks passed or not).' },
    { owner: 'trigcommit', lines: ['autoDeploy: false', 'autoDeployTrigger: commit'], autoDeploy: 'yes', reason: 'render.yaml declares the node web service "api". Its autoDeploy in render.yaml is not applied by this deploy (Deploy as Blueprint applies the whole file).' },
    { owner: 'trigboth', lines: ['autoDeploy: false', 'autoDeployTrigger: off'], autoDeploy: 'no', reason: 'render.yaml declares the node web service "api". Auto-deploy is off, as its autoDeployTrigger in render.yaml says.' },
  ] as const;
  for (const c of cases) {
    const { reason, svc, settings } = await deployed(t, c.owner, { main: { 'render.yaml': yaml(...c.lines), ...NODE_FILES } }, 'main');
    t.is(svc.autoDeploy, c.autoDeploy, c.owner);
    t.is(settings.autoDeploy, c.autoDeploy === 'yes', c.owner);
    t.is(reason, c.reason, c.owner);
  }
});

test('a render.yaml service that says nothing of auto-deploy, or autoDeploy: true, is created with auto-deploy on', async (t) => {
  for (const [owner, lines] of [['adnone', []], ['adtrue', ['autoDeploy: true']]] as const) {
    const { reason, svc, settings } = await deployed(t, owner, { main: { 'render.yaml': yaml(...lines), ...NODE_FILES } }, 'main');
    t.is(svc.autoDeploy, 'yes', owner);
    t.true(settings.autoDeploy, owner);
    t.is(reason, 'render.yaml declares the node web service "api".', owner);
  }
});

test('a render.yaml service naming another branch: the branch asked for is deployed, and the form and the deployment name both', async (t) => {
  const files = { 'render.yaml': yaml('branch: production'), ...NODE_FILES };
  const { reason, done, svc, settings } = await deployed(t, 'otherbranch', { main: files, production: { ...files, 'server.js': '// production' } }, 'main');
  t.is(svc.branch, 'main');
  t.is(settings.branch, 'main');
  t.is(done.commitSha, stack.github.branchHead('otherbranch', 'repo', 'main'));
  t.not(done.commitSha, stack.github.branchHead('otherbranch', 'repo', 'production'));
  t.is(reason, 'render.yaml declares the node web service "api". Its branch in render.yaml is "production": this deploy builds "main", the branch asked for (deploy "production" to build that one).');
});

test('a render.yaml service naming the branch deployed (the default one, no branch in the request) has nothing said of it', async (t) => {
  const { reason, svc } = await deployed(t, 'samebranch', { main: { 'render.yaml': yaml('branch: main'), ...NODE_FILES } });
  t.is(svc.branch, 'main');
  t.is(reason, 'render.yaml declares the node web service "api".');
});

test('the reason quotes neither a render.yaml branch nor auto-deploy value it cannot take', (t) => {
  // A branch name this app would not deploy (quotes, a direction override) is not quoted; a value Render's schema
  // refuses (a string for the boolean; Render's validation fails the deploy before anything is created) is not taken.
  for (const branch of ['"evil" --force', 'main\u202Egnp.exe', 'x'.repeat(101)]) {
    const found = stackFromBlueprint(yaml(`branch: '${branch}'`, 'autoDeploy: "no"', 'autoDeployTrigger: sometimes'), undefined, 'main')!;
    t.is(found.reason, 'render.yaml declares the node web service "api". Its branch in render.yaml is another one: this deploy builds "main", the branch asked for. Its autoDeploy and autoDeployTrigger in render.yaml are not applied by this deploy (Deploy as Blueprint applies the whole file).', JSON.stringify(branch));
    t.is(found.autoDeploy, undefined);
  }
  // Without the branch deployed (a caller that does not know it), the file's branch is named as not applied, as before.
  t.regex(stackFromBlueprint(yaml('branch: production'))!.reason, /Its branch in render\.yaml is not applied/);
});

// Review: reading these fields made a value the reader does not take (an anchor, an alias, a tag) make the whole file
// unreadable, and a file sharing its branch between services by an alias was detected from its other files instead.
test('a render.yaml branch or auto-deploy given by an anchor, alias or tag leaves that field unread, not the file', (t) => {
  const shared = [
    'services:',
    '  - type: web', '    name: api', '    runtime: docker', '    rootDir: api', '    branch: &deploybranch production', '    autoDeploy: !!bool false',
    '  - type: worker', '    name: jobs', '    runtime: docker', '    rootDir: jobs', '    branch: *deploybranch', '    autoDeployTrigger: *trigger',
    '',
  ].join('\n');
  const found = stackFromBlueprint(shared, undefined, 'main')!;
  t.like(found, { runtime: 'docker', rootDir: 'api', autoDeploy: undefined });
  t.regex(found.reason, /^render\.yaml declares the Docker web service "api" in api\/\. Its autoDeploy and branch in render\.yaml are not applied/);
});

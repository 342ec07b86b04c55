import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { addNodeRepo, renderCalls, signedInWithKey } from '../helpers/pipeline.js';
import { MAX_FILE_BYTES } from '../../server/github/client.js';

// Issue 15: "deploy as Blueprint" shows Render's plan for the repository's render.yaml before anything
// happens: Render's validate endpoint only, nothing created.
let stack: Stack;
test.before(async () => { stack = await startStack(); });
test.after.always(async () => { await stack?.close(); });

const BLUEPRINT = [
  'services:',
  '  - type: web', '    name: shop-web', '    runtime: node', '    buildCommand: npm ci', '    startCommand: npm start',
  '  - type: cron', '    name: shop-nightly', '    runtime: node', '    schedule: "0 3 * * *"', '    buildCommand: npm ci', '    startCommand: node job.js',
  '  - type: keyvalue', '    name: shop-cache', '    ipAllowList: []',
  'databases:', '  - name: shop-db',
  '',
].join('\n');

test('the plan lists what Render would create, and nothing is created', async (t) => {
  const { agent, accountId, ownerId } = await signedInWithKey(stack, 'bp');
  addNodeRepo(stack, 'bp', 'shop', { 'render.yaml': BLUEPRINT });
  const res = await agent.get('/api/github/repos/bp/shop/blueprint');
  t.is(res.status, 200, res.text);
  t.true(res.json.valid);
  t.is(res.json.branch, 'main');
  t.is(res.json.ownerId, ownerId);
  t.deepEqual(res.json.plan.services, ['shop-web', 'shop-nightly']);
  t.deepEqual(res.json.plan.keyValue, ['shop-cache']);
  t.deepEqual(res.json.plan.databases, ['shop-db']);
  t.is(res.json.plan.totalActions, 4);
  t.is(res.json.deployUrl, `https://render.com/deploy?repo=${encodeURIComponent('https://github.com/bp/shop/tree/main')}`);
  t.is(renderCalls(stack, accountId, 'POST', '/blueprints/validate').length, 1);
  t.is(stack.render.calls.filter((c) => c.accountId === accountId && c.method !== 'GET' && c.route !== '/blueprints/validate').length, 0, 'only the validation was sent');
});

test('an invalid render.yaml comes back with Render\'s errors and no plan', async (t) => {
  const { agent } = await signedInWithKey(stack, 'bpbad');
  addNodeRepo(stack, 'bpbad', 'app', { 'render.yaml': 'services:\n  - type: spaceship\n    name: x\n' });
  const res = await agent.get('/api/github/repos/bpbad/app/blueprint');
  t.is(res.status, 200, res.text);
  t.false(res.json.valid);
  t.true(res.json.errors.length > 0);
  t.is(res.json.plan, null);
  t.is(res.json.deployUrl, null);
});

test('bad input: no render.yaml 404, a workspace not yours 400 (nothing sent to Render), bad branch 400, no key 400, signed out 401', async (t) => {
  const { agent, accountId } = await signedInWithKey(stack, 'bpin');
  addNodeRepo(stack, 'bpin', 'plain');
  addNodeRepo(stack, 'bpin', 'withyaml', { 'render.yaml': BLUEPRINT });
  const none = await agent.get('/api/github/repos/bpin/plain/blueprint');
  t.is(none.status, 404);
  t.is(none.json.error.code, 'blueprint_not_found');
  const other = await agent.get(`/api/github/repos/bpin/withyaml/blueprint?owner_id=tea-${'z'.repeat(20)}`);
  t.is(other.status, 400);
  t.is(other.json.error.code, 'validation_failed');
  t.is(stack.render.calls.filter((c) => c.route === '/blueprints/validate' && c.accountId === accountId).length, 0);
  const branch = await agent.get('/api/github/repos/bpin/plain/blueprint?branch=a..b');
  t.is(branch.status, 400);
  const noKey = stack.agent();
  await stack.signIn(noKey, 'bpnokey');
  t.is((await noKey.get('/api/github/repos/bpin/plain/blueprint')).json.error.code, 'render_key_missing');
  t.is((await stack.agent().get('/api/github/repos/bpin/plain/blueprint')).status, 401);
});

test('a render.yaml over the 256 KiB read limit: 422 blueprint_too_large saying so (the same on every ask), nothing sent to Render', async (t) => {
  const { agent, accountId } = await signedInWithKey(stack, 'bpbig');
  addNodeRepo(stack, 'bpbig', 'app', { 'render.yaml': `${BLUEPRINT}${'#'.repeat(MAX_FILE_BYTES)}\n` });
  const res = await agent.get('/api/github/repos/bpbig/app/blueprint');
  t.is(res.status, 422, res.text);
  t.is(res.json.error.code, 'blueprint_too_large');
  t.is(res.json.error.message, 'bpbig/app\'s render.yaml on main is larger than 256 KiB, the most this app reads.');
  t.is(renderCalls(stack, accountId, 'POST', '/blueprints/validate').length, 0);
});

test('a branch named with # (git allows it, the picker lists it): the plan is of that branch, and the Deploy to Render link keeps the # in the branch', async (t) => {
  const { agent } = await signedInWithKey(stack, 'bphash');
  const branch = 'feature/#12-fix';
  stack.github.addRepo({ owner: 'bphash', name: 'shop', branches: { main: { 'index.html': '' }, [branch]: { 'render.yaml': BLUEPRINT } } });
  const res = await agent.get(`/api/github/repos/bphash/shop/blueprint?branch=${encodeURIComponent(branch)}`);
  t.is(res.status, 200, res.text);
  t.is(res.json.branch, branch);
  t.true(res.json.valid);
  const link = new URL(res.json.deployUrl as string);
  // Left as written, the # ended the repository URL Render is given: it would open tree/feature/.
  t.is(new URL(link.searchParams.get('repo')!).pathname, '/bphash/shop/tree/feature/%2312-fix');
});

// GitHub's reads come first and may take a while: a sign-out in another tab meanwhile ends the key's use,
// so Render's validation is not asked with it, and the answer is the one a request sent now gets.
test('a sign-out while render.yaml is read from GitHub: Render is not asked to validate with the key, 401', async (t) => {
  const { agent, accountId } = await signedInWithKey(stack, 'bpout');
  addNodeRepo(stack, 'bpout', 'shop', { 'render.yaml': BLUEPRINT });
  const held = stack.github.holdRequest('/repos/bpout/shop/contents/render.yaml');
  t.teardown(held.release);
  const answer = agent.get('/api/github/repos/bpout/shop/blueprint');
  await held.arrived;
  t.is((await agent.post('/api/auth/logout')).status, 200);
  held.release();
  const res = await answer;
  t.is(res.status, 401, res.text);
  t.is(renderCalls(stack, accountId, 'POST', '/blueprints/validate').length, 0, 'no validation with the withdrawn key');
});

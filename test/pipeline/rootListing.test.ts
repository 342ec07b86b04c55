import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { signedInWithKey, waitFinished } from '../helpers/pipeline.js';

// GitHub's contents API lists at most 1,000 entries of a directory, silently ("use the Git Trees API"
// past that; the simulator does the same). Detection judges by the root listing: a root with more
// entries must be read whole, or a package.json past the first thousand goes unseen and the repository
// is deployed as something else (here: the static site its index.html suggests).

let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

/** index.html, then 1,200 data files, then package.json: in name order, package.json is entry 1,203. */
function crowdedRoot(): Record<string, string> {
  const files: Record<string, string> = {
    'index.html': '<h1>hi</h1>',
    'package.json': JSON.stringify({ name: 'crowded', scripts: { start: 'node server.js' } }),
    'server.js': '',
  };
  for (let i = 0; i < 1_200; i++) files[`k${String(i).padStart(4, '0')}.json`] = '{}';
  return files;
}

test('a root of more than 1,000 entries is read whole: package.json past the first thousand is found', async (t) => {
  const { agent } = await signedInWithKey(stack, 'crowd');
  stack.github.addRepo({ owner: 'crowd', name: 'app', branches: { main: crowdedRoot() } });
  const detect = await agent.get('/api/github/repos/crowd/app/detect');
  t.is(detect.status, 200, detect.text);
  t.is(detect.json.stack, 'node', detect.text);
  t.is(detect.json.serviceType, 'web_service');
  const res = await agent.post('/api/render/deploy', { github_repo: 'crowd/app', project_name: 'crowded' });
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id, 60_000);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  t.like(done.stack, { stack: 'node', serviceType: 'web_service', startCommand: 'npm start' });
});

test('a root of at most 1,000 entries costs one listing, as before', async (t) => {
  const { agent } = await signedInWithKey(stack, 'tidy');
  stack.github.addRepo({ owner: 'tidy', name: 'app', branches: { main: { 'package.json': JSON.stringify({ scripts: { start: 'node .' } }), 'index.js': '' } } });
  const detect = await agent.get('/api/github/repos/tidy/app/detect');
  t.is(detect.json.stack, 'node', detect.text);
  const calls = stack.github.calls.map((c) => c.path).filter((p) => p.includes('/repos/tidy/app/'));
  t.true(calls.some((p) => p.endsWith('/contents/')), calls.join(', '));
  t.false(calls.some((p) => p.includes('/git/trees/')), calls.join(', '));
});

test('a crowded root on a branch named with a slash: the tree is read at the commit verified, so the branch name never reaches its path', async (t) => {
  const { agent } = await signedInWithKey(stack, 'slashy');
  stack.github.addRepo({ owner: 'slashy', name: 'app', branches: { main: { 'index.html': '' }, 'feature/x': crowdedRoot() } });
  const detect = await agent.get('/api/github/repos/slashy/app/detect?branch=feature/x');
  t.is(detect.status, 200, detect.text);
  t.is(detect.json.stack, 'node', detect.text);
  const res = await agent.post('/api/render/deploy', { github_repo: 'slashy/app', project_name: 'slashy', branch: 'feature/x' });
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id, 60_000);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  t.is(done.stack.stack, 'node');
  const trees = stack.github.calls.map((c) => c.path).filter((p) => p.startsWith('/api/v3/repos/slashy/app/git/trees/'));
  t.true(trees.length >= 2, trees.join(', '));
  for (const p of trees) t.regex(p, /\/git\/trees\/[0-9a-f]{40}$/, 'by commit sha');
});

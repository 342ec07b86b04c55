import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { renderCalls, signedInWithKey, until, waitFinished } from '../helpers/pipeline.js';

// A push can land while detection reads a branch. The deploy builds the commit its verify step found
// (Render is asked for that commitId), so detection must read that commit, not whatever the branch
// names by the time each file is read; and the form's detection must not mix two commits' files.

let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

const NODE_APP = { 'package.json': JSON.stringify({ name: 'drift', scripts: { start: 'node index.js' } }), 'index.js': '' };
const STATIC_SITE = { 'index.html': '<h1>moved</h1>' };

test('the deploy detects the commit it verified, though the branch moves right after', async (t) => {
  const { agent } = await signedInWithKey(stack, 'drift');
  stack.github.addRepo({ owner: 'drift', name: 'app', branches: { main: NODE_APP } });
  const verified = stack.github.branchHead('drift', 'app', 'main');
  // The push lands as soon as the worker has read the branch's head.
  stack.github.afterAnswer('/repos/drift/app/branches/', () => stack.github.push('drift', 'app', 'main', STATIC_SITE));
  const res = await agent.post('/api/render/deploy', { github_repo: 'drift/app', branch: 'main', project_name: 'drift' });
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id, 60_000);
  t.not(stack.github.branchHead('drift', 'app', 'main'), verified, 'the branch moved');
  t.is(done.commitSha, verified);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  t.like(done.stack, { stack: 'node', serviceType: 'web_service', startCommand: 'npm start' });
});

test('the form detects one commit: a push between its listing and its reads does not mix two', async (t) => {
  const { agent } = await signedInWithKey(stack, 'drift2');
  stack.github.addRepo({ owner: 'drift2', name: 'app', branches: { main: NODE_APP } });
  stack.github.afterAnswer('/repos/drift2/app/contents/', () => stack.github.push('drift2', 'app', 'main', STATIC_SITE));
  const detect = await agent.get('/api/github/repos/drift2/app/detect?branch=main');
  t.is(detect.status, 200, detect.text);
  t.like(detect.json, { stack: 'node', startCommand: 'npm start' });
});

test('a push between verify and the service\'s creation: Render builds and puts live the commit verified, not the new head', async (t) => {
  const { agent, accountId } = await signedInWithKey(stack, 'drift3');
  stack.github.addRepo({ owner: 'drift3', name: 'app', branches: { main: NODE_APP } });
  const verified = stack.github.branchHead('drift3', 'app', 'main');
  // The push lands once the worker has read the branch's head, before it asks Render for the service,
  // whose first deploy builds whatever the branch names then.
  stack.github.afterAnswer('/repos/drift3/app/branches/', () => stack.github.push('drift3', 'app', 'main', STATIC_SITE));
  // Builds wait until the worker has stopped that first deploy, as a real build (minutes) would: with
  // phases of a few ms, a loaded machine (CI, load 15) let it go live first, deactivated after, not canceled.
  const releaseBuilds = stack.render.holdPhase({ serviceName: 'drift3' }, 'build_in_progress');
  t.teardown(releaseBuilds);
  const res = await agent.post('/api/render/deploy', { github_repo: 'drift3/app', branch: 'main', project_name: 'drift3' });
  t.is(res.status, 202, res.text);
  await until('the first deploy canceled on Render', async () => renderCalls(stack, accountId, 'POST', '/services/{serviceId}/deploys/{deployId}/cancel').find((c) => c.status === 200));
  releaseBuilds();
  const done = await waitFinished(agent, res.json.id, 60_000);
  const pushed = stack.github.branchHead('drift3', 'app', 'main');
  t.not(pushed, verified, 'the branch moved');
  t.is(done.status, 'live', JSON.stringify(done.failure));
  t.is(done.commitSha, verified);
  // What went live is the commit detected (a node app), the one the commit status is posted on.
  t.is(done.renderCommitId, verified, 'Render built the commit verified and detected');
  const deploys = await agent.get(`/api/render/services/${done.serviceId}/deploys`);
  t.is(deploys.status, 200, deploys.text);
  const live = (deploys.json.deploys as Array<{ status: string; commitId: string | null }>).filter((d) => d.status === 'live');
  t.deepEqual(live.map((d) => d.commitId), [verified], 'the live deploy on Render is of the commit verified');
  t.is(done.deployId, (deploys.json.deploys as Array<{ id: string; status: string }>).find((d) => d.status === 'live')!.id);
  // The first deploy, of the head pushed meanwhile, was stopped.
  const others = (deploys.json.deploys as Array<{ status: string; commitId: string | null }>).filter((d) => d.commitId !== verified);
  t.deepEqual(others.map((d) => d.status), ['canceled'], JSON.stringify(deploys.json.deploys));
});

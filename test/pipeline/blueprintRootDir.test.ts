import test, { type ExecutionContext } from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { renderApi, signedInWithKey, waitFinished } from '../helpers/pipeline.js';

let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

/** Deploys owner/repo (main holding `files`) as `projectName`, checks it went live; the deployment and its service on Render. */
async function deployedLive(t: ExecutionContext, owner: string, projectName: string, files: Record<string, string>) {
  const { agent, apiKey } = await signedInWithKey(stack, owner);
  stack.github.addRepo({ owner, name: 'repo', branches: { main: files } });
  const res = await agent.post('/api/render/deploy', { github_repo: `${owner}/repo`, project_name: projectName, branch: 'main' });
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  return { done, svc: await renderApi(stack, apiKey, 'GET', `/services/${done.serviceId}`) };
}

// A monorepo's render.yaml names where each service lives (rootDir): Render runs its build and start
// commands there, and files outside it are not available to the service (render.com/docs/monorepo-support).
// Created at the repository root, the service ran `npm ci` where there is no package.json.
test('a render.yaml service with a rootDir is created on Render with that root directory', async (t) => {
  const { done, svc } = await deployedLive(t, 'mono', 'mono-api', {
    'render.yaml': 'services:\n  - type: web\n    name: api\n    runtime: node\n    rootDir: apps/api\n    buildCommand: npm ci\n    startCommand: node server.js\n',
    'apps/api/package.json': JSON.stringify({ name: 'api', scripts: { start: 'node server.js' } }),
    'apps/api/server.js': '',
  });
  t.is(svc.rootDir, 'apps/api');
  t.regex(done.stack.reason, /apps\/api/);
});

// The same for a Docker service's build context: a Dockerfile in a subdirectory whose COPY lines are
// relative to that directory builds only with the context render.yaml names.
test('a render.yaml Docker service is created with the dockerContext it declares', async (t) => {
  const { svc } = await deployedLive(t, 'monodock', 'monodock-api', {
    'render.yaml': 'services:\n  - type: web\n    name: api\n    runtime: docker\n    dockerfilePath: ./apps/api/Dockerfile\n    dockerContext: ./apps/api\n',
    'apps/api/Dockerfile': 'FROM node:20\nCOPY package.json .\nCMD ["node", "server.js"]\n',
  });
  t.is(svc.serviceDetails.envSpecificDetails.dockerfilePath, './apps/api/Dockerfile');
  t.is(svc.serviceDetails.envSpecificDetails.dockerContext, './apps/api');
});

// render.yaml's dockerCommand replaces the image's CMD on Render: left out, the service ran the CMD.
test('a render.yaml Docker service is created with the dockerCommand it declares', async (t) => {
  const { svc } = await deployedLive(t, 'dockcmd', 'dockcmd-jobs', {
    'render.yaml': 'services:\n  - type: worker\n    name: jobs\n    runtime: docker\n    dockerCommand: node jobs.js\n',
    Dockerfile: 'FROM node:20\nCOPY . .\nCMD ["node", "server.js"]\n',
  });
  t.is(svc.serviceDetails.envSpecificDetails.dockerCommand, 'node jobs.js');
});

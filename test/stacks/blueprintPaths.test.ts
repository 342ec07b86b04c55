// Paths a render.yaml declares relative to the repository's root (dockerfilePath, dockerContext,
// staticPublishPath) that climbed out of it or were absolute were sent to Render as written: a deploy went
// live with a Docker service built from "../../../etc/passwd" in context "../..", or a static site
// publishing "../../etc". rootDir was already refused for the same thing (blueprint.ts rootDirOf); the
// other three now are too (blueprint.ts inRepo), at detection and so before any Render write.
import test, { type ExecutionContext } from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { renderApi, signedInWithKey, waitFinished } from '../helpers/pipeline.js';
import { detectStack, StackDetectionError, type RepoFiles } from '../../server/stacks/detect.js';

let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

function repo(files: Record<string, string>): RepoFiles {
  const list = Object.keys(files).filter((p) => !p.includes('/')).sort();
  const dirs = [...new Set(Object.keys(files).filter((p) => p.includes('/')).map((p) => p.split('/')[0]!))].sort();
  return { list, dirs, read: async (p) => files[p] ?? null };
}

/** A path that is absolute or has a ".." segment: not a path inside the repository. */
const escapes = (p: string | undefined | null) => typeof p === 'string' && (p.startsWith('/') || p.split('/').includes('..'));

const dockerYaml = (path: string, context: string) =>
  `services:\n  - type: web\n    name: api\n    runtime: docker\n    dockerfilePath: ${path}\n    dockerContext: ${context}\n`;
const staticYaml = (publish: string) =>
  `services:\n  - type: web\n    name: site\n    runtime: static\n    buildCommand: npm run build\n    staticPublishPath: ${publish}\n`;
const rootDirYaml = (dir: string) =>
  `services:\n  - type: web\n    name: api\n    runtime: node\n    rootDir: ${dir}\n    buildCommand: npm ci\n    startCommand: node server.js\n`;

test('detection treats a dockerfilePath/dockerContext/staticPublishPath outside the repository as it treats such a rootDir', async (t) => {
  // The reference: rootDir outside the repository is refused.
  await t.throwsAsync(detectStack(repo({ 'render.yaml': rootDirYaml('../../etc') })), { instanceOf: StackDetectionError });
  for (const [label, yaml] of [
    ['dockerfilePath ../../../etc/passwd', dockerYaml('../../../etc/passwd', '.')],
    ['dockerfilePath /etc/passwd', dockerYaml('/etc/passwd', '.')],
    ['dockerContext ../..', dockerYaml('./Dockerfile', '../..')],
    ['dockerContext /', dockerYaml('./Dockerfile', '/')],
    ['staticPublishPath ../../etc', staticYaml('../../etc')],
    ['staticPublishPath /etc', staticYaml('/etc')],
  ] as const) {
    let found;
    try {
      found = await detectStack(repo({ 'render.yaml': yaml, Dockerfile: 'FROM node:24\n' }));
    } catch (err) {
      t.true(err instanceof StackDetectionError, label);
      continue;
    }
    t.false(escapes(found.dockerfilePath) || escapes(found.dockerContext) || escapes(found.publishPath),
      `${label}: detection proposed ${JSON.stringify({ dockerfilePath: found.dockerfilePath, dockerContext: found.dockerContext, publishPath: found.publishPath })}`);
  }
});

async function deployed(t: ExecutionContext, owner: string, files: Record<string, string>) {
  const { agent, apiKey } = await signedInWithKey(stack, owner);
  stack.github.addRepo({ owner, name: 'repo', branches: { main: files } });
  const res = await agent.post('/api/render/deploy', { github_repo: `${owner}/repo`, project_name: `${owner}-svc`, branch: 'main' });
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id);
  const svc = done.serviceId ? await renderApi(stack, apiKey, 'GET', `/services/${done.serviceId}`) : null;
  return { done, svc };
}

test('a deploy does not create a Render Docker service whose dockerfilePath or dockerContext is outside the repository', async (t) => {
  const { done, svc } = await deployed(t, 'dockesc', { 'render.yaml': dockerYaml('../../../etc/passwd', '../..'), Dockerfile: 'FROM node:24\n' });
  const details = svc?.serviceDetails?.envSpecificDetails ?? {};
  t.false(escapes(details.dockerfilePath) || escapes(details.dockerContext),
    `deployment ${done.status}; Render service created with ${JSON.stringify({ dockerfilePath: details.dockerfilePath, dockerContext: details.dockerContext })}`);
});

test('a deploy does not create a Render static site whose publishPath is outside the repository', async (t) => {
  const { done, svc } = await deployed(t, 'statesc', { 'render.yaml': staticYaml('../../etc'), 'package.json': '{"scripts":{"build":"true"}}' });
  const publish = svc?.serviceDetails?.publishPath;
  t.false(escapes(publish), `deployment ${done.status}; Render static site created with publishPath ${JSON.stringify(publish)}`);
});

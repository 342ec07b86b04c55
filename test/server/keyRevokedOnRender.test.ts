import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, waitFinished } from '../helpers/pipeline.js';

// The connected key revoked on Render while the user is signed in (401 from then on).
let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

async function revokedUser(login: string) {
  const apiKey = `rnd_${login}${'k'.repeat(24)}`;
  stack.render.addAccount({ apiKey, workspaces: [{ name: `${login} ws` }] });
  const agent = stack.agent();
  await stack.signIn(agent, login);
  if ((await agent.post('/api/render/setup', { api_key: apiKey })).status !== 200) throw new Error('setup');
  addNodeRepo(stack, login, 'app');
  const dep = await waitFinished(agent, (await agent.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: `${login}-app` })).json.id);
  if (dep.status !== 'live') throw new Error(dep.status);
  stack.render.revokeKey(apiKey);
  return { agent, dep };
}

test.serial('every page and action that asks Render says the key was rejected, the same way (no 500); a deploy ends saying so; a new key recovers', async (t) => {
  const { agent, dep } = await revokedUser('revall');
  const reads = ['/api/render/services', '/api/render/services/lookup?name=x', '/api/render/services/name-check?name=x',
    `/api/render/services/${dep.serviceId}/settings`, `/api/render/services/${dep.serviceId}/env-vars`, `/api/render/services/${dep.serviceId}/deploys`,
    `/api/render/deployments/${dep.id}/logs`, `/api/render/deployments/${dep.id}/logs.txt`];
  for (const path of reads) {
    const res = await agent.get(path);
    t.is(res.status, 400, `${path}: ${res.text}`);
    t.is(res.json.error.code, 'render_key_invalid', path);
  }
  for (const path of [`/api/render/services/${dep.serviceId}/redeploy`, `/api/render/services/${dep.serviceId}/suspend`]) {
    const res = await agent.post(path);
    t.is(res.json.error.code, 'render_key_invalid', path);
  }
  const deploy = await agent.post('/api/render/deploy', { github_repo: 'revall/app', project_name: 'revall-two' });
  t.is(deploy.status, 202);
  const ended = await waitFinished(agent, deploy.json.id);
  t.is(ended.status, 'credentials_revoked');
  t.is(ended.failure.code, 'render_key_rejected');

  const fresh = 'rnd_revallnewkeykkkkkkkkkkkkkkkkkk';
  stack.render.addAccount({ apiKey: fresh, workspaces: [{ name: 'revall new' }] });
  t.is((await agent.post('/api/render/setup', { api_key: fresh })).status, 200);
  t.is((await agent.get('/api/render/services')).status, 200);
});

import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, QUICK_PHASES } from '../helpers/pipelineStack.js';
import { addNodeRepo, renderApi, renderCalls, signedInWithKey, waitFinished } from '../helpers/pipeline.js';

let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

// Render answered our POST /services with 409: our creation did not happen (the client never retries one,
// and no earlier run of the deployment sent one). The service under the name is somebody else's (made on
// Render's dashboard at the same moment, same repo and branch). Before, it was adopted as a creation of ours
// whose answer was lost: its env value overwritten, its first deploy (their build command) followed as ours
// to live, and "Resumed: service app was created by this deployment" in the timeline (found by a probe).
test('a 409 to our own creation: the service someone made meanwhile (same name, repo, branch) is not adopted', async (t) => {
  const login = 'race409';
  const u = await signedInWithKey(stack, login);
  addNodeRepo(stack, login, 'app');
  const creating = stack.render.holdRequest({ method: 'POST', route: '/services', apiKey: u.apiKey });
  t.teardown(creating.release);
  const res = await u.agent.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: 'app', env_vars: { GREETING: 'ours' } });
  t.is(res.status, 202, res.text);
  await creating.arrived;
  // Meanwhile, on Render's dashboard (another client of the key), the user or a teammate creates "app" by hand.
  const theirs = await renderApi(stack, u.apiKey, 'POST', '/services', {
    type: 'web_service', name: 'app', ownerId: u.ownerId, repo: `https://github.com/${login}/app`, branch: 'main', autoDeploy: 'no',
    envVars: [{ key: 'GREETING', value: 'theirs' }],
    serviceDetails: { runtime: 'node', envSpecificDetails: { buildCommand: 'echo theirs', startCommand: 'node theirs.js' } },
  });
  const theirId = theirs.service.id as string;
  const deploysBefore = (await renderApi(stack, u.apiKey, 'GET', `/services/${theirId}/deploys?limit=20`)).length;
  creating.release();
  const done = await waitFinished(u.agent, res.json.id);
  const env = (await renderApi(stack, u.apiKey, 'GET', `/services/${theirId}/env-vars?limit=100`)).map((e: any) => `${e.envVar.key}=${e.envVar.value}`);
  const deploysAfter = (await renderApi(stack, u.apiKey, 'GET', `/services/${theirId}/deploys?limit=20`)).length;
  const envPuts = renderCalls(stack, u.accountId, 'PUT', '/services/{serviceId}/env-vars/{envVarKey}').length;
  t.not(done.serviceId, theirId, 'the deployment does not take over the hand-made service');
  t.deepEqual(env, ['GREETING=theirs'], 'its env values are untouched');
  t.is(deploysAfter, deploysBefore, 'no deploy was asked of it');
  t.is(envPuts, 0);
  t.is(done.status, 'failed');
  t.is(done.failure.code, 'service_name_taken');
  t.regex(done.failure.message, /already has a service named "app"/);
  t.false(done.timeline.some((e: { note?: string }) => e.note?.includes('created by this deployment')));
});

import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, signedInWithKey, waitFinished, waitStatus, renderApi } from '../helpers/pipeline.js';

// A cancel whose Render read meets a 404 ends the deployment `service_deleted` once Render says the service is
// gone (03194cc). Only the deployment's own key can say so: a session of the same user holding another
// workspace's key got Render's 404 for a service that still runs, and the cancel ended every unfinished
// deployment of it, marked them all deleted and posted a failure status (found by a review).
let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES }, worker: { watch: { initialMs: 3_000, factor: 1.2, maxDelayMs: 15_000 } } }, (p) => ({ stack } = p));

test('a cancel sent from a session holding another workspace\'s key does not declare an existing service deleted', async (t) => {
  const login = 'pf-twokeys';
  const a = await signedInWithKey(stack, login);
  addNodeRepo(stack, login, 'kept');
  const first = await waitFinished(a.agent, (await a.agent.post('/api/render/deploy', { github_repo: `${login}/kept`, project_name: 'kept' })).json.id);
  t.is(first.status, 'live');
  const release = stack.render.holdPhase({ serviceName: 'kept' }, 'build_in_progress');
  t.teardown(release);
  const again = await a.agent.post(`/api/render/services/${first.serviceId}/redeploy`, {});
  t.is(again.status, 202, again.text);
  const building = await waitStatus(a.agent, again.json.id, 'build_in_progress');

  // The same GitHub user, another browser, a key of another workspace.
  const otherKey = 'rnd_pfotherworkspace' + 'k'.repeat(24);
  stack.render.addAccount({ apiKey: otherKey, workspaces: [{ name: 'other workspace' }] });
  const b = stack.agent();
  await stack.signIn(b, login);
  const setup = await b.post('/api/render/setup', { api_key: otherKey });
  t.is(setup.status, 200, setup.text);

  // Render's 404 for this key: the same answer as before the service-deleted path (the deploy is not this key's to see).
  const cancel = await b.post(`/api/render/deployments/${building.id}/cancel`);
  t.is(cancel.status, 404, cancel.text);

  // The service is still there on Render.
  const svc = await renderApi(stack, a.apiKey, 'GET', `/services/${first.serviceId}`);
  t.is(svc.id, first.serviceId);
  const after = (await a.agent.get(`/api/render/deployments/${building.id}`)).json;
  t.not(after.failure?.code, 'service_deleted', 'a service that exists was declared deleted: ' + JSON.stringify(after.failure));
  t.falsy((await a.agent.get(`/api/render/deployments/${first.id}`)).json.serviceDeleted, 'the live deployment now says its service was deleted');
});

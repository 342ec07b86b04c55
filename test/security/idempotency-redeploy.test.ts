import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import type { Agent } from '../helpers/agent.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, liveService, renderCalls, waitFinished } from '../helpers/pipeline.js';

// Redeploy and rollback of a service took no Idempotency-Key: a client whose answer was lost (a dropped
// connection, a proxy's timeout) and asked again started a second deploy on Render. They take it as
// POST /api/render/deploy does: the same key from the same user answers with the same deployment and
// starts nothing; the same key with another request is refused and changes nothing; keys are per user.
let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

const triggers = (accountId: string, serviceId: string, route: 'deploys' | 'rollback') =>
  renderCalls(stack, accountId, 'POST', `/services/{serviceId}/${route}`).filter((c) => c.path.includes(serviceId)).length;
const myDeployments = async (agent: Agent): Promise<string[]> => (await agent.get('/api/render/my-deployments?limit=100')).json.deployments.map((d: { id: string }) => d.id);
const audited = async (agent: Agent, action: string): Promise<number> =>
  (await agent.get('/api/audit?limit=100')).json.entries.filter((e: { detail: { lifecycleAction?: string } }) => e.detail.lifecycleAction === action).length;

test('redeploy: the same Idempotency-Key twice is one deployment and one deploy on Render; another request with it is refused and changes nothing', async (t) => {
  const u = await liveService(stack, 'idemredeploy');
  const headers = { 'idempotency-key': 'redeploy-click-1' };
  const path = `/api/render/services/${u.serviceId}/redeploy`;

  const first = await u.agent.post(path, undefined, { headers });
  t.is(first.status, 202, first.text);
  t.is(first.headers.get('idempotent-replayed'), null);
  // The answer was lost; the client asks again with the same key, before and after the deploy ends.
  const again = await u.agent.post(path, undefined, { headers });
  t.is(again.status, 202, again.text);
  t.is(again.headers.get('idempotent-replayed'), 'true');
  t.is(again.json.id, first.json.id, 'the same deployment');
  const done = await waitFinished(u.agent, first.json.id);
  t.is(done.status, 'live');
  const later = await u.agent.post(path, undefined, { headers });
  t.is(later.json.id, first.json.id);
  t.is(triggers(u.accountId, u.serviceId, 'deploys'), 1, 'one deploy on Render');
  const made = await myDeployments(u.agent);
  t.is(made.length, 2, 'the first deploy and one redeploy');
  t.is(await audited(u.agent, 'redeploy'), 1, 'one redeploy in the audit trail');
  // The entry leads to the deployment it started (it named the service only).
  const entry = (await u.agent.get('/api/audit?limit=100')).json.entries.find((e: { detail: { lifecycleAction?: string } }) => e.detail.lifecycleAction === 'redeploy');
  t.like(entry.detail, { serviceId: u.serviceId, deploymentId: first.json.id });

  // The same key for another request: a rollback (to the deploy the redeploy replaced), a clear-cache
  // redeploy, a redeploy of another service of theirs. Refused, nothing started.
  const rollback = await u.agent.post(`/api/render/services/${u.serviceId}/rollback`, { deploy_id: u.firstDeployId }, { headers });
  t.is(rollback.status, 409, rollback.text);
  t.is(rollback.json.error.code, 'idempotency_key_reused');
  const clearCache = await u.agent.post(`/api/render/services/${u.serviceId}/deploys`, { clear_cache: true }, { headers });
  t.is(clearCache.status, 409, clearCache.text);
  t.is(clearCache.json.error.code, 'idempotency_key_reused');
  addNodeRepo(stack, 'idemredeploy', 'other');
  const other = await waitFinished(u.agent, (await u.agent.post('/api/render/deploy', { github_repo: 'idemredeploy/other', project_name: 'other' })).json.id);
  t.is(other.status, 'live');
  const otherService = await u.agent.post(`/api/render/services/${other.serviceId}/redeploy`, undefined, { headers });
  t.is(otherService.status, 409, otherService.text);
  t.is(otherService.json.error.code, 'idempotency_key_reused');
  t.deepEqual(await myDeployments(u.agent), [other.id, ...made], 'no deployment but the other service\'s own deploy');
  t.is(triggers(u.accountId, u.serviceId, 'deploys'), 1);
  t.is(triggers(u.accountId, u.serviceId, 'rollback'), 0);
  t.is(triggers(u.accountId, other.serviceId, 'deploys'), 0);
  t.is(await audited(u.agent, 'redeploy'), 1);

  // A malformed key is refused before anything is done.
  const bad = await u.agent.post(path, undefined, { headers: { 'idempotency-key': 'has space' } });
  t.is(bad.status, 400);
  t.is(bad.json.error.code, 'validation_failed');
  t.is((await myDeployments(u.agent)).length, 3);
});

test('rollback: the same Idempotency-Key twice is one deployment and one rollback on Render; a rollback to another deploy with it is refused', async (t) => {
  const u = await liveService(stack, 'idemrollback');
  // A redeploy replaces the first deploy, which can then be rolled back to.
  const redeployed = await waitFinished(u.agent, (await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`)).json.id);
  t.is(redeployed.status, 'live');
  const headers = { 'idempotency-key': 'rollback-click-1' };
  const path = `/api/render/services/${u.serviceId}/rollback`;

  const first = await u.agent.post(path, { deploy_id: u.firstDeployId }, { headers });
  t.is(first.status, 202, first.text);
  const again = await u.agent.post(path, { deploy_id: u.firstDeployId }, { headers });
  t.is(again.status, 202, again.text);
  t.is(again.headers.get('idempotent-replayed'), 'true');
  t.is(again.json.id, first.json.id, 'the same deployment');
  t.is((await waitFinished(u.agent, first.json.id)).status, 'live');
  t.is(triggers(u.accountId, u.serviceId, 'rollback'), 1, 'one rollback on Render');
  const made = await myDeployments(u.agent);
  t.is(made.length, 3, 'deploy, redeploy and one rollback');
  t.is(await audited(u.agent, 'rollback'), 1);
  const entry = (await u.agent.get('/api/audit?limit=100')).json.entries.find((e: { detail: { lifecycleAction?: string } }) => e.detail.lifecycleAction === 'rollback');
  t.like(entry.detail, { serviceId: u.serviceId, deploymentId: first.json.id });

  // The rollback replaced the redeploy's deploy: rolling back to that one is another request.
  const otherTarget = await u.agent.post(path, { deploy_id: redeployed.deployId }, { headers });
  t.is(otherTarget.status, 409, otherTarget.text);
  t.is(otherTarget.json.error.code, 'idempotency_key_reused');
  const redeploy = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`, undefined, { headers });
  t.is(redeploy.status, 409, redeploy.text);
  t.is(redeploy.json.error.code, 'idempotency_key_reused');
  t.deepEqual(await myDeployments(u.agent), made, 'nothing new');
  t.is(triggers(u.accountId, u.serviceId, 'rollback'), 1);
  t.is(triggers(u.accountId, u.serviceId, 'deploys'), 1, 'only the redeploy before');
});

test('keys are per user: bob reusing alice\'s key redeploys his own service, and alice\'s service stays hers', async (t) => {
  const alice = await liveService(stack, 'idemalice');
  const bob = await liveService(stack, 'idembob');
  const headers = { 'idempotency-key': 'shared-key-1' };
  const alices = await alice.agent.post(`/api/render/services/${alice.serviceId}/redeploy`, undefined, { headers });
  t.is(alices.status, 202, alices.text);

  const bobs = await bob.agent.post(`/api/render/services/${bob.serviceId}/redeploy`, undefined, { headers });
  t.is(bobs.status, 202, bobs.text);
  t.is(bobs.headers.get('idempotent-replayed'), null, 'a deployment of his own');
  t.not(bobs.json.id, alices.json.id);
  t.is(bobs.json.serviceId, bob.serviceId);
  t.is((await bob.agent.get(`/api/render/deployments/${alices.json.id}`)).status, 404, 'alice\'s deployment stays hers');
  // Each one's retry answers with their own deployment.
  const alicesAgain = await alice.agent.post(`/api/render/services/${alice.serviceId}/redeploy`, undefined, { headers });
  t.is(alicesAgain.headers.get('idempotent-replayed'), 'true');
  t.is(alicesAgain.json.id, alices.json.id);
  const bobsAgain = await bob.agent.post(`/api/render/services/${bob.serviceId}/redeploy`, undefined, { headers });
  t.is(bobsAgain.headers.get('idempotent-replayed'), 'true');
  t.is(bobsAgain.json.id, bobs.json.id);
  // Her service with her key from him: not found, as without a key.
  const hers = await bob.agent.post(`/api/render/services/${alice.serviceId}/redeploy`, undefined, { headers });
  t.is(hers.status, 404);
  await Promise.all([waitFinished(alice.agent, alices.json.id), waitFinished(bob.agent, bobs.json.id)]);
  t.is(triggers(alice.accountId, alice.serviceId, 'deploys'), 1);
  t.is(triggers(bob.accountId, bob.serviceId, 'deploys'), 1);
  t.is(triggers(bob.accountId, alice.serviceId, 'deploys'), 0);
  t.is((await myDeployments(alice.agent)).length, 2);
  t.is((await myDeployments(bob.agent)).length, 2);
});

// The service was read on Render before the key's replay was looked up: a client whose answer was lost
// and that asked again after the service was deleted (by the deploy it made failing, another tab, its
// dashboard) got a 404 and never learnt of the deployment it started. The key is looked up first now
// (requests.ts replayedServiceDeploy); anything but the same user's same request goes on as before.
const serviceReads = (accountId: string, serviceId: string) =>
  renderCalls(stack, accountId, 'GET', '/services/{serviceId}').filter((c) => c.path.endsWith(serviceId)).length;

test('after the service was deleted, a redeploy, a clear-cache redeploy and a rollback asked again with their keys answer the deployments they made, reading nothing on Render', async (t) => {
  const u = await liveService(stack, 'idemgone');
  const redeployed = await waitFinished(u.agent, (await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`)).json.id);
  t.is(redeployed.status, 'live');
  const asks = [
    { path: `/api/render/services/${u.serviceId}/redeploy`, body: undefined, key: 'gone-redeploy-1' },
    { path: `/api/render/services/${u.serviceId}/deploys`, body: { clear_cache: true }, key: 'gone-clear-1' },
    { path: `/api/render/services/${u.serviceId}/rollback`, body: { deploy_id: u.firstDeployId }, key: 'gone-rollback-1' },
  ];
  const made: string[] = [];
  for (const ask of asks) {
    const res = await u.agent.post(ask.path, ask.body, { headers: { 'idempotency-key': ask.key } });
    t.is(res.status, 202, `${ask.path} ${res.text}`);
    made.push(res.json.id);
  }
  t.is((await u.agent.delete(`/api/render/services/${u.serviceId}`)).status, 204);
  const reads = serviceReads(u.accountId, u.serviceId);

  for (const [i, ask] of asks.entries()) {
    const again = await u.agent.post(ask.path, ask.body, { headers: { 'idempotency-key': ask.key } });
    t.is(again.status, 202, `${ask.path} ${again.text}`);
    t.is(again.headers.get('idempotent-replayed'), 'true');
    t.is(again.json.id, made[i], 'the deployment the first ask made');
    t.is(again.headers.get('location'), `/api/render/deployments/${made[i]}`);
  }
  t.is(serviceReads(u.accountId, u.serviceId), reads, 'no read of the service on Render for a replay');

  // Not the same request (another target, the key's other kind): as before, the service's 404.
  const otherTarget = await u.agent.post(`/api/render/services/${u.serviceId}/rollback`, { deploy_id: redeployed.deployId }, { headers: { 'idempotency-key': 'gone-rollback-1' } });
  t.is(otherTarget.status, 404, otherTarget.text);
  const otherKind = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`, undefined, { headers: { 'idempotency-key': 'gone-rollback-1' } });
  t.is(otherKind.status, 404, otherKind.text);
  const noKey = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`);
  t.is(noKey.status, 404, noKey.text);
  t.is((await myDeployments(u.agent)).length, 5, 'nothing new');
});

test('after the service was deleted, another user asking with the same key and service id gets nothing of the first user\'s', async (t) => {
  const alice = await liveService(stack, 'idemgonealice');
  const bob = await liveService(stack, 'idemgonebob');
  const headers = { 'idempotency-key': 'gone-shared-1' };
  const hers = await alice.agent.post(`/api/render/services/${alice.serviceId}/redeploy`, undefined, { headers });
  t.is(hers.status, 202, hers.text);
  t.is((await alice.agent.delete(`/api/render/services/${alice.serviceId}`)).status, 204);

  const his = await bob.agent.post(`/api/render/services/${alice.serviceId}/redeploy`, undefined, { headers });
  t.is(his.status, 404, his.text);
  t.false(his.text.includes(hers.json.id));
  t.is((await alice.agent.post(`/api/render/services/${alice.serviceId}/redeploy`, undefined, { headers })).json.id, hers.json.id);
});

import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, renderApi, renderCalls, signedInWithKey, waitFinished, waitStatus } from '../helpers/pipeline.js';

// Another Render key in the session (another account, another workspace, another device's key): nothing made
// with the first key is acted on with the second, and each deploy runs with the key of the session that asked.
let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

// A user deploys repo X with key A, then connects key B of another Render account and acts on
// what the first deploy made (redeploy, rollback, settings, logs) and deploys X again.
test.serial('key A → key B (another account): the first deploy\'s service is never acted on with B, B\'s deploy of X is its own, back to A all is as it was', async (t) => {
  t.timeout(60_000);
  const login = 'ksw-second';
  const a = await signedInWithKey(stack, login);
  addNodeRepo(stack, login, 'x');
  const first = await waitFinished(a.agent, (await a.agent.post('/api/render/deploy', { github_repo: `${login}/x`, project_name: 'x', env_vars: [{ key: 'WHO', value: 'a-secret-value-123' }] })).json.id);
  t.is(first.status, 'live');
  const second = await waitFinished(a.agent, (await a.agent.post(`/api/render/services/${first.serviceId}/redeploy`, {})).json.id);
  t.is(second.status, 'live');
  // One more in flight, held building, when the key changes.
  const release = stack.render.holdPhase({ serviceId: first.serviceId }, 'build_in_progress');
  t.teardown(release);
  const third = await a.agent.post(`/api/render/services/${first.serviceId}/redeploy`, {});
  t.is(third.status, 202);
  await waitStatus(a.agent, third.json.id, 'build_in_progress');

  const keyB = 'rnd_kswsecondotheracctkkkkkkkkkk';
  const b = stack.render.addAccount({ apiKey: keyB, workspaces: [{ name: 'B ws' }] });
  const setup = await a.agent.post('/api/render/setup', { api_key: keyB });
  t.is(setup.status, 200, setup.text);
  const inFlight = (await a.agent.get(`/api/render/deployments/${third.json.id}`)).json;
  t.log('in flight after B:', inFlight.status, inFlight.failure);
  t.is(inFlight.status, 'credentials_revoked');
  release();

  const bWritesBefore = stack.render.calls.filter((c) => c.accountId === b.id).length;
  const svcList = await a.agent.get('/api/render/services');
  t.log('services under B:', svcList.status, JSON.stringify(svcList.json));
  t.deepEqual(svcList.json.services, []);
  const mine = await a.agent.get('/api/render/my-deployments');
  t.log('my deployments:', mine.json.deployments.map((d: any) => `${d.id} ${d.status} ${d.serviceId} ${d.request?.ownerId} deleted=${d.serviceDeleted}`));

  const redeploy = await a.agent.post(`/api/render/services/${first.serviceId}/redeploy`, {});
  t.log('redeploy with B:', redeploy.status, redeploy.text);
  t.is(redeploy.status, 404);
  const rollback = await a.agent.post(`/api/render/services/${first.serviceId}/rollback`, { deploy_id: first.deployId });
  t.log('rollback with B:', rollback.status, rollback.text);
  t.is(rollback.status, 404);
  const settings = await a.agent.get(`/api/render/services/${first.serviceId}/env-vars`);
  t.log('settings with B:', settings.status, settings.text);
  t.is(settings.status, 404);
  const logs = await a.agent.get(`/api/render/deployments/${first.id}/logs`);
  t.is(logs.status, 404);
  t.regex(logs.json.error.message, /made with another Render key.*Connect the key it was made with/, 'an API client is told why, and what to do');
  const cancel = await a.agent.post(`/api/render/deployments/${third.json.id}/cancel`);
  t.log('cancel of the revoked one:', cancel.status, cancel.text);
  for (const id of [first.id, second.id, third.json.id]) {
    const rec = (await a.agent.get(`/api/render/deployments/${id}`)).json;
    t.log(id, rec.status, rec.serviceDeleted, rec.failure?.code);
    t.falsy(rec.serviceDeleted, `${id} now says its service was deleted`);
  }
  t.is(stack.render.calls.filter((c) => c.accountId === b.id && c.method !== 'GET').length, 0, 'no write with B');

  // X again with B: a new service in B.
  const again = await waitFinished(a.agent, (await a.agent.post('/api/render/deploy', { github_repo: `${login}/x`, project_name: 'x' })).json.id);
  t.log('X again with B:', again.status, again.failure, again.serviceId);
  t.is(again.status, 'live');
  t.not(again.serviceId, first.serviceId);
  t.is(again.request.ownerId, b.ownerId);
  const envB = await renderApi(stack, keyB, 'GET', `/services/${again.serviceId}/env-vars`);
  t.deepEqual(envB, [], 'nothing of A\'s env carried over');
  t.log('B calls:', stack.render.calls.filter((c) => c.accountId === b.id).slice(bWritesBefore - 0).map((c) => `${c.method} ${c.route} ${c.status}`));

  // Back to A.
  t.is((await a.agent.post('/api/render/setup', { api_key: a.apiKey })).status, 200);
  const listA = await a.agent.get('/api/render/services');
  t.deepEqual(listA.json.services.map((s: any) => s.id), [first.serviceId]);
  for (const id of [first.id, second.id]) {
    const rec = (await a.agent.get(`/api/render/deployments/${id}`)).json;
    t.log('back on A', id, rec.status, rec.serviceDeleted);
    t.falsy(rec.serviceDeleted);
  }
  const againRec = (await a.agent.get(`/api/render/deployments/${again.id}`)).json;
  t.log('B deploy seen back on A', againRec.status, againRec.serviceDeleted);
  t.falsy(againRec.serviceDeleted);
  const redeployA = await a.agent.post(`/api/render/services/${first.serviceId}/redeploy`, {});
  t.is(redeployA.status, 202, redeployA.text);
  const redeployed = await waitFinished(a.agent, redeployA.json.id);
  t.is(redeployed.status, 'live', JSON.stringify(redeployed.failure));
  // After the last redeploy, the first deploys are deactivated, B's is still live (another account).
  await a.agent.get('/api/render/services');
  const bAfter = (await a.agent.get(`/api/render/deployments/${again.id}`)).json;
  t.is(bAfter.status, 'live');
});

// One user, two devices (sessions), keys of two Render accounts at once; and one device replacing
// a key both held while each has a deploy in flight.
test.serial('laptop on key A, phone on key B, both deploy repo X under the same name at once: each in its own account, with its own key', async (t) => {
  const login = 'ksw-dev';
  const laptop = await signedInWithKey(stack, login);
  addNodeRepo(stack, login, 'x');
  const keyB = 'rnd_kswdevphoneaccountkkkkkkkkkk';
  const accB = stack.render.addAccount({ apiKey: keyB, workspaces: [{ name: 'phone ws' }] });
  const phone = stack.agent();
  await stack.signIn(phone, login);
  t.is((await phone.post('/api/render/setup', { api_key: keyB })).status, 200);

  const [ra, rb] = await Promise.all([
    laptop.agent.post('/api/render/deploy', { github_repo: `${login}/x`, project_name: 'x' }),
    phone.post('/api/render/deploy', { github_repo: `${login}/x`, project_name: 'x' }),
  ]);
  t.is(ra.status, 202, ra.text);
  t.is(rb.status, 202, rb.text);
  const [da, db] = await Promise.all([waitFinished(laptop.agent, ra.json.id), waitFinished(phone, rb.json.id)]);
  t.is(da.status, 'live', JSON.stringify(da.failure));
  t.is(db.status, 'live', JSON.stringify(db.failure));
  t.is(da.request.ownerId, laptop.ownerId);
  t.is(db.request.ownerId, accB.ownerId);
  t.is(renderCalls(stack, laptop.accountId, 'POST', '/services').length, 1);
  t.is(renderCalls(stack, accB.id, 'POST', '/services').length, 1);
  // Each device's service list is its own key's.
  t.deepEqual((await laptop.agent.get('/api/render/services')).json.services.map((s: any) => s.id), [da.serviceId]);
  t.deepEqual((await phone.get('/api/render/services')).json.services.map((s: any) => s.id), [db.serviceId]);
  // Redeploy of the other device's service from each: 404, and nothing marked deleted.
  t.is((await phone.post(`/api/render/services/${da.serviceId}/redeploy`, {})).status, 404);
  t.is((await laptop.agent.post(`/api/render/services/${db.serviceId}/redeploy`, {})).status, 404);
  await laptop.agent.get('/api/render/services');
  await phone.get('/api/render/services');
  t.falsy((await phone.get(`/api/render/deployments/${da.id}`)).json.serviceDeleted);
  t.falsy((await laptop.agent.get(`/api/render/deployments/${db.id}`)).json.serviceDeleted);
  t.is((await laptop.agent.get(`/api/render/deployments/${da.id}`)).json.status, 'live');
  t.is((await phone.get(`/api/render/deployments/${db.id}`)).json.status, 'live');
});

test.serial('laptop and phone both on key A, each with a deploy building; the phone connects key B: only the phone\'s stops, the laptop\'s goes live with A', async (t) => {
  const login = 'ksw-dev2';
  const laptop = await signedInWithKey(stack, login);
  addNodeRepo(stack, login, 'l');
  addNodeRepo(stack, login, 'p');
  const phone = stack.agent();
  await stack.signIn(phone, login);
  t.is((await phone.post('/api/render/setup', { api_key: laptop.apiKey })).status, 200);
  const relL = stack.render.holdPhase({ serviceName: 'l' }, 'build_in_progress');
  const relP = stack.render.holdPhase({ serviceName: 'p' }, 'build_in_progress');
  t.teardown(relL); t.teardown(relP);
  const l = (await laptop.agent.post('/api/render/deploy', { github_repo: `${login}/l`, project_name: 'l' })).json.id;
  const p = (await phone.post('/api/render/deploy', { github_repo: `${login}/p`, project_name: 'p' })).json.id;
  await waitStatus(laptop.agent, l, 'build_in_progress');
  await waitStatus(phone, p, 'build_in_progress');
  const keyB = 'rnd_kswdev2phoneaccountkkkkkkkkk';
  stack.render.addAccount({ apiKey: keyB, workspaces: [{ name: 'phone ws2' }] });
  t.is((await phone.post('/api/render/setup', { api_key: keyB })).status, 200);
  const pRec = (await phone.get(`/api/render/deployments/${p}`)).json;
  t.is(pRec.status, 'credentials_revoked');
  relL(); relP();
  const lDone = await waitFinished(laptop.agent, l);
  t.is(lDone.status, 'live', JSON.stringify(lDone.failure));
});

// Key A sees workspace W1; key B is scoped to another workspace W2 of an account that is also a member
// of W1 (Render answers 403, not 404, for W1's services with B). What the first deploy's service answers with B.
test('a key scoped to another workspace: the first deploy\'s service is refused with B, never marked deleted, and still usable back on A', async (t) => {
  const login = 'ksw-scoped';
  const a = await signedInWithKey(stack, login);
  addNodeRepo(stack, login, 'x');
  const first = await waitFinished(a.agent, (await a.agent.post('/api/render/deploy', { github_repo: `${login}/x`, project_name: 'x' })).json.id);
  t.is(first.status, 'live');
  const keyB = 'rnd_kswscopedkeyotherwskkkkkkkkk';
  const b = stack.render.addAccount({ apiKey: keyB, scoped: true, workspaces: [{ name: 'W2' }, { id: a.ownerId, name: 'W1' }] });
  const setup = await a.agent.post('/api/render/setup', { api_key: keyB });
  t.is(setup.status, 200, setup.text);
  t.deepEqual(setup.json.owners.map((o: any) => o.id), [b.ownerId]);
  for (const [what, res] of [
    ['redeploy', await a.agent.post(`/api/render/services/${first.serviceId}/redeploy`, {})],
    ['rollback', await a.agent.post(`/api/render/services/${first.serviceId}/rollback`, { deploy_id: first.deployId })],
    ['suspend', await a.agent.post(`/api/render/services/${first.serviceId}/suspend`)],
    ['env', await a.agent.get(`/api/render/services/${first.serviceId}/env-vars`)],
    ['logs', await a.agent.get(`/api/render/deployments/${first.id}/logs`)],
  ] as const) {
    t.log(what, res.status, res.text.slice(0, 200));
    t.true(res.status === 403 || res.status === 404, `${what}: ${res.status}`);
    if (what === 'logs') t.regex(res.json.error.message, /made with another Render key.*Connect the key it was made with/, 'the logs\' refusal says why, and what to do');
  }
  await a.agent.get('/api/render/services');
  t.falsy((await a.agent.get(`/api/render/deployments/${first.id}`)).json.serviceDeleted);
  t.is((await a.agent.post('/api/render/setup', { api_key: a.apiKey })).status, 200);
  const again = await a.agent.post(`/api/render/services/${first.serviceId}/redeploy`, {});
  t.is(again.status, 202, again.text);
  t.is((await waitFinished(a.agent, again.json.id)).status, 'live');
});

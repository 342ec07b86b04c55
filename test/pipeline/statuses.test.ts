import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, signedInWithKey, waitFinished, waitStatus } from '../helpers/pipeline.js';
import { presentService } from '../../server/presenters/service.js';
import type { Service } from '../../server/render/types.js';
import { startWebBehindHold } from '../helpers/redisHold.js';

// Issue 12 part 3: deployment and service statuses as Render has them, through the real web process,
// a real worker, Redis and the Render simulator.

let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: { created: 20, build_in_progress: 150, pre_deploy_in_progress: 20, update_in_progress: 40 } } }, (p) => ({ stack } = p));

const sim = (apiKey: string) => ({
  get: async (path: string) => (await fetch(`${stack.render.url}${path}`, { headers: { authorization: `Bearer ${apiKey}` } })).json() as Promise<any>,
  send: (method: string, path: string, body?: unknown) => fetch(`${stack.render.url}${path}`, {
    method, headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
  }),
});

async function deployNew(agent: any, repo: string, name: string) {
  const res = await agent.post('/api/render/deploy', { github_repo: repo, project_name: name });
  if (res.status !== 202) throw new Error(res.text);
  return waitFinished(agent, res.json.id);
}

test('a newer deploy going live deactivates the older one, which says what replaced it', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'stat-a');
  addNodeRepo(stack, 'stat-a', 'shop');
  const first = await deployNew(agent, 'stat-a/shop', 'shop');
  t.is(first.status, 'live');
  t.is(first.replacedBy, null);

  const second = await waitFinished(agent, (await agent.post(`/api/render/services/${first.serviceId}/redeploy`)).json.id);
  t.is(second.status, 'live');
  const older = (await agent.get(`/api/render/deployments/${first.id}`)).json;
  t.is(older.status, 'deactivated', 'the first deploy is no longer live');
  t.true(older.finished);
  t.like(older.replacedBy, { deploymentId: second.id, deployId: second.deployId });
  t.is(older.failure, null, 'replaced is not a failure');
  t.is(older.timeline.at(-1).status, 'deactivated');
  const list = (await agent.get('/api/render/my-deployments')).json.deployments;
  t.deepEqual(list.map((d: any) => d.status), ['live', 'deactivated']);

  // Render agrees.
  const onRender = await sim(apiKey).get(`/services/${first.serviceId}/deploys/${first.deployId}`);
  t.is(onRender.status, 'deactivated');
});

test('a deploy made outside the app (a push, the Render dashboard) also deactivates our live record', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'stat-b');
  addNodeRepo(stack, 'stat-b', 'blog');
  const first = await deployNew(agent, 'stat-b/blog', 'blog');
  t.is(first.status, 'live');
  const outside = await (await sim(apiKey).send('POST', `/services/${first.serviceId}/deploys`, {})).json() as { id: string };
  for (let i = 0; i < 200 && (await sim(apiKey).get(`/services/${first.serviceId}/deploys/${outside.id}`)).status !== 'live'; i++) await new Promise((r) => setTimeout(r, 25));

  const services = await agent.get('/api/render/services');
  t.is(services.status, 200, services.text);
  const card = services.json.services.find((s: any) => s.id === first.serviceId);
  t.is(card.state, 'live');
  t.is(card.latestDeploy.id, outside.id);
  const older = (await agent.get(`/api/render/deployments/${first.id}`)).json;
  t.is(older.status, 'deactivated');
  t.like(older.replacedBy, { deploymentId: null, deployId: outside.id });
});

// The service list read Render's newest deploy of the service (ours, live), and before it brought the
// records in line, a redeploy of it went live: the list took the new live record for one Render had since
// replaced with the deploy it had read, and marked the deployment that is live "replaced" by an older one.
test('a redeploy going live while a service list is being read stays live; the list after it leaves it so', async (t) => {
  const { agent } = await signedInWithKey(stack, 'stat-r');
  addNodeRepo(stack, 'stat-r', 'racer');
  const first = await deployNew(agent, 'stat-r/racer', 'racer');
  t.is(first.status, 'live');
  // A second web process (behind the same load balancer) that stops at the list's record read.
  const slow = await startWebBehindHold(stack.config);
  t.teardown(() => slow.close());
  slow.hold.holdAt(`:service:${first.serviceId}`);
  const listing = agent.get(`${slow.url}/api/render/services`, { headers: { cookie: agent.cookieHeader() } });
  await slow.hold.held(30_000);

  const second = await waitFinished(agent, (await agent.post(`/api/render/services/${first.serviceId}/redeploy`)).json.id);
  t.is(second.status, 'live');
  slow.hold.release();
  t.is((await listing).status, 200);
  const after = (await agent.get(`/api/render/deployments/${second.id}`)).json;
  t.is(after.status, 'live', JSON.stringify(after.replacedBy));
  t.is(after.replacedBy, null);
  t.is((await agent.get(`/api/render/deployments/${first.id}`)).json.status, 'deactivated');
  // A list asked after it went live reads it as Render's newest: still live.
  const card = (await agent.get('/api/render/services')).json.services.find((s: any) => s.id === first.serviceId);
  t.is(card.latestDeploy.id, second.deployId);
  t.is((await agent.get(`/api/render/deployments/${second.id}`)).json.status, 'live');
});

// The worker's check that the 404 means a deletion (GET /services/{id}, then GET /owners) met a failure of its
// own: the deployment ended "Render refused the request: not found: …" (render_not_found), the 404 kept as it
// was, for a service that was deleted; a 429 or the budget on the check did the same. Now the check's failure
// is the run's: retried or waited out, and the next run ends it as the check says.
for (const [what, fault] of [
  ['GET /owners answers 503', { method: 'GET', route: '/owners', kind: 'status', status: 503, count: 1 }],
  ['GET /services/{id} answers 429', { method: 'GET', route: '/services/{serviceId}', kind: 'status', status: 429, ms: 500, count: 1 }],
] as const) {
  test(`a service deleted on Render while a redeploy builds, and the worker's check of that 404 fails once (${what}): still service_deleted, not render_not_found`, async (t) => {
    const login = `stat-chk-${fault.status}`;
    const { agent, apiKey } = await signedInWithKey(stack, login);
    addNodeRepo(stack, login, 'doomed');
    const first = await deployNew(agent, `${login}/doomed`, `${login}-doomed`);
    t.is(first.status, 'live', JSON.stringify(first.failure));
    const release = stack.render.holdPhase({ serviceName: `${login}-doomed` }, 'build_in_progress');
    t.teardown(release);
    const again = await agent.post(`/api/render/services/${first.serviceId}/redeploy`);
    t.is(again.status, 202, again.text);
    await waitStatus(agent, again.json.id, 'build_in_progress');
    stack.render.setFault({ ...fault, apiKey });
    t.is((await sim(apiKey).send('DELETE', `/services/${first.serviceId}`)).status, 204);
    release();
    const failed = await waitFinished(agent, again.json.id);
    t.is(failed.failure?.code, 'service_deleted', JSON.stringify(failed.failure));
    t.true(failed.serviceDeleted);
    t.true(stack.render.calls.some((c) => c.route === fault.route && c.status === fault.status), 'the check met the fault');
  });
}

test('service cards show the latest deploy\'s outcome: failed, live, suspended and never deployed are distinct', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'stat-c');
  addNodeRepo(stack, 'stat-c', 'good');
  addNodeRepo(stack, 'stat-c', 'broken');
  addNodeRepo(stack, 'stat-c', 'sleepy');
  stack.render.failBuilds({ serviceName: 'broken' }, 'build_failed');
  const [good, broken, sleepy] = await Promise.all([deployNew(agent, 'stat-c/good', 'good'), deployNew(agent, 'stat-c/broken', 'broken'), deployNew(agent, 'stat-c/sleepy', 'sleepy')]);
  t.is(good.status, 'live');
  t.is(broken.status, 'build_failed');
  t.is((await agent.post(`/api/render/services/${sleepy.serviceId}/suspend`)).json.service.state, 'suspended');

  const res = await agent.get('/api/render/services');
  const byName = Object.fromEntries(res.json.services.map((s: any) => [s.name, s]));
  t.is(byName.good.state, 'live');
  t.is(byName.broken.state, 'deploy_failed', 'a broken build is not "Active"');
  t.is(byName.broken.latestDeploy.status, 'build_failed');
  t.is(byName.broken.latestDeploy.id, broken.deployId);
  t.is(byName.sleepy.state, 'suspended');
  t.regex(byName.good.latestDeploy.commitId, /^[0-9a-f]{7,40}$/);
  t.false(res.text.includes(apiKey));

  // Never deployed (Render has no deploy for it) is its own state; the presenter decides it from Render's answer.
  const svc = (await sim(apiKey).get(`/services/${good.serviceId}`)) as Service;
  t.is(presentService(svc, null).state, 'not_deployed');
  t.is(presentService({ ...svc, suspended: 'suspended' }, null).state, 'suspended');
  t.is(presentService(svc, { id: 'dep-x', status: 'build_in_progress' }).state, 'deploying');
});

test('deployments of a deleted service say so, whether it was deleted here or on Render', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'stat-d');
  for (const name of ['here', 'there', 'gone']) addNodeRepo(stack, 'stat-d', name);
  const [here, there, gone] = await Promise.all(['here', 'there', 'gone'].map((n) => deployNew(agent, `stat-d/${n}`, n)));
  for (const d of [here, there, gone]) t.is(d.serviceDeleted, false);

  // Deleted through the app.
  t.is((await agent.delete(`/api/render/services/${here.serviceId}`)).status, 204);
  t.true((await agent.get(`/api/render/deployments/${here.id}`)).json.serviceDeleted);

  // Deleted on Render's side: the next service list reconciles the records.
  t.is((await sim(apiKey).send('DELETE', `/services/${there.serviceId}`)).status, 204);
  const services = await agent.get('/api/render/services');
  t.false(services.json.services.some((s: any) => s.id === there.serviceId));
  const thereAfter = (await agent.get(`/api/render/deployments/${there.id}`)).json;
  t.true(thereAfter.serviceDeleted);
  t.is(thereAfter.status, 'live', 'its status stays what it was');

  // Deleted on Render and met by a redeploy before any list: a 404, and the record learns it then.
  t.is((await sim(apiKey).send('DELETE', `/services/${gone.serviceId}`)).status, 204);
  const redeploy = await agent.post(`/api/render/services/${gone.serviceId}/redeploy`);
  t.is(redeploy.status, 404);
  t.true((await agent.get(`/api/render/deployments/${gone.id}`)).json.serviceDeleted);
  t.is((await agent.get('/api/render/my-deployments')).json.deployments.filter((d: any) => d.serviceDeleted).length, 3);
});

test('a service deleted on Render while a redeploy of it builds: the redeploy fails saying so, and every deployment of the service learns it', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'stat-w');
  addNodeRepo(stack, 'stat-w', 'doomed');
  const first = await deployNew(agent, 'stat-w/doomed', 'doomed');
  t.is(first.status, 'live', JSON.stringify(first.failure));
  const release = stack.render.holdPhase({ serviceName: 'doomed' }, 'build_in_progress');
  t.teardown(release);
  const again = await agent.post(`/api/render/services/${first.serviceId}/redeploy`);
  t.is(again.status, 202, again.text);
  await waitStatus(agent, again.json.id, 'build_in_progress');
  // Deleted on Render's side (its dashboard, another client of the key): the worker meets the 404.
  t.is((await sim(apiKey).send('DELETE', `/services/${first.serviceId}`)).status, 204);
  release();
  const failed = await waitFinished(agent, again.json.id);
  t.is(failed.status, 'failed');
  t.is(failed.failure.code, 'service_deleted');
  t.is(failed.failure.message, `The service was deleted on Render (${first.serviceId}), so this deploy cannot go on. Deploy the repository again to create a new service.`);
  t.true(failed.serviceDeleted);
  // Without any service list read in between: the live one says so too, and keeps its status.
  const before = (await agent.get(`/api/render/deployments/${first.id}`)).json;
  t.true(before.serviceDeleted);
  t.is(before.status, 'live');
});

import test, { type ExecutionContext } from 'ava';
import type { Stack } from '../helpers/stack.js';
import { useGitHubLinkedPipelineStack, type PipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, renderApi, renderCalls, renderDeploysOf, signedInWithKey, until, waitFinished } from '../helpers/pipeline.js';

// A service creation whose answer was lost (the POST /services reached Render, its answer did not reach
// the worker) is retried: the retry finds the service by name, as this deployment's when made after its
// name claim (workers/tasks/createService.ts). A user's cancel that landed while that retry waited found
// a record in creating_service with no service id: nothing was owed a cancel on Render, the route removed
// the job, and nothing ever looked the service up, so its first build ran on and went live under a
// deployment that says canceled. Now the cancel of a deploy in creating_service whose name claim is its
// own keeps its job, which finds the service as the retry would, notes it on the canceled record and
// cancels its first deploy (server/deployments/cancel.ts lostCreationMayExist, canceledAsk.ts). A service
// under the name made before the claim is somebody else's and is never touched (the last test).

let pipeline: PipelineStack;
let stack: Stack;
useGitHubLinkedPipelineStack(test, (p) => {
  pipeline = p;
  ({ stack } = p);
});

const CANCEL_ROUTE = '/services/{serviceId}/deploys/{deployId}/cancel';

/** After the user's cancel: a cancel of a deploy that Render took (null: none within 10 s). */
const firstDeployStopped = (accountId: string) =>
  until('a cancel that Render took', async () => renderCalls(stack, accountId, 'POST', CANCEL_ROUTE).find((c) => c.status === 200), 10_000).catch(() => null);

/** The one service named `login` in the user's workspace. */
async function serviceNamed(apiKey: string, login: string): Promise<string> {
  const services = (await renderApi(stack, apiKey, 'GET', `/services?name=${login}`)) as Array<{ service: { id: string } }>;
  if (services.length !== 1) throw new Error(`${services.length} services named ${login}`);
  return services[0]!.service.id;
}

/** A worker (the only one) that loses the answer of the first service creation it asks for: it throws once Render answered. */
async function workerLosingTheCreationAnswer() {
  await pipeline.worker.close(5_000);
  const state = { lost: 0 };
  const worker = await pipeline.startWorker({
    crashPoint: (at) => {
      if (at === 'service_created' && state.lost++ === 0) throw new Error('simulated loss of the creation\'s answer');
    },
  });
  return { worker, state };
}

/** A signed-in user about to deploy `<login>/app`, the service's builds held in build_in_progress until `releaseBuilds`. */
async function userWithHeldBuilds(t: ExecutionContext, login: string) {
  const u = await signedInWithKey(stack, login);
  addNodeRepo(stack, login, 'app');
  const releaseBuilds = stack.render.holdPhase({ serviceName: login }, 'build_in_progress');
  t.teardown(releaseBuilds);
  return { ...u, login, releaseBuilds, deploy: () => u.agent.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: login }) };
}

test.serial('a deploy canceled while the retry of a creation whose answer was lost waits: its service is found and noted, its first deploy canceled', async (t) => {
  const u = await userWithHeldBuilds(t, 'lostcancel');
  const { worker: crashy, state } = await workerLosingTheCreationAnswer();
  let id: string;
  try {
    const res = await u.deploy();
    t.is(res.status, 202, res.text);
    id = res.json.id;
    await until('the creation\'s answer was lost', async () => state.lost > 0, 20_000);
    // The worker goes down with the job waiting for its retry (a delayed job): nothing runs it meanwhile.
    await crashy.close(5_000);
    const waiting = (await u.agent.get(`/api/render/deployments/${res.json.id}`)).json;
    t.like(waiting, { status: 'creating_service', serviceId: null });
    const serviceId = await serviceNamed(u.apiKey, u.login);
    await until('its first deploy building', async () => (await renderDeploysOf(stack, u.apiKey, serviceId)).find((d) => d.status === 'build_in_progress'));

    const canceled = await u.agent.post(`/api/render/deployments/${res.json.id}/cancel`);
    t.is(canceled.status, 200, canceled.text);
    t.is(canceled.json.status, 'canceled');
  } finally {
    await crashy.close(5_000);
    pipeline.worker = await pipeline.startWorker();
  }
  const stopped = await firstDeployStopped(u.accountId);
  u.releaseBuilds();
  const serviceId = await serviceNamed(u.apiKey, u.login);
  const deploys = await renderDeploysOf(stack, u.apiKey, serviceId);
  t.is(deploys.length, 1, 'no other deploy asked for');
  t.truthy(stopped, `the first deploy is canceled after the user's cancel, not left building (${deploys[0]?.status})`);
  t.is(deploys[0]?.status, 'canceled');
  t.false(deploys.some((d) => d.status === 'live'), 'nothing went live');
  const done = await waitFinished(u.agent, id);
  t.is(done.status, 'canceled');
  t.is(done.serviceId, serviceId, 'the record says where the service is');
  t.is(done.deployId ?? null, null);
  t.is(renderCalls(stack, u.accountId, 'POST', '/services').length, 1, 'created once');
});

test.serial('a deploy canceled as the retry of a creation whose answer was lost looks the service up: that run cancels its first deploy', async (t) => {
  const u = await userWithHeldBuilds(t, 'lostlook');
  const { worker: crashy, state } = await workerLosingTheCreationAnswer();
  let lookup: ReturnType<Stack['render']['holdRequest']> | null = null;
  try {
    const res = await u.deploy();
    t.is(res.status, 202, res.text);
    await until('the creation\'s answer was lost', async () => state.lost > 0, 20_000);
    // The retry's lookup by name is held on Render when the cancel lands: the run holds the job.
    lookup = stack.render.holdRequest({ method: 'GET', route: '/services', apiKey: u.apiKey });
    await lookup.arrived;
    t.like((await u.agent.get(`/api/render/deployments/${res.json.id}`)).json, { status: 'creating_service', serviceId: null });
    const canceling = u.agent.post(`/api/render/deployments/${res.json.id}/cancel`);
    await until('the record canceled', async () => (await u.agent.get(`/api/render/deployments/${res.json.id}`)).json.status === 'canceled', 10_000);
    lookup.release();
    const canceled = await canceling;
    t.is(canceled.status, 200, canceled.text);
    const stopped = await firstDeployStopped(u.accountId);
    u.releaseBuilds();
    const serviceId = await serviceNamed(u.apiKey, u.login);
    const deploys = await renderDeploysOf(stack, u.apiKey, serviceId);
    t.is(deploys.length, 1, 'no other deploy asked for');
    t.truthy(stopped, `the first deploy is canceled, not left building (${deploys[0]?.status})`);
    t.is(deploys[0]?.status, 'canceled');
    const done = await waitFinished(u.agent, res.json.id);
    t.is(done.status, 'canceled');
    t.is(done.serviceId, serviceId);
  } finally {
    lookup?.release();
    await crashy.close(5_000);
    pipeline.worker = await pipeline.startWorker();
  }
});

test.serial('a deploy canceled while its creation is asked, under a name whose service was made before it (unlisted at its lookup): that service is never touched', async (t) => {
  // The service was made outside the app with the same key, repo and branch, before the deployment's
  // record; Render's list leaves it out of the deployment's lookup, so the deployment claims the name and
  // asks for the creation, which the cancel lands on. Render answers 409 (the name is taken): the
  // service under the name is older than the claim, somebody else's, and its building deploy is not
  // this deployment's first deploy.
  const u = await userWithHeldBuilds(t, 'lostguard');
  const made = await renderApi(stack, u.apiKey, 'POST', '/services', {
    type: 'web_service', name: u.login, ownerId: u.ownerId, repo: `https://github.com/${u.login}/app`, branch: 'main', autoDeploy: 'yes',
    serviceDetails: { runtime: 'node', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'node index.js' } },
  });
  const serviceId = made.service.id as string;
  await until('the service\'s first deploy building', async () => (await renderDeploysOf(stack, u.apiKey, serviceId)).find((d) => d.status === 'build_in_progress'));
  await new Promise((r) => setTimeout(r, 20)); // the record is made after the service, on any clock
  const unlisted = stack.render.setFault({ method: 'GET', route: '/services', apiKey: u.apiKey, kind: 'body', body: [], count: 1 });
  t.teardown(() => stack.render.clearFault(unlisted));
  const creating = stack.render.holdRequest({ method: 'POST', route: '/services', apiKey: u.apiKey });
  t.teardown(creating.release);
  const res = await u.deploy();
  t.is(res.status, 202, res.text);
  await creating.arrived;
  const canceling = u.agent.post(`/api/render/deployments/${res.json.id}/cancel`);
  await until('the record canceled', async () => (await u.agent.get(`/api/render/deployments/${res.json.id}`)).json.status === 'canceled', 10_000);
  creating.release();
  const canceled = await canceling;
  t.is(canceled.status, 200, canceled.text);
  const done = await waitFinished(u.agent, res.json.id);
  t.is(done.status, 'canceled');
  // Time for a job that (wrongly) took the service for its own to have canceled its deploy.
  await until('the lookup after the 409', async () => renderCalls(stack, u.accountId, 'GET', '/services').length >= 3, 10_000).catch(() => null);
  await new Promise((r) => setTimeout(r, 1_500));
  t.is(renderCalls(stack, u.accountId, 'POST', CANCEL_ROUTE).length, 0, 'nothing canceled on Render');
  const deploys = await renderDeploysOf(stack, u.apiKey, serviceId);
  t.is(deploys.length, 1, 'no deploy asked for');
  t.is(deploys[0]?.status, 'build_in_progress', 'the service\'s own deploy builds on');
  t.is((await u.agent.get(`/api/render/deployments/${res.json.id}`)).json.serviceId, null, 'somebody else\'s service is not noted');
});

test.serial('a deploy canceled while its creation is on its way, then asked again at once under the name: the second never adopts the first one\'s service', async (t) => {
  // The cancel gave the name's claim up at once: the second deployment claimed it, and when the first one's
  // creation landed (after that claim), took that service for one it had made itself ("Resumed: service app
  // was created by this deployment"), kept the canceled request's env values it had dropped, and adopted the
  // service's first deploy, which the first deployment's run canceled: a deploy the user never canceled ended canceled.
  const u = await signedInWithKey(stack, 'cancel-reask');
  addNodeRepo(stack, 'cancel-reask', 'app');
  const held = stack.render.holdRequest({ method: 'POST', route: '/services', apiKey: u.apiKey });
  t.teardown(held.release);
  const first = await u.agent.post('/api/render/deploy', { github_repo: 'cancel-reask/app', project_name: 'app', env_vars: { KEPT: 'one', DROPPED: 'two' } });
  t.is(first.status, 202, first.text);
  await held.arrived;
  // A second creation, should one be asked for, waits too: it reaches Render after the first one's.
  const held2 = stack.render.holdRequest({ method: 'POST', route: '/services', apiKey: u.apiKey });
  t.teardown(held2.release);
  t.is((await u.agent.post(`/api/render/deployments/${first.json.id}/cancel`)).status, 200);
  const second = await u.agent.post('/api/render/deploy', { github_repo: 'cancel-reask/app', project_name: 'app', env_vars: { KEPT: 'three' } });
  t.is(second.status, 202, second.text);
  await until('the second deployment past its name lookup', async () => {
    const rec = (await u.agent.get(`/api/render/deployments/${second.json.id}`)).json;
    return rec.finished || renderCalls(stack, u.accountId, 'GET', '/services').length >= 2 ? true : null;
  });
  await new Promise((r) => setTimeout(r, 200));
  held.release(); // the canceled deployment's creation lands
  await new Promise((r) => setTimeout(r, 50));
  held2.release();
  const done = await waitFinished(u.agent, second.json.id);
  const services = (await renderApi(stack, u.apiKey, 'GET', `/services?ownerId=${u.ownerId}`) as Array<{ service: { id: string } }>).map((e) => e.service.id);
  t.is(services.length, 1, 'one service: the canceled deployment\'s');
  t.not(done.status, 'canceled', JSON.stringify(done.timeline));
  t.false(done.timeline.some((e: { note?: string | null }) => /created by this deployment/.test(e.note ?? '')), JSON.stringify(done.timeline));
  t.is(done.serviceId, null, 'the second deployment never points at the first one\'s service');
  t.is(done.failure?.code, 'service_name_taken');
  const env = (await renderApi(stack, u.apiKey, 'GET', `/services/${services[0]}/env-vars?limit=100`) as Array<{ envVar: { key: string; value: string } }>).map((e) => `${e.envVar.key}=${e.envVar.value}`);
  t.deepEqual(env.sort(), ['DROPPED=two', 'KEPT=one'], 'the service keeps its own request\'s values, none of the second\'s');
});

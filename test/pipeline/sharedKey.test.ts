import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, QUICK_PHASES, type PipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, renderApi, renderCalls, signedInWithKey, until, waitFinished, type TestWorker } from '../helpers/pipeline.js';

// Two users of one Render workspace (a team key both connected) deploy the same repository under the
// same name at once. Only one deployment created the service; the other must not adopt it as its own
// (createService.ts adopts only the service this very deployment created before a crash): the second
// fails as service_name_taken and writes nothing on the first one's service (its env values, a deploy).
let pipeline: PipelineStack;
let stack: Stack;
let worker: TestWorker;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => {
  pipeline = p;
  ({ stack, worker } = p);
});

test.serial('two users of one workspace deploying the same repo under the same name at once: one service, the other refused', async (t) => {
  const a = await signedInWithKey(stack, 'team-a');
  const b = { agent: stack.agent() };
  await stack.signIn(b.agent, 'team-b');
  const setup = await b.agent.post('/api/render/setup', { api_key: a.apiKey });
  t.is(setup.status, 200, setup.text);
  addNodeRepo(stack, 'team-a', 'shared');

  // Both records exist before either job runs (a worker was busy elsewhere): each service creation
  // comes after both records.
  await worker.close(5_000);
  const first = await a.agent.post('/api/render/deploy', { github_repo: 'team-a/shared', project_name: 'shared', env_vars: { WHO: 'a' } });
  const second = await b.agent.post('/api/render/deploy', { github_repo: 'team-a/shared', project_name: 'shared', env_vars: { WHO: 'b' } });
  t.is(first.status, 202, first.text);
  t.is(second.status, 202, second.text);
  worker = await pipeline.startWorker();

  const done = [await waitFinished(a.agent, first.json.id), await waitFinished(b.agent, second.json.id)];
  const services = (await renderApi(stack, a.apiKey, 'GET', `/services?ownerId=${a.ownerId}`) as Array<{ service: { id: string } }>).map((e) => e.service.id);
  t.is(services.length, 1, 'one service');
  const live = done.filter((d) => d.status === 'live');
  t.is(live.length, 1, `one deployment live: ${done.map((d) => `${d.status} ${d.failure?.code ?? ''}`).join(', ')}`);
  const refused = done.find((d) => d !== live[0]);
  t.is(refused?.failure?.code, 'service_name_taken');
  t.is(refused?.serviceId, null, 'the refused deployment never points at the service');
  const env = (await renderApi(stack, a.apiKey, 'GET', `/services/${services[0]}/env-vars?limit=100`) as Array<{ envVar: { key: string; value: string } }>).map((e) => e.envVar);
  t.deepEqual(env.filter((e) => e.key === 'WHO').map((e) => e.value), [live[0] === done[0] ? 'a' : 'b'], 'the service keeps its own deployment\'s values');
  t.is(renderCalls(stack, a.accountId, 'POST', '/services/{serviceId}/deploys').length, 0, 'no second deploy asked on it');
});

test.serial('two tabs deploy the same repo under one name; the first one\'s creation answer is lost: it keeps its service, the other is refused', async (t) => {
  const u = await signedInWithKey(stack, 'two-tabs');
  addNodeRepo(stack, 'two-tabs', 'site');
  // A worker that loses the answer of its first service creation (it fails right after Render
  // answered, before recording the ids); the job is retried after the queue's backoff.
  await worker.close(5_000);
  let lost = 0;
  worker = await pipeline.startWorker({ crashPoint: (at) => { if (at === 'service_created' && lost++ === 0) throw new Error('simulated loss of the creation\'s answer'); } });

  // The first tab's creation waits on Render; the second tab's deploy is asked meanwhile, and its
  // name lookup waits too, so it runs once the first one's service exists, its answer lost.
  const creating = stack.render.holdRequest({ method: 'POST', route: '/services', apiKey: u.apiKey });
  t.teardown(creating.release);
  const first = await u.agent.post('/api/render/deploy', { github_repo: 'two-tabs/site', project_name: 'site', env_vars: { TAB: 'first' } });
  await creating.arrived;
  const lookup = stack.render.holdRequest({ method: 'GET', route: '/services', apiKey: u.apiKey });
  t.teardown(lookup.release);
  const second = await u.agent.post('/api/render/deploy', { github_repo: 'two-tabs/site', project_name: 'site', env_vars: { TAB: 'second' } });
  await lookup.arrived;
  creating.release();
  const made = await until('the first tab\'s service on Render', async () =>
    ((await renderApi(stack, u.apiKey, 'GET', `/services?ownerId=${u.ownerId}&name=site`)) as Array<{ service: { id: string } }>)[0]?.service.id);
  await until('the first creation\'s answer lost', async () => lost > 0);
  lookup.release();

  const [a, b] = [await waitFinished(u.agent, first.json.id), await waitFinished(u.agent, second.json.id)];
  t.is(a.status, 'live', JSON.stringify(a.failure));
  t.is(a.serviceId, made, 'the deployment that created the service adopted it');
  t.is(b.failure?.code, 'service_name_taken', `${b.status} ${JSON.stringify(b.failure)}`);
  t.is(b.serviceId, null, 'the other tab\'s deployment never points at it');
  const env = (await renderApi(stack, u.apiKey, 'GET', `/services/${made}/env-vars?limit=100`) as Array<{ envVar: { key: string; value: string } }>).map((e) => e.envVar);
  t.deepEqual(env.filter((e) => e.key === 'TAB').map((e) => e.value), ['first']);
  t.is(renderCalls(stack, u.accountId, 'POST', '/services').length, 1, 'created once');
});

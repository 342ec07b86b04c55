import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, type PipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, FAST_WATCH, renderCalls, signedInWithKey, waitFinished, renderApi, renderDeploysOf, type TestWorker } from '../helpers/pipeline.js';
import { startWorker, type WorkerProcess } from '../../workers/process.js';
import { createLogger } from '../../server/logger.js';
import { deploymentKeys } from '../../server/deployments/storeKeys.js';

// A deployment whose ask reached Render but whose answer was lost (the worker died right after it)
// takes over, on its retry, the deploy that ask made, not another one. It used to take any deploy of
// the service made from 2 s before its ask (or, for a service it had created, since the record): a
// deploy someone else started in that window (another commit, another rollback target) became the
// record's. Render's deploys name no author: the retry matches the deploy to what it asked for.
let pipeline: PipelineStack;
let stack: Stack;
let worker: TestWorker;
usePipelineStack(test, { renderOptions: { phaseMs: { created: 20, build_in_progress: 150, pre_deploy_in_progress: 20, update_in_progress: 40 } } }, (p) => {
  pipeline = p;
  ({ stack, worker } = p);
});

/**
 * Run `ask` with a worker that dies (throws and stops taking jobs) right after Render answers at
 * `point`; then `meanwhile` (the foreign deploy), then a fresh worker takes the retry.
 */
async function answerLostAt(point: string, ask: () => Promise<string>, meanwhile: () => Promise<void>): Promise<string> {
  await worker.close(5_000);
  let crashed = false;
  let closing = null as Promise<void> | null;
  const crashy: WorkerProcess = await startWorker({
    config: stack.config, logger: createLogger({ level: 'silent' }), watch: FAST_WATCH, retryBackoffMs: 20,
    crashPoint: (at) => {
      if (at !== point || crashed) return;
      crashed = true;
      closing = crashy.close(10_000);
      throw new Error(`simulated crash at ${point}`);
    },
    workerOptions: { concurrency: 5, lockDurationMs: 5_000, stalledIntervalMs: 1_000 },
  });
  try {
    const id = await ask();
    for (let i = 0; i < 1_200 && !closing; i++) await new Promise((r) => setTimeout(r, 25));
    if (!closing) throw new Error(`the worker never reached ${point}`);
    await closing;
    await meanwhile();
    return id;
  } finally {
    await crashy.close(5_000);
    worker = await pipeline.startWorker();
  }
}

/** A live service with two deploys that went live, of different commits. */
async function serviceWithTwoDeploys(login: string) {
  const user = await signedInWithKey(stack, login);
  addNodeRepo(stack, login, 'app');
  const first = await waitFinished(user.agent, (await user.agent.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: 'app' })).json.id);
  if (first.status !== 'live') throw new Error(`first deploy: ${first.status}`);
  const second = await waitFinished(user.agent, (await user.agent.post(`/api/render/services/${first.serviceId}/redeploy`)).json.id);
  if (second.status !== 'live') throw new Error(`redeploy: ${second.status}`);
  return { ...user, serviceId: first.serviceId as string, firstDeployId: first.deployId as string, secondDeployId: second.deployId as string };
}

test.serial('a rollback retried after its answer was lost takes its own rollback, not another one to a different deploy', async (t) => {
  const u = await serviceWithTwoDeploys('rollback-retry');
  let foreign = '';
  const id = await answerLostAt('deploy_triggered', async () => {
    const res = await u.agent.post(`/api/render/services/${u.serviceId}/rollback`, { deploy_id: u.firstDeployId });
    t.is(res.status, 202, res.text);
    return res.json.id;
  }, async () => {
    // Someone rolls the service back to its other deploy (another commit) before the retry runs.
    foreign = (await renderApi(stack, u.apiKey, 'POST', `/services/${u.serviceId}/rollback`, { deployId: u.secondDeployId })).id;
  });
  const done = await waitFinished(u.agent, id);
  const rollbacks = (await renderDeploysOf(stack, u.apiKey, u.serviceId)).filter((d) => d.trigger === 'rollback');
  const ours = rollbacks.find((d) => d.id !== foreign);
  t.is(rollbacks.length, 2, 'our rollback and the other one: the retry asked for none');
  t.not(done.deployId, foreign, 'the rollback to another deploy was not taken over');
  t.is(done.deployId, ours?.id);
  t.is(renderCalls(stack, u.accountId, 'POST', '/services/{serviceId}/rollback').filter((c) => c.path.includes(u.serviceId)).length, 2);
});

test.serial('a redeploy retried after its answer was lost takes its own deploy, not one of another commit started after it', async (t) => {
  const u = await serviceWithTwoDeploys('redeploy-retry');
  let foreign = '';
  const id = await answerLostAt('deploy_triggered', async () => {
    const res = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`);
    t.is(res.status, 202, res.text);
    return res.json.id;
  }, async () => {
    // Another client of the key deploys a given commit (queued behind ours: 202, found in the list).
    await renderApi(stack, u.apiKey, 'POST', `/services/${u.serviceId}/deploys`, { commitId: 'f00dfeed'.repeat(5) });
    foreign = (await renderDeploysOf(stack, u.apiKey, u.serviceId)).find((d) => d.commit?.id === 'f00dfeed'.repeat(5))!.id;
  });
  const done = await waitFinished(u.agent, id);
  t.not(done.deployId, foreign, 'the deploy of another commit was not taken over');
  const triggers = renderCalls(stack, u.accountId, 'POST', '/services/{serviceId}/deploys').filter((c) => c.path.includes(u.serviceId));
  t.is(triggers.length, 3, 'the redeploy before this one, ours and the other: the retry asked for none');
});

test.serial('a deployment that created its service (answer lost) takes the deploy Render started with it, not a later one', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'create-retry');
  addNodeRepo(stack, 'create-retry', 'fresh');
  let foreign = '';
  let serviceId = '';
  const id = await answerLostAt('service_created', async () => {
    const res = await agent.post('/api/render/deploy', { github_repo: 'create-retry/fresh', project_name: 'fresh' });
    t.is(res.status, 202, res.text);
    return res.json.id;
  }, async () => {
    // A deploy of another commit on the new service (a push, another client) before the retry.
    const [found] = (await renderApi(stack, apiKey, 'GET', '/services?name=fresh')) as Array<{ service: { id: string } }>;
    serviceId = found!.service.id;
    await renderApi(stack, apiKey, 'POST', `/services/${serviceId}/deploys`, { commitId: 'beefcafe'.repeat(5) });
    foreign = (await renderDeploysOf(stack, apiKey, serviceId)).find((d) => d.commit?.id === 'beefcafe'.repeat(5))!.id;
  });
  const done = await waitFinished(agent, id);
  const deploys = await renderDeploysOf(stack, apiKey, serviceId);
  t.is(done.serviceId, serviceId);
  t.not(done.deployId, foreign, 'the later deploy was not taken over');
  t.is(done.deployId, deploys.at(-1)?.id, 'the service\'s first deploy');
  t.is(deploys.length, 2, 'no deploy asked for on top');
});

// A repository with a dot in its name (GitHub Pages' owner.github.io, site.js): its owner/name was taken for a
// host and a path (server/render/serviceNames.ts normalizeRepo), so the service Render made from it never
// matched the repository, and a creation whose answer was lost ended service_name_taken.
test.serial('a repository whose name has a dot: the service its creation made (answer lost) is taken as its own', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'dotted-repo');
  addNodeRepo(stack, 'dotted-repo', 'dotted-repo.github.io');
  const id = await answerLostAt('service_created', async () => {
    const res = await agent.post('/api/render/deploy', { github_repo: 'dotted-repo/dotted-repo.github.io', project_name: 'dotted-site' });
    t.is(res.status, 202, res.text);
    return res.json.id;
  }, async () => undefined);
  const done = await waitFinished(agent, id);
  const [found] = (await renderApi(stack, apiKey, 'GET', '/services?name=dotted-site')) as Array<{ service: { id: string } }>;
  t.is(done.status, 'live', JSON.stringify(done.error ?? null));
  t.is(done.serviceId, found!.service.id);
});

test.serial('a creation whose answer was lost, sent by a worker of the previous version (a claim with no mark), ends service_name_taken and leaves the service as Render made it', async (t) => {
  const { agent, apiKey, ownerId, accountId } = await signedInWithKey(stack, 'legacy-claim');
  addNodeRepo(stack, 'legacy-claim', 'legacy');
  let asked = '';
  const id = await answerLostAt('service_created', async () => {
    const res = await agent.post('/api/render/deploy', { github_repo: 'legacy-claim/legacy', project_name: 'legacy', env_vars: { GREETING: 'ours' } });
    t.is(res.status, 202, res.text);
    asked = res.json.id;
    return asked;
  }, async () => {
    // Workers before the creation mark (server/deployments/nameClaims.ts) wrote the claim alone: the
    // retry, by a worker of this version, finds the claim its own but no creation marked sent under it.
    const keys = deploymentKeys(stack.redis.prefix);
    t.is(await stack.web.deps.redis.del(keys.nameSent(ownerId, 'legacy')), 1, 'this version marked the send');
    t.is((await stack.web.deps.deployments.serviceNameClaim(ownerId, 'legacy'))?.id, asked, 'the claim is the deployment\'s');
  });
  const done = await waitFinished(agent, id);
  // The safe side: a service it cannot tell from one made on the dashboard after its claim is not taken.
  t.is(done.status, 'failed');
  t.is(done.failure?.code, 'service_name_taken', JSON.stringify(done.failure));
  const services = (await renderApi(stack, apiKey, 'GET', '/services?name=legacy')) as Array<{ service: { id: string } }>;
  t.is(services.length, 1, 'no second service');
  t.falsy(done.serviceId, 'the service is not the record\'s');
  const envs = (await renderApi(stack, apiKey, 'GET', `/services/${services[0]!.service.id}/env-vars`)) as Array<{ envVar: { key: string; value: string } }>;
  t.deepEqual(envs.map((e) => e.envVar.key), ['GREETING'], 'its env vars are the creation\'s, none put after');
  t.is(renderCalls(stack, accountId, 'PUT', '/services/{serviceId}/env-vars/{envVarKey}').length, 0, 'no env value written on it');
});

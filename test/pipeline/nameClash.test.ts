import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { addNodeRepo, renderCalls, signedInWithKey, startTestWorker, waitFinished } from '../helpers/pipeline.js';
import type { WorkerProcess } from '../../workers/process.js';

let stack: Stack;
let worker: WorkerProcess & { logs: string[] };
test.before(async () => {
  stack = await startStack({ renderOptions: { phaseMs: { created: 20, build_in_progress: 100, pre_deploy_in_progress: 20, update_in_progress: 40 } } });
  worker = await startTestWorker(stack);
});
test.after.always(async () => { await worker?.close(5_000); await stack?.close(); });

/** What a service is on Render right now, read straight from the simulator with the user's key. */
async function snapshot(apiKey: string, serviceId: string) {
  const get = async (path: string) => (await fetch(`${stack.render.url}${path}`, { headers: { authorization: `Bearer ${apiKey}` } })).json() as Promise<any>;
  const service = await get(`/services/${serviceId}`);
  const env = (await get(`/services/${serviceId}/env-vars?limit=100`)).map((e: any) => e.envVar);
  const deploys = (await get(`/services/${serviceId}/deploys?limit=100`)).map((e: any) => e.deploy.id);
  return {
    repo: service.repo, branch: service.branch, name: service.name,
    commands: service.serviceDetails.envSpecificDetails, runtime: service.serviceDetails.runtime, env, deploys,
  };
}

test.serial('go-service deployed under the name "hello-node" fails with service_name_taken; hello-node is untouched', async (t) => {
  const { agent, apiKey, accountId } = await signedInWithKey(stack, 'demo-user');
  addNodeRepo(stack, 'demo-user', 'hello-node');
  stack.github.addRepo({ owner: 'demo-user', name: 'go-service', branches: { main: { 'go.mod': 'module example.com/go-service\n\ngo 1.22\n', 'main.go': 'package main\nfunc main() {}\n' } } });

  const first = await agent.post('/api/render/deploy', { github_repo: 'demo-user/hello-node', project_name: 'hello-node', env_vars: { GREETING: 'hello' } });
  const live = await waitFinished(agent, first.json.id);
  t.is(live.status, 'live', JSON.stringify(live.failure));
  const before = await snapshot(apiKey, live.serviceId);
  const writesBefore = stack.render.calls.filter((c) => c.accountId === accountId && c.method !== 'GET').length;

  const clash = await agent.post('/api/render/deploy', {
    github_repo: 'demo-user/go-service', project_name: 'hello-node', env_vars: { GREETING: 'overwritten', PORT: '9999' },
    build_command: 'go build -o app .', start_command: './app',
  });
  t.is(clash.status, 202, clash.text);
  const failed = await waitFinished(agent, clash.json.id);
  t.is(failed.status, 'failed');
  t.is(failed.failure.code, 'service_name_taken');
  t.is(failed.failure.suggestedName, 'hello-node-2');
  t.regex(failed.failure.message, /hello-node-2/);
  t.is(failed.serviceId, null, 'the clashing deployment never points at the other service');

  t.deepEqual(await snapshot(apiKey, live.serviceId), before, 'same env, commands, repo, and no new deploy');
  const writesAfter = stack.render.calls.filter((c) => c.accountId === accountId && c.method !== 'GET');
  t.is(writesAfter.length, writesBefore, `no Render write at all: ${writesAfter.slice(writesBefore).map((c) => `${c.method} ${c.route}`).join(', ')}`);
  t.is(renderCalls(stack, accountId, 'PUT', '/services/{serviceId}/env-vars').length, 0, 'never the replace-all env PUT');
});

test.serial('the same repo and branch deployed again under its own name is also refused: redeploys go through the service', async (t) => {
  const { agent, apiKey, accountId } = await signedInWithKey(stack, 'again-user');
  addNodeRepo(stack, 'again-user', 'shop');
  const first = await waitFinished(agent, (await agent.post('/api/render/deploy', { github_repo: 'again-user/shop', project_name: 'shop' })).json.id);
  t.is(first.status, 'live');
  const before = await snapshot(apiKey, first.serviceId);

  const again = await waitFinished(agent, (await agent.post('/api/render/deploy', {
    github_repo: 'again-user/shop', project_name: 'shop', build_command: 'npm ci && npm run build', start_command: 'node dist/index.js',
  })).json.id);
  t.is(again.failure?.code, 'service_name_taken');
  t.deepEqual(await snapshot(apiKey, first.serviceId), before, 'commands and deploys unchanged');

  // The service's own action deploys it, by id.
  const redeploy = await agent.post(`/api/render/services/${first.serviceId}/redeploy`);
  t.is(redeploy.status, 202, redeploy.text);
  const redeployed = await waitFinished(agent, redeploy.json.id);
  t.is(redeployed.status, 'live');
  t.is(redeployed.serviceId, first.serviceId);
  t.is(renderCalls(stack, accountId, 'POST', '/services').length, 1, 'one service');
});

test.serial('a crash right after Render created the service still adopts it (same deployment, same repo)', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'crash-once');
  addNodeRepo(stack, 'crash-once', 'phoenix');
  // A worker that dies (throws) the first time Render answers a create, before the service id is recorded.
  await worker.close(5_000);
  let crashed = 0;
  const { startWorker } = await import('../../workers/process.js');
  const { createLogger } = await import('../../server/logger.js');
  const { FAST_WATCH } = await import('../helpers/pipeline.js');
  const crashy = await startWorker({
    config: stack.config, logger: createLogger({ level: 'silent' }), watch: FAST_WATCH, retryBackoffMs: 20,
    crashPoint: (point) => { if (point === 'service_created' && crashed++ === 0) throw new Error('simulated crash after create'); },
    workerOptions: { concurrency: 5, lockDurationMs: 5_000, stalledIntervalMs: 1_000 },
  });
  try {
    const res = await agent.post('/api/render/deploy', { github_repo: 'crash-once/phoenix', project_name: 'phoenix', env_vars: { KEEP: 'me' } });
    const done = await waitFinished(agent, res.json.id);
    t.is(crashed >= 1, true, 'the crash point was hit');
    t.is(done.status, 'live', JSON.stringify(done.failure));
    const list = await (await fetch(`${stack.render.url}/services?name=phoenix`, { headers: { authorization: `Bearer ${apiKey}` } })).json() as any[];
    t.is(list.length, 1, 'one service');
    t.is(list[0].service.id, done.serviceId);
    t.true(done.timeline.some((e: { note?: string | null }) => /Resumed/.test(e.note ?? '')));
  } finally {
    await crashy.close(5_000);
    worker = await startTestWorker(stack);
  }
});

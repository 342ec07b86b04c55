import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, type PipelineStack } from '../helpers/pipelineStack.js';
import type { WorkerProcess } from '../../workers/process.js';
import { addNodeRepo, renderCalls, signedInWithKey, waitFinished, type TestWorker } from '../helpers/pipeline.js';

let stack: Stack;
let worker: TestWorker;
// The crash tests stop `worker` and start others: through `pipeline`, so the file's end closes them all.
let pipeline: PipelineStack;
usePipelineStack(test, { renderOptions: { phaseMs: { created: 20, build_in_progress: 100, pre_deploy_in_progress: 20, update_in_progress: 40 } } }, (p) => ({ stack, worker } = pipeline = p));

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
    worker = await pipeline.startWorker();
  }
});

test.serial('a crash after Render created the service, then Redis lost every write the job made: its resumed job still adopts its own service', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'lost-writes');
  addNodeRepo(stack, 'lost-writes', 'ember');
  await worker.close(5_000);
  const { startWorker } = await import('../../workers/process.js');
  const { createLogger } = await import('../../server/logger.js');
  const { FAST_WATCH } = await import('../helpers/pipeline.js');
  // Dies the first time Render answers a create, before the service id is recorded; it stops taking
  // jobs right there, so the retry runs only after the test has rolled the record back.
  let crashed = false;
  // Set from the crash hook: a cast, so the type checker does not narrow it to null here.
  let closing = null as Promise<void> | null;
  const crashy: WorkerProcess = await startWorker({
    config: stack.config, logger: createLogger({ level: 'silent' }), watch: FAST_WATCH, retryBackoffMs: 20,
    crashPoint: (point) => {
      if (point !== 'service_created' || crashed) return;
      crashed = true;
      closing = crashy.close(10_000);
      throw new Error('simulated crash after create');
    },
    workerOptions: { concurrency: 5, lockDurationMs: 5_000, stalledIntervalMs: 1_000 },
  });
  await crashy.worker.pause();
  try {
    const res = await agent.post('/api/render/deploy', { github_repo: 'lost-writes/ember', project_name: 'ember' });
    t.is(res.status, 202, res.text);
    // The record as it was before its job ran, authentic and signed: what a Redis that lost the job's
    // writes (a restart before they reached disk, a failover to a lagging replica) hands back.
    const key = `${stack.config.redisPrefix}:deployment:${res.json.id}`;
    const before = await stack.redis.client.dumpBuffer(key);
    await crashy.worker.resume();
    for (let i = 0; i < 1_200 && !closing; i++) await new Promise((r) => setTimeout(r, 25));
    t.true(crashed, 'the worker died right after Render created the service');
    await closing;
    const ttl = await stack.redis.client.pttl(key);
    await stack.redis.client.restore(key, Math.max(0, ttl), before, 'REPLACE');
    t.is((await agent.get(`/api/render/deployments/${res.json.id}`)).json.status, 'queued', 'every write of the crashed run is gone');

    worker = await pipeline.startWorker();
    const done = await waitFinished(agent, res.json.id);
    t.is(done.status, 'live', JSON.stringify(done.failure));
    const list = await (await fetch(`${stack.render.url}/services?name=ember`, { headers: { authorization: `Bearer ${apiKey}` } })).json() as any[];
    t.is(list.length, 1, 'one service');
    t.is(list[0].service.id, done.serviceId, 'the deployment adopted the service it had created');
    t.true(done.timeline.some((e: { note?: string | null }) => /Resumed/.test(e.note ?? '')));
  } finally {
    await crashy.close(5_000);
    if (!worker.worker.isRunning()) worker = await pipeline.startWorker();
  }
});

test.serial('a service of the same repo and branch made outside the app just before the deployment is not adopted', async (t) => {
  const { agent, apiKey, ownerId, accountId } = await signedInWithKey(stack, 'outside-user');
  addNodeRepo(stack, 'outside-user', 'kiosk');
  // Made on Render directly (the dashboard, another tool), from the very repo and branch we deploy.
  const made = await fetch(`${stack.render.url}/services`, {
    method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'web_service', name: 'kiosk', ownerId, repo: 'https://github.com/outside-user/kiosk', branch: 'main', serviceDetails: { runtime: 'node', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'node index.js' } } }),
  });
  t.is(made.status, 201);
  const theirs = ((await made.json()) as { service: { id: string } }).service.id;
  const before = await snapshot(apiKey, theirs);
  const writesBefore = stack.render.calls.filter((c) => c.accountId === accountId && c.method !== 'GET').length;

  const res = await agent.post('/api/render/deploy', { github_repo: 'outside-user/kiosk', project_name: 'kiosk' });
  const done = await waitFinished(agent, res.json.id);
  t.is(done.failure?.code, 'service_name_taken');
  t.is(done.serviceId, null);
  t.deepEqual(await snapshot(apiKey, theirs), before, 'untouched');
  t.is(stack.render.calls.filter((c) => c.accountId === accountId && c.method !== 'GET').length, writesBefore, 'no Render write at all');
});

test.serial('a service of the same repo and branch made outside the app while the deployment waited queued is not adopted: its env values stay', async (t) => {
  const { agent, apiKey, ownerId, accountId } = await signedInWithKey(stack, 'queued-user');
  addNodeRepo(stack, 'queued-user', 'kiosk');
  // Every worker busy (paused here): the deployment waits queued, its name not yet claimed.
  await worker.worker.pause();
  const queued = await (async () => {
    try {
      const res = await agent.post('/api/render/deploy', { github_repo: 'queued-user/kiosk', project_name: 'kiosk', env_vars: [{ key: 'DATABASE_URL', value: 'ours' }] });
      t.is(res.status, 202, res.text);
      // Clearly after the record on Render's clock (its answers' Date has whole seconds): what the
      // old check took for "created by this deployment, its claim lost".
      await new Promise((r) => setTimeout(r, 1_100));
      // Meanwhile the user (or a teammate on the same key, or another tool) makes one from the same repo and branch.
      const made = await fetch(`${stack.render.url}/services`, {
        method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'web_service', name: 'kiosk', ownerId, repo: 'https://github.com/queued-user/kiosk', branch: 'main', envVars: [{ key: 'DATABASE_URL', value: 'theirs' }], serviceDetails: { runtime: 'node', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'node index.js' } } }),
      });
      t.is(made.status, 201);
      const theirs = ((await made.json()) as { service: { id: string } }).service.id;
      const writesBefore = stack.render.calls.filter((c) => c.accountId === accountId && c.method !== 'GET').length;
      return { id: res.json.id as string, theirs, before: await snapshot(apiKey, theirs), writesBefore };
    } finally {
      await worker.worker.resume();
    }
  })();
  const { id, theirs, before, writesBefore } = queued;
  const done = await waitFinished(agent, id);
  t.is(done.failure?.code, 'service_name_taken', JSON.stringify(done.failure));
  t.is(done.serviceId, null);
  t.deepEqual(await snapshot(apiKey, theirs), before, 'untouched: DATABASE_URL still theirs, no deploy');
  t.is(stack.render.calls.filter((c) => c.accountId === accountId && c.method !== 'GET').length, writesBefore, 'no Render write at all');
});

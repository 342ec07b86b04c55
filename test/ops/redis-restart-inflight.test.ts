import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, recordWithDeployId, signedInWithKey, waitFinished, type TestWorker } from '../helpers/pipeline.js';
import { waitUntil } from '../helpers/wait.js';

// Redis restarts and comes back empty while a deploy is in flight (its job delayed between
// watches of Render's build, or running a step). The record and the job went with the data. The
// worker must neither crash nor loop on the vanished job, and must take new jobs; the user, signed in
// again, redeploys the service the lost deployment created, and deploys anew.
const run = process.env.REDIS_URL ? test.serial.skip : test.serial; // restarting redis-server needs a private one

let stack: Stack;
let worker: TestWorker;
usePipelineStack(test, { renderOptions: { phaseMs: { created: 10, build_in_progress: 60, pre_deploy_in_progress: 10, update_in_progress: 20 } } }, (p) => ({ stack, worker } = p));

const levelOf = (line: string) => Number(/"level":(\d+)/.exec(line)?.[1] ?? 0);

run('a deploy in flight when Redis comes back empty: the worker stays up without looping, and its service redeploys live', async (t) => {
  t.timeout(60_000);
  const login = 'inflight-ann';
  const user = await signedInWithKey(stack, login);
  addNodeRepo(stack, login, 'app');
  const release = stack.render.holdPhase({}, 'build_in_progress');
  t.teardown(release);
  const asked = await user.agent.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: 'app' });
  t.is(asked.status, 202, asked.text);
  const held = await recordWithDeployId(user.agent, asked.json.id);
  t.truthy(held.serviceId, 'the service was created on Render; its build is held');

  const logsBefore = worker.logs.length;
  await stack.redis.restart({ downMs: 200 });
  release();
  await waitUntil('web ready', async () => (await fetch(`${stack.url}/readyz`)).status === 200, 20_000, 50);
  // A few of the worker's watch intervals (FAST_WATCH: ≤ 200 ms) and a stalled-job check (1 s).
  await new Promise((r) => setTimeout(r, 2_500));
  const since = worker.logs.slice(logsBefore);
  t.deepEqual(since.filter((l) => levelOf(l) >= 60), [], 'no fatal line');
  t.true(since.length < 200, `the worker is not looping on the vanished job (${since.length} lines in 2.5 s)`);

  t.is((await user.agent.get('/api/session')).status, 401, 'signed out');
  const again = stack.agent();
  await stack.signIn(again, login);
  t.is((await again.post('/api/render/setup', { api_key: user.apiKey })).status, 200);
  // A new deploy under the same name is refused by design (service_name_taken: redeploy it instead).
  const redo = await again.post(`/api/render/services/${held.serviceId}/redeploy`);
  t.is(redo.status, 202, redo.text);
  const done = await waitFinished(again, redo.json.id, 20_000);
  t.is(done.status, 'live', `the service the lost deployment created redeploys: ${done.status} ${JSON.stringify(done.failure ?? null)}`);
  const fresh = await again.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: 'app-2' });
  t.is(fresh.status, 202, fresh.text);
  t.is((await waitFinished(again, fresh.json.id, 20_000)).status, 'live', 'a new deploy goes live');
});

run('a step running when Redis comes back empty (its service creation at Render): the run ends without a crash or a loop, and the worker takes new jobs', async (t) => {
  t.timeout(60_000);
  const login = 'midstep-bea';
  const user = await signedInWithKey(stack, login);
  addNodeRepo(stack, login, 'app');
  const held = stack.render.holdRequest({ method: 'POST', route: '/services', apiKey: user.apiKey });
  t.teardown(held.release);
  const asked = await user.agent.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: 'app' });
  t.is(asked.status, 202, asked.text);
  await held.arrived;

  const logsBefore = worker.logs.length;
  await stack.redis.restart({ downMs: 200 });
  await waitUntil('web ready', async () => (await fetch(`${stack.url}/readyz`)).status === 200, 20_000, 50);
  held.release();
  await new Promise((r) => setTimeout(r, 2_500));
  const since = worker.logs.slice(logsBefore);
  t.deepEqual(since.filter((l) => levelOf(l) >= 60), [], 'no fatal line');
  t.true(since.length < 200, `the worker is not looping on the vanished job (${since.length} lines in 2.5 s)`);

  const again = stack.agent();
  await stack.signIn(again, login);
  t.is((await again.post('/api/render/setup', { api_key: user.apiKey })).status, 200);
  addNodeRepo(stack, login, 'other');
  const fresh = await again.post('/api/render/deploy', { github_repo: `${login}/other`, project_name: 'other' });
  t.is(fresh.status, 202, fresh.text);
  t.is((await waitFinished(again, fresh.json.id, 20_000)).status, 'live', 'a new deploy goes live');
});

import test from 'ava';
import { request } from 'node:http';
import { Queue } from 'bullmq';
import { startOpsEnv, startEntry, logLines, eventually, PROCESS_TEST_TIMEOUT_MS, PROGRESS_WAIT_MS, type OpsEnv } from './support/cluster.js';
import { Roamer, signInAcross, connectRenderKey, addNodeRepo, openEvents } from './support/users.js';
import { assertEveryDeployLiveOnce } from './support/liveOnce.js';
import { CHILD_START_TIMEOUT_MS, envFor } from '../helpers/processes.js';
import { freePort } from '../helpers/ports.js';
import { DEPLOY_QUEUE, queuePrefix } from '../../server/queues/deployQueue.js';

// SIGTERM, as Render sends it before replacing an instance: workers finish their running steps and
// leave the rest to the other workers; web processes finish in-flight requests and end SSE streams.

let env: OpsEnv;
test.before(async () => { env = await startOpsEnv(); });
test.after.always(async () => { await env?.close(); });

test.serial('SIGTERM to a worker during active deploys: nothing lost or duplicated, the other worker finishes them', async (t) => {
  t.timeout(PROCESS_TEST_TIMEOUT_MS);
  const web = await env.spawnWeb();
  const user = new Roamer([web.url]);
  await signInAcross(env, user, 'termed');
  const { apiKey, accountId } = await connectRenderKey(env, user.next(), 'termed');
  // Slow Render answers keep steps running when the signal comes.
  env.render.setFault({ kind: 'latency', ms: 300, method: 'GET', route: '/services/{serviceId}/deploys/{deployId}' });
  env.render.setFault({ kind: 'latency', ms: 300, method: 'POST', route: '/services' });
  const workers = [await env.spawnWorker(), await env.spawnWorker()];
  const projects: Array<{ id: string; name: string }> = [];
  for (let i = 0; i < 8; i++) {
    const name = `term-app-${i}`;
    addNodeRepo(env, 'termed', name);
    const res = await user.next().post('/api/render/deploy', { github_repo: `termed/${name}`, project_name: name });
    t.is(res.status, 202);
    projects.push({ id: res.json.id, name });
  }

  const queue = new Queue(DEPLOY_QUEUE, { connection: { url: env.config.redisUrl }, prefix: queuePrefix(env.config.redisPrefix) });
  t.teardown(() => queue.close());
  t.true(await eventually(async () => ((await queue.getJobCounts('active')).active ?? 0) >= 2, PROGRESS_WAIT_MS, 20), 'steps are running');
  const exitCode = await workers[0]!.kill('SIGTERM');
  t.is(exitCode, 0, 'the worker drained and exited cleanly');
  t.deepEqual(logLines(workers[0]!.output, 'steps still running at the shutdown deadline are left to other workers'), [], 'its running steps finished before it exited');

  await assertEveryDeployLiveOnce(t, env, apiKey, user, projects, { finishedMessage: 'every deploy finished' });
  const created = env.render.calls.filter((c) => c.accountId === accountId && c.method === 'POST' && c.route === '/services' && c.status === 201);
  t.is(created.length, projects.length, 'one service created per project, none twice');
  const doneBy = workers.map((w) => logLines(w.output, 'deploy job done').map((l) => l.deploymentId as string));
  t.log(`jobs finished: ${doneBy[0]!.length} by the stopped worker, ${doneBy[1]!.length} by the other`);
  t.deepEqual(doneBy.flat().sort(), projects.map((p) => p.id).sort(), 'each job finished exactly once');
  t.true(doneBy[1]!.length > 0, 'the remaining worker took over');
  env.render.clearFaults();
});

test.serial('SIGTERM to a web process: in-flight requests finish, SSE streams end, new connections are refused', async (t) => {
  t.timeout(PROCESS_TEST_TIMEOUT_MS);
  const web = await env.spawnWeb({ shutdownMs: 10_000 });
  const user = new Roamer([web.url]);
  await signInAcross(env, user, 'draining');
  const stream = await openEvents(web.url, user.at(0).cookieHeader());
  t.is(stream.status, 200);

  // A key check that Render answers slowly is in flight when the signal arrives.
  const apiKey = `rnd_draining${'k'.repeat(24)}`;
  env.render.addAccount({ apiKey, workspaces: [{ name: 'draining workspace' }] });
  env.render.setFault({ kind: 'latency', ms: 2_000, method: 'GET', route: '/owners', apiKey });
  const slow = user.at(0).post('/api/render/setup', { api_key: apiKey });
  t.true(await eventually(() => env.render.calls.some((c) => c.route === '/owners' && c.status === 0), 5_000, 10), 'the request reached Render');
  const exited = web.stop('SIGTERM');

  const port = Number(new URL(web.url).port);
  t.true(await eventually(async () => (await connectRefused(port)), PROGRESS_WAIT_MS, 25), 'the listener closed');
  await stream.ended;
  t.pass('the SSE stream was ended by the server');
  const res = await slow;
  t.is(res.status, 200, 'the in-flight request finished');
  t.true(res.json.configured);
  t.is(await exited, 0);
  t.is(logLines(web.output, 'web stopped').length, 1);
  env.render.clearFaults();
});

test.serial('the production entry points (server/index.ts, workers/index.ts) stop cleanly on SIGTERM', async (t) => {
  t.timeout(PROCESS_TEST_TIMEOUT_MS);
  const port = await freePort();
  const processEnv = envFor(env.config, { PORT: String(port) });
  const web = startEntry('server/index.ts', processEnv);
  const worker = startEntry('workers/index.ts', processEnv);
  t.teardown(() => { web.proc.kill('SIGKILL'); worker.proc.kill('SIGKILL'); });
  // Started (or ended early, which the next two lines then report with the child's output).
  await eventually(() => logLines(web.output, 'web listening').length === 1 || web.proc.exitCode !== null, CHILD_START_TIMEOUT_MS);
  await eventually(() => logLines(worker.output, 'worker started').length === 1 || worker.proc.exitCode !== null, CHILD_START_TIMEOUT_MS);
  t.is(logLines(web.output, 'web listening').length, 1, web.output.join(''));
  t.is(logLines(worker.output, 'worker started').length, 1, worker.output.join(''));
  const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
  t.is(ready.status, 200);
  t.deepEqual(((await ready.json()) as { checks: unknown }).checks, { redis: 'ok', queue: 'ok', accepting: 'ok' });

  web.proc.kill('SIGTERM');
  worker.proc.kill('SIGTERM');
  t.deepEqual(await Promise.all([web.exit, worker.exit]), [0, 0]);
  t.is(logLines(web.output, 'web stopped').length, 1);
  t.is(logLines(worker.output, 'worker stopped').length, 1);
});

/** A fresh TCP connection (no pooled keep-alive socket) is refused. */
function connectRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => { res.resume(); resolve(false); });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
    req.end();
  });
}

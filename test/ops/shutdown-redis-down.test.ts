import test from 'ava';
import { Queue } from 'bullmq';
import { startOpsEnv, startEntry, logLines, eventually, PROCESS_TEST_TIMEOUT_MS, PROGRESS_WAIT_MS, type OpsEnv } from './support/cluster.js';
import { Roamer, signInAcross, connectRenderKey, addNodeRepo } from './support/users.js';
import { assertEveryDeployLiveOnce } from './support/liveOnce.js';
import { CHILD_START_TIMEOUT_MS, envFor } from '../helpers/processes.js';
import { DEPLOY_QUEUE, queuePrefix } from '../../server/queues/deployQueue.js';

// SIGTERM to a worker while Redis is unreachable (Render restarting Key Value as it replaces the
// instance): nothing it could still drain can finish without Redis, so it ends within a few seconds
// rather than waiting out its 20 s drain and every bounded close after it (Render kills at 30 s). Its
// jobs are in Redis, not in the process: once Redis is back another worker finishes them.
const run = process.env.REDIS_URL ? test.serial.skip : test.serial; // needs a private redis-server it can stop

let env: OpsEnv;
test.before(async () => { if (!process.env.REDIS_URL) env = await startOpsEnv({ persistence: true }); });
test.after.always(async () => { await env?.redis.bringUp().catch(() => {}); await env?.close(); });

run('SIGTERM with Redis down: the production worker exits within a few seconds; its deploy finishes on another worker once Redis is back', async (t) => {
  t.timeout(PROCESS_TEST_TIMEOUT_MS);
  const web = await env.spawnWeb();
  const user = new Roamer([web.url]);
  await signInAcross(env, user, 'downterm');
  const { apiKey } = await connectRenderKey(env, user.next(), 'downterm');
  // A slow create keeps the job's step running when Redis goes.
  env.render.setFault({ kind: 'latency', ms: 3_000, method: 'POST', route: '/services' });
  const worker = startEntry('workers/index.ts', envFor(env.config));
  t.teardown(() => { worker.proc.kill('SIGKILL'); });
  await eventually(() => logLines(worker.output, 'worker started').length === 1 || worker.proc.exitCode !== null, CHILD_START_TIMEOUT_MS);
  t.is(logLines(worker.output, 'worker started').length, 1, worker.output.join(''));

  addNodeRepo(env, 'downterm', 'downterm-app');
  const res = await user.next().post('/api/render/deploy', { github_repo: 'downterm/downterm-app', project_name: 'downterm-app' });
  t.is(res.status, 202, res.text);
  const queue = new Queue(DEPLOY_QUEUE, { connection: { url: env.config.redisUrl }, prefix: queuePrefix(env.config.redisPrefix) });
  queue.on('error', () => {}); // its connection sees the outage too
  t.teardown(() => queue.close());
  t.true(await eventually(() => env.render.calls.some((c) => c.method === 'POST' && c.route === '/services'), PROGRESS_WAIT_MS, 20), 'the step is running');

  await env.redis.takeDown();
  const signalled = Date.now();
  worker.proc.kill('SIGTERM');
  const code = await worker.exit;
  const tookMs = Date.now() - signalled;
  t.log(`exited ${code} after ${tookMs} ms`);
  t.true(tookMs < 5_000, `exited after ${tookMs} ms`);
  t.is(code, 0, worker.output.join('').slice(-2000));
  t.is(logLines(worker.output, 'worker stopped').length, 1);

  await env.redis.bringUp();
  env.render.clearFaults();
  await env.spawnWorker();
  await assertEveryDeployLiveOnce(t, env, apiKey, user, [{ id: res.json.id, name: 'downterm-app' }], { finishedMessage: 'the deploy finished on the other worker' });
});

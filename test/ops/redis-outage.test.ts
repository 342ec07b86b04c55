import test from 'ava';
import { startOpsEnv, logLines, eventually, PROCESS_TEST_TIMEOUT_MS, PROGRESS_WAIT_MS, type OpsEnv, type ChildWeb } from './support/cluster.js';
import { Roamer, signInAcross, connectRenderKey, addNodeRepo } from './support/users.js';
import type { AgentResponse } from '../helpers/agent.js';
import type { ChildWorker } from '../helpers/processes.js';
import { Queue } from 'bullmq';
import { queuePrefix } from '../../server/queues/deployQueue.js';
import { ANOMALY_QUEUE } from '../../workers/tasks/anomalyTask.js';

// Render Key Value unreachable while a web process runs, then back with nothing in it (it keeps no
// data on disk): requests get a clear 503 meanwhile, never a 500, and the process serves again
// afterwards without a restart, every old session signed out.
const run = process.env.REDIS_URL ? test.serial.skip : test.serial; // needs a private redis-server it can stop

let env: OpsEnv;
let web: ChildWeb;
let worker: ChildWorker;
test.before(async () => {
  if (process.env.REDIS_URL) return;
  env = await startOpsEnv();
  [web, worker] = await Promise.all([env.spawnWeb(), env.spawnWorker()]);
});

/** What a process printed that is not one of its JSON log lines (a raw error and its stack, line by line). */
const rawLines = (output: string[]) => output.join('').split('\n').filter((l) => l.trim() && !l.startsWith('{'));
test.after.always(async () => { await env?.redis.bringUp().catch(() => {}); await env?.close(); });

function assertUnavailable(t: import('ava').ExecutionContext, res: AgentResponse, what: string) {
  t.is(res.status, 503, `${what}: ${res.status} ${res.text}`);
  t.is((res.json as { error?: { code?: string } })?.error?.code, 'storage_unavailable', what);
  t.truthy(res.headers.get('retry-after'), `${what}: Retry-After`);
}

run('Redis unreachable: 503 storage_unavailable with Retry-After, only JSON log lines; back empty: old sessions signed out, sign-in works again', async (t) => {
  t.timeout(PROCESS_TEST_TIMEOUT_MS);
  const user = new Roamer([web.url]);
  await signInAcross(env, user, 'outage');
  await connectRenderKey(env, user.at(0), 'outage');
  addNodeRepo(env, 'outage', 'outage-app');
  t.is((await user.at(0).get('/api/session')).status, 200);
  const anomaly = new Queue(ANOMALY_QUEUE, { connection: { url: env.redis.url }, prefix: queuePrefix(env.config.redisPrefix) });
  anomaly.on('error', () => {}); // its connection sees the outage too
  t.teardown(() => anomaly.close());
  const detectorScheduled = async () => (await anomaly.getJobSchedulersCount().catch(() => 0)) === 1;
  t.true(await eventually(detectorScheduled, PROGRESS_WAIT_MS), 'the worker scheduled the anomaly detector');

  await env.redis.takeDown();
  assertUnavailable(t, await user.at(0).get('/api/session'), 'session read');
  assertUnavailable(t, await user.at(0).post('/api/render/deploy', { github_repo: 'outage/outage-app', project_name: 'outage-app' }), 'deploy request');
  t.deepEqual(logLines(web.output, 'unhandled error'), [], 'an unreachable Redis is no unhandled error');
  // The worker's connections have failed to reconnect a few times (its deploy worker says so, once each).
  t.true(await eventually(() => logLines(worker.output, 'worker error').length >= 4, PROGRESS_WAIT_MS), 'the worker noticed');
  t.deepEqual(rawLines(web.output), [], 'the web process prints only its JSON log lines');
  t.deepEqual(rawLines(worker.output).slice(0, 10), [], 'the worker prints only its JSON log lines');

  await env.redis.bringUp();
  t.true(await eventually(async () => (await fetch(`${web.url}/readyz`)).status === 200, PROGRESS_WAIT_MS, 100), 'ready again without a restart');
  t.is((await user.at(0).get('/api/session')).status, 401, 'the session went with the data: signed out');
  const again = new Roamer([web.url, web.url]);
  await signInAcross(env, again, 'outage-again');
  t.is((await again.at(0).get('/api/session')).json.user.login, 'outage-again');
  t.is(worker.proc.exitCode, null, 'the worker ran on');
  t.true(await eventually(detectorScheduled, PROGRESS_WAIT_MS), 'the running worker scheduled the anomaly detector again in the empty Redis');
});

run('Redis not answering (its process stopped, connections open): a request gets the 503 after a bounded wait, never hangs', async (t) => {
  t.timeout(PROCESS_TEST_TIMEOUT_MS);
  t.true(await eventually(async () => (await fetch(`${web.url}/readyz`)).status === 200, PROGRESS_WAIT_MS, 100), 'ready before');
  env.github.addUser({ id: 97_001, login: 'frozen' });
  const token = env.github.issueToken('frozen');
  env.redis.freeze();
  try {
    // Bounded here only so that a hang fails the test rather than the run.
    const answers = await Promise.all([
      fetch(`${web.url}/api/auth/github/login`, { redirect: 'manual', signal: AbortSignal.timeout(PROGRESS_WAIT_MS) }),
      fetch(`${web.url}/api/session`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(PROGRESS_WAIT_MS) }),
    ].map((p) => p.then(async (res) => ({ status: res.status, code: ((await res.json()) as { error?: { code?: string } }).error?.code }), (err: Error) => ({ status: 0, code: err.name }))));
    t.deepEqual(answers, [{ status: 503, code: 'storage_unavailable' }, { status: 503, code: 'storage_unavailable' }]);
  } finally {
    env.redis.thaw();
  }
  t.true(await eventually(async () => (await fetch(`${web.url}/readyz`)).status === 200, PROGRESS_WAIT_MS, 100), 'ready again');
  const res = await fetch(`${web.url}/api/session`, { headers: { authorization: `Bearer ${token}` } });
  t.is(res.status, 200, 'served again once Redis answers');
});

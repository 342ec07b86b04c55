import test from 'ava';
import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { Queue } from 'bullmq';
import { startWeb, type WebProcess } from '../../server/web.js';
import { createLogger } from '../../server/logger.js';
import { startWorker, type WorkerProcess } from '../../workers/process.js';
import { queuePrefix } from '../../server/queues/deployQueue.js';
import { ANOMALY_QUEUE } from '../../workers/tasks/anomalyTask.js';
import { isTerminal } from '../../server/deployments/types.js';
import { Agent } from '../helpers/agent.js';
import { waitUntil } from '../helpers/wait.js';
import { FAST_WATCH, addNodeRepo, signedInWithKey } from '../helpers/pipeline.js';
import { startAnomalyStack, burst, count, TEST_DETECTOR, type AnomalyStack } from './support.js';

// Serial: one manual clock, shared by two web processes and two worker processes.
// Blocks hold across web processes; the detector runs as the workers' repeatable BullMQ job, one
// run at a time however many workers there are; a block does not cancel a running deploy; the
// operator CLI lists, explains and lifts blocks on the same configuration.

let s: AnomalyStack;
let web2: WebProcess;
const workers: WorkerProcess[] = [];
test.before(async () => {
  s = await startAnomalyStack({
    // The CLI reads the system clock and shows the last 60 minutes and 24 hours up to now: every
    // minute this test's clock visits (about a dozen) must lie before the real time of the CLI call.
    // A clock started ahead of real time put the test's traffic in the next hour whenever the run
    // began within minutes of an hour's end, and the CLI then showed none of it.
    start: (Math.floor(Date.now() / 60_000) - 20) * 60_000 + 5_000,
    // The deploy moves when the test says so: building while the block begins, live after it. A 15 s build
    // ran out under CI load before the block began (the deploy was live, and the test could not say).
    renderOptions: { manualDeploys: true },
  });
  web2 = await startWeb({ config: { ...s.stack.config, port: 0 }, logger: createLogger({ level: 'silent' }), clock: s.clock, host: '127.0.0.1', telemetry: { flushMs: 60_000, syncMs: 100 } });
});
test.after.always(async () => {
  for (const w of workers) await w.close(5_000).catch(() => {});
  await web2?.close();
  await s?.close();
});

function admin(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const env = {
    ...process.env, NODE_ENV: 'test', REDIS_URL: s.stack.config.redisUrl, REDIS_PREFIX: s.stack.config.redisPrefix,
    SECRET_KEY: s.stack.config.secretKey.toString('hex'), GITHUB_CLIENT_ID: 'x', GITHUB_CLIENT_SECRET: 'y',
  };
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/admin.ts', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = ''; let err = '';
    child.stdout.on('data', (c) => { out += String(c); });
    child.stderr.on('data', (c) => { err += String(c); });
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

const until = <T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 20_000) => waitUntil(what, fn, timeoutMs, 50);

/** The same browser session, talking to the second web process. */
function twin(agent: Agent): Agent {
  const other = new Agent(web2.url);
  for (const [k, v] of agent.jar) other.jar.set(k, v);
  other.csrfToken = agent.csrfToken;
  return other;
}

test.serial('blocks hold across two web processes, are decided by one detector job across two workers, spare running deploys, and the CLI lifts them', async (t) => {
  t.timeout(180_000);
  const sink = new Writable({ write(_c, _e, cb) { cb(); } });
  for (let i = 0; i < 2; i++) {
    workers.push(await startWorker({
      config: s.stack.config, logger: createLogger({ level: 'warn', destination: sink }), clock: s.clock, watch: FAST_WATCH,
      workerOptions: { concurrency: 5, lockDurationMs: 5_000, stalledIntervalMs: 1_000 }, anomaly: { everyMs: 200, detector: TEST_DETECTOR },
    }));
  }
  const queue = new Queue(ANOMALY_QUEUE, { connection: { url: s.stack.config.redisUrl }, prefix: queuePrefix(s.stack.config.redisPrefix) });
  await until('the detector schedule', async () => (await queue.getJobSchedulers()).length > 0);
  t.is((await queue.getJobSchedulers()).length, 1, 'one schedule, however many workers upserted it');
  await queue.close();

  const carol = await signedInWithKey(s.stack, 'carol18');
  const carolId = (await carol.agent.get('/api/session')).json.user.id as number;
  const carol2 = twin(carol.agent);
  t.is((await carol2.get('/api/session')).status, 200, 'the session works on both processes');
  addNodeRepo(s.stack, 'carol18', 'app');
  const dep = await carol.agent.post('/api/render/deploy', { github_repo: 'carol18/app', project_name: 'app' });
  t.is(dep.status, 202);
  const deployments = s.stack.web.deps.deployments;
  const deployId = await until('the deploy on Render', async () => (await deployments.get(dep.json.id))?.deployId);
  s.stack.render.advanceDeploy(deployId);
  await until('the deploy to be building on Render', async () => (await deployments.get(dep.json.id))?.status === 'build_in_progress' || null);

  const keys = s.stack.web.deps.telemetry.keys;
  const judged = async () => Number(await s.stack.redis.client.get(keys.detectorLast));
  /** Both processes flush, the clock moves into the next minute, and the workers' job judges the one that ended. */
  const nextMinute = async () => {
    await Promise.all([s.stack.web.deps.telemetry.recorder.flush(), web2.deps.telemetry.recorder.flush()]);
    const minute = Math.floor(s.clock.now() / 60_000);
    s.clock.set((minute + 1) * 60_000 + 1_000);
    await until(`the detector job to judge minute ${minute}`, async () => (await judged()) >= minute);
    await Promise.all([s.stack.web.deps.telemetry.guards.sync(), web2.deps.telemetry.guards.sync()]);
  };
  for (let m = 0; m < 6; m++) { s.synthetic(carolId, 'carol18', 6); await nextMinute(); }
  // The burst is spread over both web processes (30 each): only their sum is anomalous.
  for (let m = 0; m < 3; m++) {
    await Promise.all([burst(carol.agent, 30), burst(carol2, 30)]);
    await nextMinute();
  }
  for (const [name, agent] of [['web 1', carol.agent], ['web 2', carol2]] as const) {
    t.is((await agent.get('/api/render/my-deployments')).json?.error?.code, 'account_temporarily_blocked', name);
  }
  t.false(isTerminal((await deployments.get(dep.json.id))!.status), 'the deploy was still running when the block began');
  const events = (await s.stack.redis.client.lrange(s.stack.web.deps.audit.keys('global').entries, 0, -1))
    .map((r) => JSON.parse(r)).filter((e) => e.userId === carolId && e.action === 'security').map((e) => e.detail.securityEvent);
  t.deepEqual(events, ['anomaly_throttled', 'anomaly_blocked'], 'each decision made once, not once per worker');

  // The block refuses requests; it does not touch the deploy already running on Render.
  for (let i = 0; i < 2; i++) s.stack.render.advanceDeploy(deployId);
  const finished = await until('the deploy to finish', async () => {
    const rec = await deployments.get(dep.json.id);
    return rec && isTerminal(rec.status) ? rec : null;
  }, 60_000);
  t.is(finished.status, 'live');

  const blocks = await admin('blocks');
  t.is(blocks.code, 0, blocks.err);
  t.regex(blocks.out, /blocked\s+carol18\s+id \d+\s+until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(\d+ min left\); .*requests \d+ > 40/);
  const tele = await admin('telemetry', 'carol18');
  t.is(tele.code, 0, tele.err);
  t.regex(tele.out, /state: blocked until/);
  t.regex(tele.out, /GET \/api\/render\/my-deployments\s+2xx \d+/);
  t.regex(tele.out, /last 60 minutes[^\n]*:\n {2}\d\d:\d\d {2}\d+ \/ /, 'the minutes of the test are listed');
  t.notRegex(tele.out, /dep-[a-z0-9]{8}|\?/, 'route templates only: no ids, no query strings');
  t.regex(tele.out, /requests\s+\d+(\.\d)? ± /);
  t.is((await admin('unblock', 'nobody-here')).code, 1);
  const lifted = await admin('unblock', 'carol18');
  t.is(lifted.code, 0, lifted.err);
  t.regex(lifted.out, /Lifted the block of carol18/);
  await Promise.all([s.stack.web.deps.telemetry.guards.sync(), web2.deps.telemetry.guards.sync()]);
  t.is((await carol.agent.get('/api/render/my-deployments')).status, 200, 'web 1 after unblock');
  t.is((await carol2.get('/api/render/my-deployments')).status, 200, 'web 2 after unblock');
  t.regex((await admin('blocks')).out, /No user is throttled or blocked/);
  const unblocked = (await s.stack.redis.client.lrange(s.stack.web.deps.audit.keys('global').entries, 0, -1)).map((r) => JSON.parse(r))
    .filter((e) => e.userId === carolId && e.detail.securityEvent === 'anomaly_unblocked');
  t.is(unblocked.length, 1, 'the unblock is audited');
  // Grace: the same burst right after an operator's unblock is learned, not punished.
  await Promise.all([burst(carol.agent, 30), burst(carol2, 30)]);
  t.is(count(await burst(carol.agent, 1), 200), 1);
  await nextMinute();
  t.is((await s.stack.web.deps.telemetry.store.get(carolId)), null);
});

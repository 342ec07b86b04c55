import test, { type ExecutionContext } from 'ava';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { Writable } from 'node:stream';
import { DEPLOY_QUEUE, queuePrefix } from '../../server/queues/deployQueue.js';
import { createLogger } from '../../server/logger.js';
import { MAX_RERUNS, sweepFailedDeployJobs } from '../../workers/orphanSweep.js';
import { giveUpDeployment } from '../../workers/tasks/deployTask.js';
import { cancelOwedOnRender } from '../../server/deployments/cancel.js';
import { startPipelineStack, type PipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, canceledWhileAskHeld, deployedLiveByHand, recordWithDeployId, renderDeploysOf, signedInWithKey, until, waitFinished, type TestWorker } from '../helpers/pipeline.js';

// A deploy job's BullMQ attempts count over its whole life (hours of watching), and BullMQ spends one on
// each run that throws before it can count a failure itself: Redis failing under the record's read or
// the count (deployTask.ts). Once they were used up the job was `failed`, and its deployment kept its
// status for good: "Building" (or "Queued") forever, no final commit status, and CI's redeploys of its
// commit refused as already deploying. Made here as BullMQ makes it: the job's attempts set to 7 and its
// next run throwing as one does when Redis drops a command. A worker's sweep (workers/orphanSweep.ts
// sweepFailedDeployJobs) runs such a job again.

const SWEEP = { graceMs: 200, everyMs: 300 };
let p: PipelineStack;
let current: TestWorker;
test.before(async () => { p = await startPipelineStack({ renderOptions: { manualDeploys: true }, worker: { orphanSweep: SWEEP } }); current = p.worker; });
test.after.always(async () => { await current?.close(5_000); await p?.close(); });

/** The deployment's job uses up its attempts on runs that throw as on a Redis failure; then a healthy worker again. */
async function attemptsUsedUp(id: string) {
  await current.close(5_000);
  await failsForGood(id, 'Connection is closed.');
  current = await p.startWorker({ orphanSweep: SWEEP });
}

/** A user's deploy of a new repository, through the route, until Render builds it: its record and Render's deploy id. */
async function buildingDeploy(t: ExecutionContext, login: string) {
  const { stack } = p;
  const u = await signedInWithKey(stack, login);
  addNodeRepo(stack, login, 'app');
  const asked = await u.agent.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: `${login}-app` });
  t.is(asked.status, 202, asked.text);
  const id = asked.json.id as string;
  const rec = await recordWithDeployId(u.agent, id);
  stack.render.advanceDeploy(rec.deployId);
  await until('building', async () => (await u.agent.get(`/api/render/deployments/${id}`)).json.status === 'build_in_progress');
  return { u, id, deployId: rec.deployId as string };
}

test.serial('a deploy whose job failed for good mid-watch is run again by a worker\'s sweep, and finishes when Render\'s deploy does', async (t) => {
  const { stack } = p;
  const { u, id, deployId } = await buildingDeploy(t, 'failedjob-watch');

  await attemptsUsedUp(id);
  for (let i = 0; i < 3; i++) stack.render.advanceDeploy(deployId);
  const done = await waitFinished(u.agent, id);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  // The run writes the record's end, then its job completes.
  await until('the job completed', async () => (await stack.web.deps.queue.getJobState(id)) === 'completed');
});

test.serial('a queued deployment whose job failed for good before its first step is run again by the sweep and goes live', async (t) => {
  const { stack } = p;
  const u = await signedInWithKey(stack, 'failedjob-queued');
  addNodeRepo(stack, 'failedjob-queued', 'app');
  await current.close(5_000); // no healthy worker takes it first
  const asked = await u.agent.post('/api/render/deploy', { github_repo: 'failedjob-queued/app', project_name: 'failedjob-queued-app' });
  t.is(asked.status, 202, asked.text);
  const id = asked.json.id as string;
  current = await p.startWorker({ orphanSweep: { graceMs: 60_000, everyMs: 0 } }); // closed at once by attemptsUsedUp
  await attemptsUsedUp(id);
  const rec = await recordWithDeployId(u.agent, id);
  for (let i = 0; i < 4; i++) stack.render.advanceDeploy(rec.deployId);
  const done = await waitFinished(u.agent, id);
  t.is(done.status, 'live', JSON.stringify(done.failure));
});

test.serial('a redeploy stuck that way ends with Render\'s failed build, and CI redeploying the same commit again then goes ahead', async (t) => {
  const { stack } = p;
  const u = await signedInWithKey(stack, 'failedjob-ci');
  const first = await deployedLiveByHand(stack, u.agent, 'failedjob-ci');
  const b = stack.github.push('failedjob-ci', 'app', 'main', { 'b.txt': 'B' });
  stack.render.failBuilds({ serviceId: first.serviceId }, 'build_failed'); // its next build only
  const asked = await u.agent.post(`/api/render/services/${first.serviceId}/redeploy`, { commit_sha: b }, { headers: { 'idempotency-key': `ci-1-${b}` } });
  t.is(asked.status, 202, asked.text);
  const rec = await recordWithDeployId(u.agent, asked.json.id);
  await attemptsUsedUp(asked.json.id);
  for (let i = 0; i < 3; i++) { try { stack.render.advanceDeploy(rec.deployId); } catch { /* its build failed */ } }
  t.is((await renderDeploysOf(stack, u.apiKey, first.serviceId)).find((d) => d.id === rec.deployId)?.status, 'build_failed');
  const stuck = await waitFinished(u.agent, asked.json.id);
  t.is(stuck.status, 'build_failed');

  // CI re-runs the job: the same commit, a new key. Nothing of ours is in flight now.
  const again = await u.agent.post(`/api/render/services/${first.serviceId}/redeploy`, { commit_sha: b }, { headers: { 'idempotency-key': `ci-2-${b}` } });
  t.is(again.status, 202, again.text);
  const rerun = await recordWithDeployId(u.agent, again.json.id);
  t.truthy(rerun.deployId, 'asked Render');
  t.is(rerun.failure ?? null, null);
});

/** The job's next run, by a worker that throws `reason`, fails it for good (its attempts set to 7; no other worker runs). */
async function failsForGood(id: string, reason = 'a failure that is not Redis\'s') {
  const { stack } = p;
  const queue = stack.web.deps.queue;
  await stack.redis.client.hset(`${queuePrefix(stack.config.redisPrefix)}:${DEPLOY_QUEUE}:${id}`, 'atm', '7');
  const conn = new Redis(stack.config.redisUrl, { maxRetriesPerRequest: null });
  const thrower = new Worker(DEPLOY_QUEUE, async () => { throw new Error(reason); }, { connection: conn, prefix: queuePrefix(stack.config.redisPrefix) });
  const job = (await queue.getJob(id))!;
  if ((await job.getState()) === 'delayed') await job.promote();
  await until('the job failed for good', async () => (await queue.getJobState(id)) === 'failed');
  await thrower.close();
  conn.disconnect();
}

/** One sweep of failed jobs as a worker runs it, its log kept; giving up through a worker whose own runs are paused. */
async function sweepOnce(ctxWorker: TestWorker, lines: string[]) {
  const { stack } = p;
  const logger = createLogger({ level: 'debug', destination: new Writable({ write(chunk, _e, cb) { lines.push(String(chunk)); cb(); } }) });
  return sweepFailedDeployJobs({
    deployments: stack.web.deps.deployments, queue: stack.web.deps.queue, logger, redis: stack.redis.client, prefix: stack.config.redisPrefix,
    giveUp: (rec) => giveUpDeployment(ctxWorker.context, rec),
  });
}

// A job that fails for good for a reason other than Redis (a bug) was run again every sweep, for ever: the
// deployment never ended, and the log line said "attemptsMade: 0" (read after retry() reset it). Found by a review.
test.serial('a job that keeps failing for good is run again at most MAX_RERUNS times, its log saying why; then its deployment ends failed and the job goes', async (t) => {
  const { stack } = p;
  const { u, id } = await buildingDeploy(t, 'failedjob-loop');
  await current.close(5_000);
  // A worker for its context only: its own runs paused, no sweeps of its own after the first.
  current = await p.startWorker({ orphanSweep: { graceMs: 60_000, everyMs: 0 } });
  await current.orphanSweeps.first;
  await current.worker.pause();

  const lines: string[] = [];
  for (let rerun = 1; rerun <= MAX_RERUNS; rerun++) {
    await failsForGood(id);
    t.is(await sweepOnce(current, lines), 1, `run again, time ${rerun}`);
    t.is((await u.agent.get(`/api/render/deployments/${id}`)).json.status, 'build_in_progress');
  }
  const ranAgain = lines.map((l) => JSON.parse(l)).filter((l) => /run again/.test(l.msg));
  t.is(ranAgain.length, MAX_RERUNS);
  t.like(ranAgain[0], { deploymentId: id, attemptsMade: 8, failedReason: 'a failure that is not Redis\'s', reruns: 1 });

  await failsForGood(id);
  t.is(await sweepOnce(current, lines), 0);
  const ended = (await u.agent.get(`/api/render/deployments/${id}`)).json;
  t.is(ended.status, 'failed');
  t.is(ended.failure?.code, 'upstream_unavailable');
  t.regex(ended.failure?.message ?? '', /could not go on with this deployment/);
  t.is(await stack.web.deps.queue.getJob(id), undefined, 'the job is removed');
  t.true(lines.some((l) => /given up/.test(l)));
  await current.worker.resume();
});

// A canceled deployment may still owe a cancel on Render (its ask was on its way): its job follows that up.
// The sweep took "ended" for "nothing left" and removed such a failed job (found by a review).
test.serial('a failed job of a canceled deployment that still owes a cancel on Render is run again, not removed', async (t) => {
  const { stack } = p;
  const u = await signedInWithKey(stack, 'failedjob-owed');
  const live = await deployedLiveByHand(stack, u.agent, 'failedjob-owed');
  // Render refuses the cancel for now: the follow-up waits to ask again, a delayed job.
  stack.render.setFault({ method: 'POST', route: '/services/{serviceId}/deploys/{deployId}/cancel', apiKey: u.apiKey, kind: 'status', status: 503, count: 1_000 });
  t.teardown(() => stack.render.clearFaults());
  const id = await canceledWhileAskHeld(t, stack, u, { route: '/services/{serviceId}/deploys', path: `/api/render/services/${live.serviceId}/redeploy` });
  await until('the follow-up asked Render to cancel', async () => stack.render.calls.some((c) => c.accountId === u.accountId && c.route === '/services/{serviceId}/deploys/{deployId}/cancel'));
  await until('the follow-up waits to ask again', async () => (await stack.web.deps.queue.getJobState(id)) === 'delayed');
  t.true(cancelOwedOnRender((await stack.web.deps.deployments.get(id))!), 'a cancel is owed on Render');
  await current.close(5_000);

  await failsForGood(id);
  t.is(await sweepOnce(current, []), 1);
  t.not(await stack.web.deps.queue.getJobState(id), 'unknown', 'the job that cancels the deploy on Render is kept');
  current = await p.startWorker({ orphanSweep: SWEEP });
});

// Every worker sweeps: two finding the same failed job at once run it again once, and count one run again.
test.serial('two workers\' sweeps finding one failed job at once run it again once', async (t) => {
  const { stack } = p;
  const { id } = await buildingDeploy(t, 'failedjob-twice');
  await current.close(5_000);
  await failsForGood(id);
  const both = await Promise.all([sweepOnce(current, []), sweepOnce(current, [])]);
  t.is(both[0] + both[1], 1, JSON.stringify(both));
  t.is(await stack.redis.client.get(`${stack.config.redisPrefix}:deployment:${id}:job-reruns`), '1');
  current = await p.startWorker({ orphanSweep: SWEEP });
  await until('run again and building', async () => (await stack.web.deps.queue.getJobState(id)) !== 'failed');
});

import test from 'ava';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { DEPLOY_QUEUE, queuePrefix } from '../../server/queues/deployQueue.js';
import { startPipelineStack, type PipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, deployedLiveByHand, recordWithDeployId, renderDeploysOf, signedInWithKey, until, waitFinished, type TestWorker } from '../helpers/pipeline.js';

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
async function attemptsUsedUp(id: string, promote: boolean) {
  const { stack } = p;
  await current.close(5_000);
  const queue = stack.web.deps.queue;
  const job = (await queue.getJob(id))!;
  await stack.redis.client.hset(`${queuePrefix(stack.config.redisPrefix)}:${DEPLOY_QUEUE}:${id}`, 'atm', '7');
  const conn = new Redis(stack.config.redisUrl, { maxRetriesPerRequest: null });
  const thrower = new Worker(DEPLOY_QUEUE, async () => { throw new Error('Connection is closed.'); }, { connection: conn, prefix: queuePrefix(stack.config.redisPrefix) });
  if (promote && (await job.getState()) === 'delayed') await job.promote();
  await until('the job failed for good', async () => (await queue.getJobState(id)) === 'failed');
  await thrower.close();
  conn.disconnect();
  current = await p.startWorker({ orphanSweep: SWEEP });
}

test.serial('a deploy whose job failed for good mid-watch is run again by a worker\'s sweep, and finishes when Render\'s deploy does', async (t) => {
  const { stack } = p;
  const u = await signedInWithKey(stack, 'failedjob-watch');
  addNodeRepo(stack, 'failedjob-watch', 'app');
  const asked = await u.agent.post('/api/render/deploy', { github_repo: 'failedjob-watch/app', project_name: 'failedjob-watch-app' });
  t.is(asked.status, 202, asked.text);
  const id = asked.json.id as string;
  const rec = await recordWithDeployId(u.agent, id);
  stack.render.advanceDeploy(rec.deployId);
  await until('building', async () => (await u.agent.get(`/api/render/deployments/${id}`)).json.status === 'build_in_progress');

  await attemptsUsedUp(id, true);
  for (let i = 0; i < 3; i++) stack.render.advanceDeploy(rec.deployId);
  const done = await waitFinished(u.agent, id);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  t.is(await stack.web.deps.queue.getJobState(id), 'completed');
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
  await attemptsUsedUp(id, false);
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
  await attemptsUsedUp(asked.json.id, true);
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

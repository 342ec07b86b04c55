import test, { type ExecutionContext } from 'ava';
import type { BackoffOptions } from 'bullmq';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack, type PipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, recordWithDeployId, renderDeploysOf, signedInWithKey, until, waitFinished, type TestWorker } from '../helpers/pipeline.js';

// A deploy is watched by one BullMQ job for up to 3 hours (a delayed job between looks). Each transient
// Render failure (5xx, timeout) was one of the job's 8 attempts (deployQueue.ts attempts: 8), and BullMQ
// never gives attempts back: looks answered in between counted for nothing. So a long build watched
// through a Render that failed now and then ended `failed`, upstream_unavailable "Render or GitHub kept
// failing", at its 8th failure in all, although Render answered the looks between them and put the
// deploy live (and the final commit status and Slack said failed too); BullMQ's backoff grew with the
// same lifetime count, so after a few sporadic failures each later one paused the watch for seconds, then
// minutes. Only failures in a row (workers/tasks/upstreamFailures.ts) may end a deploy now, and the
// wait grows with those alone. Found by a review.

let stack: Stack;
let pipeline: PipelineStack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = pipeline = p));

const LOOK = '/services/{serviceId}/deploys/{deployId}';

/**
 * A deploy asked for while no worker runs, its job given a short backoff (how long the retries wait does
 * not change how many there are: the same 8 attempts), then a worker of its own for the test.
 */
async function deployWithBackoff(t: ExecutionContext, login: string, backoff: BackoffOptions): Promise<{ id: string; agent: any; apiKey: string; accountId: string; worker: TestWorker }> {
  await pipeline.worker.close(5_000);
  const { agent, apiKey, accountId } = await signedInWithKey(stack, login);
  addNodeRepo(stack, login, 'app');
  const res = await agent.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: `${login}-app` });
  t.is(res.status, 202, res.text);
  const id = res.json.id as string;
  const queue = stack.web.deps.queue;
  const job = (await queue.getJob(id))!;
  t.is(job.opts.attempts, 8);
  await queue.remove(id);
  await queue.add('deploy', job.data, { jobId: id, attempts: job.opts.attempts, backoff });
  const worker = await pipeline.startWorker();
  t.teardown(() => worker.close(5_000));
  return { id, agent, apiKey, accountId, worker };
}

/** The looks at the deploy of one account, in order. */
const looksOf = (accountId: string) => stack.render.calls.filter((c) => c.accountId === accountId && c.method === 'GET' && c.route === LOOK);
const failedLooks = (accountId: string) => looksOf(accountId).filter((c) => c.status === 503);

/** How long after each failed look the next look came. */
function waitsAfterFailures(accountId: string): number[] {
  const looks = looksOf(accountId);
  return looks.flatMap((c, i) => (c.status === 503 && looks[i + 1] ? [looks[i + 1]!.at - c.at] : []));
}

test.serial('sporadic Render 503s during a long build do not end a deploy that goes live', async (t) => {
  t.timeout(90_000);
  const { id, agent, apiKey, accountId, worker } = await deployWithBackoff(t, 'longbuild', { type: 'exponential', delay: 20, jitter: 0.5 });
  const release = stack.render.holdPhase({ serviceName: 'longbuild-app' }, 'build_in_progress');
  const rec = await recordWithDeployId(agent, id);
  // One look in three at the deploy is answered 503 (never two in a row); the others are answered.
  const fault = stack.render.setFault({ method: 'GET', route: LOOK, kind: 'status', status: 503, every: 3, apiKey });
  try {
    // The build runs on while the worker watches: 10 failed looks, each followed by answered ones.
    await until('10 failed looks at the deploy', async () => failedLooks(accountId).length >= 10 || (await agent.get(`/api/render/deployments/${id}`)).json.finished, 60_000);
  } finally {
    stack.render.clearFault(fault);
    release();
  }
  const onRender = await until('the deploy live on Render', async () => (await renderDeploysOf(stack, apiKey, rec.serviceId)).find((d) => d.id === rec.deployId && d.status === 'live'));
  t.is(onRender.status, 'live', 'Render built and put the deploy live');
  const done = await waitFinished(agent, id);
  t.log(`${failedLooks(accountId).length} looks answered 503; record: ${done.status} ${JSON.stringify(done.failure)}`);
  t.is(done.status, 'live', `the deployment says ${done.status}: ${done.failure?.message}`);
  t.true(failedLooks(accountId).length >= 10);
  await worker.close(5_000);
});

test.serial('the wait after a sporadic failure is the first retry\'s, however many came before', async (t) => {
  t.timeout(90_000);
  // No jitter: the first retry waits 100 ms; BullMQ's lifetime count made the 6th wait 3.2 s.
  const { id, agent, apiKey, accountId, worker } = await deployWithBackoff(t, 'shortwaits', { type: 'exponential', delay: 100 });
  const release = stack.render.holdPhase({ serviceName: 'shortwaits-app' }, 'build_in_progress');
  await recordWithDeployId(agent, id);
  const fault = stack.render.setFault({ method: 'GET', route: LOOK, kind: 'status', status: 503, every: 2, apiKey });
  try {
    await until('6 failed looks, each followed by another', async () => waitsAfterFailures(accountId).length >= 6 || (await agent.get(`/api/render/deployments/${id}`)).json.finished, 60_000);
  } finally {
    stack.render.clearFault(fault);
    release();
  }
  const waits = waitsAfterFailures(accountId);
  t.log(`waits after failed looks (ms): ${waits.join(', ')}`);
  t.true(waits.length >= 6, `only ${waits.length} failed looks`);
  // 100 ms and a run's start (the run aligner's 100 ms at most); far above it under load, still far below 3.2 s.
  t.true(Math.max(...waits) < 1_500, `a wait grew with failures that were not in a row: ${waits.join(', ')}`);
  t.is((await waitFinished(agent, id)).status, 'live');
  await worker.close(5_000);
});

test.serial('failures of the creation and then of the looks, never 8 in a row, end live: a step that came back starts the count again', async (t) => {
  t.timeout(90_000);
  const { id, agent, apiKey, accountId, worker } = await deployWithBackoff(t, 'twosteps', { type: 'exponential', delay: 20 });
  // Five creations answered 503, then the creation's answer and, in the same run, the first look: five
  // looks answered 503. Ten failures, five at most in a row (the failed look in the run whose creation
  // came back is the first of its own).
  const creates = stack.render.setFault({ method: 'POST', route: '/services', kind: 'status', status: 503, count: 5, apiKey });
  const looks = stack.render.setFault({ method: 'GET', route: LOOK, kind: 'status', status: 503, count: 5, apiKey });
  try {
    const done = await waitFinished(agent, id, 60_000);
    const failedCreates = stack.render.calls.filter((c) => c.accountId === accountId && c.method === 'POST' && c.route === '/services' && c.status === 503).length;
    t.log(`${failedCreates} creations and ${failedLooks(accountId).length} looks answered 503; record: ${done.status} ${JSON.stringify(done.failure)}`);
    t.is(done.status, 'live', `the deployment says ${done.status}: ${done.failure?.message}`);
    t.is(failedCreates, 5);
    t.is(failedLooks(accountId).length, 5);
  } finally {
    stack.render.clearFault(creates);
    stack.render.clearFault(looks);
  }
  await worker.close(5_000);
});

test.serial('a Render that fails every look still ends the deploy failed, after 8 failures in a row with waits that double', async (t) => {
  t.timeout(90_000);
  const { id, agent, apiKey, accountId, worker } = await deployWithBackoff(t, 'renderdown', { type: 'exponential', delay: 20 });
  const release = stack.render.holdPhase({ serviceName: 'renderdown-app' }, 'build_in_progress');
  await recordWithDeployId(agent, id);
  const fault = stack.render.setFault({ method: 'GET', route: LOOK, kind: 'status', status: 503, apiKey });
  try {
    const done = await waitFinished(agent, id, 60_000);
    t.is(done.status, 'failed');
    t.is(done.failure?.code, 'upstream_unavailable');
    t.regex(done.failure?.message ?? '', /^Render or GitHub kept failing \(Render is temporarily unavailable \(503\).*\)\. Try again later\.$/);
    t.is(failedLooks(accountId).length, 8, 'the job\'s 8 attempts, in a row');
    const waits = waitsAfterFailures(accountId);
    t.log(`waits after failed looks (ms): ${waits.join(', ')}`);
    // 20 ms doubling: the 7th wait is 1.28 s at least.
    t.is(waits.length, 7);
    t.true(waits[6]! >= 1_280, `the 7th wait: ${waits[6]} ms`);
  } finally {
    stack.render.clearFault(fault);
    release();
  }
  await worker.close(5_000);
});

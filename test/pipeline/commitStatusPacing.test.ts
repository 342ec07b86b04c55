import test from 'ava';
import { Queue } from 'bullmq';
import { startStack, type Stack } from '../helpers/stack.js';
import { QUICK_PHASES } from '../helpers/pipelineStack.js';
import { addNodeRepo, signedInWithKey, startTestWorker, waitFinished, type TestWorker } from '../helpers/pipeline.js';
import { queuePrefix } from '../../server/queues/deployQueue.js';
import { COMMIT_STATUS_QUEUE } from '../../server/queues/commitStatusQueue.js';

// Commit statuses with GitHub write pacing ON, as in production (GITHUB_RETRIES on; the harness turns
// it off elsewhere), with a short spacing. The status worker's pacer is the one authority (the client
// it posts with does not pace again) and measures from the end of a write; one job of a deployment
// posts at a time, whatever the record says when it runs, so a final status supersedes a pending one
// not yet posted and no job polls for another.
const SPACING_MS = 300;
let stack: Stack;
let worker: TestWorker;
let queue: Queue;
test.before(async () => {
  // Builds take 2 s: a pending status (due a spacing after it is asked) goes out while a deploy runs.
  stack = await startStack({ env: { GITHUB_RETRIES: 'true' }, renderOptions: { phaseMs: { ...QUICK_PHASES, build_in_progress: 2_000 } } });
  worker = await startTestWorker(stack, { commitStatus: { writeIntervalMs: SPACING_MS } });
  queue = new Queue(COMMIT_STATUS_QUEUE, { connection: { url: stack.redis.url }, prefix: queuePrefix(stack.redis.prefix) });
});
test.after.always(async () => { await queue?.close(); await worker?.close(5_000); await stack?.close(); });

type Commit = readonly [owner: string, repo: string, sha: string];

/** Waits (bounded) until every commit's latest status is a final one. */
async function finalStatuses(commits: Commit[]) {
  const final = ([o, r, s]: Commit) => ['success', 'failure'].includes(stack.github.statusesFor(o, r, s).at(-1)?.state ?? '');
  for (let i = 0; i < 400 && !commits.every(final); i++) await new Promise((r) => setTimeout(r, 50));
  return commits.map(([o, r, s]) => stack.github.statusesFor(o, r, s));
}

/** The tenant's statuses, in the order GitHub took them, are each at least a spacing after the one before. */
function assertSpaced(t: { true(v: boolean, m?: string): void }, all: Array<{ createdAt: string }>) {
  const times = all.map((s) => Date.parse(s.createdAt)).sort((a, b) => a - b);
  // A write starts a spacing after the previous one ended, and GitHub stamps a status when it takes it.
  for (let i = 1; i < times.length; i++) t.true(times[i]! - times[i - 1]! >= SPACING_MS - 2, `statuses ${i - 1}→${i}: ${times[i]! - times[i - 1]!} ms apart`);
}

/** BullMQ's event stream of the status queue, each entry's fields. */
async function queueEvents(): Promise<Array<Record<string, string>>> {
  const entries = await stack.redis.client.xrange(`${queuePrefix(stack.redis.prefix)}:${COMMIT_STATUS_QUEUE}:events`, '-', '+');
  return entries.map(([, f]) => Object.fromEntries(f.flatMap((v, i) => (i % 2 ? [] : [[v, f[i + 1]!]]))));
}

/** Which jobs were added, by id. */
const addedJobs = async () => (await queueEvents()).filter((e) => e.event === 'added').map((e) => e.jobId!);

test.serial('a deploy running longer than a spacing: its pending status while it runs, then the result', async (t) => {
  const { agent } = await signedInWithKey(stack, 'steady');
  addNodeRepo(stack, 'steady', 'app');
  const res = await agent.post('/api/render/deploy', { github_repo: 'steady/app', project_name: 'steady-app' });
  const done = await waitFinished(agent, res.json.id, 15_000);
  t.is(done.status, 'live');
  const [statuses] = await finalStatuses([['steady', 'app', done.commitSha]]);
  t.deepEqual(statuses!.map((s) => s.state), ['pending', 'success']);
  t.true(Date.parse(statuses![0]!.createdAt) < Date.parse(done.finishedAt), 'the pending status went out while the deploy ran');
  assertSpaced(t, statuses!);
});

test.serial('a deploy that ends before its pending status went out gets only its final status: one job, one post', async (t) => {
  const { agent } = await signedInWithKey(stack, 'supersede');
  addNodeRepo(stack, 'supersede', 'one');
  addNodeRepo(stack, 'supersede', 'two');
  const jobsBefore = (await addedJobs()).length;
  // GitHub holds status writes: the user's first write stays in flight, so the pacer lets no other go,
  // until both deploys have ended (they do not wait on statuses).
  const release = stack.github.holdStatuses();
  t.teardown(release);
  const ids = await Promise.all(['one', 'two'].map(async (repo) => (await agent.post('/api/render/deploy', { github_repo: `supersede/${repo}`, project_name: `supersede-${repo}` })).json.id as string));
  const done = await Promise.all(ids.map((id) => waitFinished(agent, id, 15_000)));
  t.deepEqual(done.map((d) => d.status), ['live', 'live']);
  // A record is final just before its deploy job asks for the final status: let both asks be made.
  const asked = (id: string) => stack.redis.client.hget(`${stack.redis.prefix}:deployment:${id}:commit-status`, 'asked');
  for (let i = 0; i < 200 && (await Promise.all(ids.map(asked))).some((a) => a !== 'final'); i++) await new Promise((r) => setTimeout(r, 25));
  release();

  const commits = done.map((d, i) => ['supersede', ['one', 'two'][i]!, d.commitSha as string] as const);
  const statuses = await finalStatuses(commits);
  for (const s of statuses) t.is(s.at(-1)!.state, 'success');
  for (const s of statuses) t.false(s.slice(1).some((x) => x.state === 'pending'), 'never a pending status after a final one');
  // At most the one write that was in flight when the deploys ended is a pending status; the other
  // deployment's pending status was superseded by its final one.
  t.true(statuses.flat().filter((s) => s.state === 'pending').length <= 1, JSON.stringify(statuses.map((s) => s.map((x) => x.state))));
  // Each deployment had one status job (its final status asked while that job owned the posting).
  t.deepEqual((await addedJobs()).slice(jobsBefore).sort(), ids.map((id) => `${id}-pending`).sort());
  assertSpaced(t, statuses.flat());
});

test.serial('a tenant\'s burst: every status posted in order, a spacing apart, one job per deployment at a time, no deploy waiting', async (t) => {
  const n = 5;
  const { agent } = await signedInWithKey(stack, 'burst');
  for (let i = 0; i < n; i++) addNodeRepo(stack, 'burst', `app${i}`);
  // Watch the queue while the burst runs: a status job polling for another, or jobs piling up, shows here.
  let watching = true;
  let mostJobs = 0;
  const twoAtOnce: string[] = [];
  const watcher = (async () => {
    while (watching) {
      const jobs = await queue.getJobs(['waiting', 'active', 'delayed', 'prioritized']);
      mostJobs = Math.max(mostJobs, jobs.length);
      const deployments = jobs.map((j) => j.data.deploymentId);
      for (const d of deployments) if (deployments.indexOf(d) !== deployments.lastIndexOf(d)) twoAtOnce.push(d);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const ids = await Promise.all(Array.from({ length: n }, async (_, i) => (await agent.post('/api/render/deploy', { github_repo: `burst/app${i}`, project_name: `burst-app${i}` })).json.id as string));
  const done = await Promise.all(ids.map((id) => waitFinished(agent, id, 15_000)));
  t.deepEqual(done.map((d) => d.status), Array(n).fill('live'));
  const statuses = await finalStatuses(done.map((d, i) => ['burst', `app${i}`, d.commitSha as string] as const));
  watching = false;
  await watcher;

  for (const s of statuses) {
    t.is(s.at(-1)!.state, 'success');
    t.false(s.slice(1).some((x) => x.state === 'pending'), 'never a pending status after a final one');
  }
  assertSpaced(t, statuses.flat());
  t.deepEqual(twoAtOnce, [], 'one status job of a deployment at a time: none waits on another');
  t.true(mostJobs <= n, `${mostJobs} status jobs at once for ${n} deploys`);
  for (let i = 0; i < 100 && (await queue.getJobs(['waiting', 'active', 'delayed', 'prioritized'])).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  t.deepEqual(await queue.getJobs(['waiting', 'active', 'delayed', 'prioritized']), [], 'nothing held once every status is posted');
});

test.serial('pending statuses asked at different moments come due together, on half-spacing boundaries, a spacing or more after each ask', async (t) => {
  const { agent } = await signedInWithKey(stack, 'aligned');
  const repos = ['a', 'b', 'c'];
  for (const repo of repos) addNodeRepo(stack, 'aligned', repo);
  // One at a time, as deploys requested a few a second are: each asks its pending status at its own moment.
  const done = [];
  for (const repo of repos) {
    const res = await agent.post('/api/render/deploy', { github_repo: `aligned/${repo}`, project_name: `aligned-${repo}` });
    done.push(await waitFinished(agent, res.json.id as string, 15_000));
  }
  // BullMQ's 'delayed' event names the time the job is due.
  const dueAt = new Map((await queueEvents()).filter((e) => e.event === 'delayed').map((e) => [e.jobId!, Number(e.delay)]));
  for (const d of done) {
    const due = dueAt.get(`${d.id}-pending`);
    t.truthy(due, `a delayed pending job for ${d.id}`);
    // The pending status is asked once the record is creating_service (the commit checked, its stack detected).
    const asked = Date.parse(d.timeline.find((e: { status: string }) => e.status === 'creating_service').at);
    t.is(due! % (SPACING_MS / 2), 0, `due at ${due}: on a half-spacing boundary shared by every ask in its window`);
    t.true(due! >= asked + SPACING_MS, `due ${due! - asked} ms after it was asked: at least a spacing`);
  }
});

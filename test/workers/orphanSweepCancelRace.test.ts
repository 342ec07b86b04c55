import test from 'ava';
import { removeDeployJob } from '../../server/queues/deployQueue.js';
import { sweepQueuedOrphans } from '../../workers/orphanSweep.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { QUICK_PHASES } from '../helpers/pipelineStack.js';
import { addNodeRepo, signedInWithKey, startTestWorker, until, type TestWorker } from '../helpers/pipeline.js';

// The orphan sweep (workers/orphanSweep.ts) reads a queued record whose job was lost, then adds its job
// back through the fair enqueuer (the user's pending set, then the job). A cancel landing between that read
// and the add (the user sees "Queued" for minutes and presses Cancel) took the id off the pending set, and
// the sweep put it back; that job's run found the record ended and returned, and the entry stayed: every
// later deploy of the user one priority step lower, for as long as they kept deploying (found by a probe).
// The interleaving is made by running the cancel inside the sweep's `inspect`, after its read.

let stack: Stack;
const workers: TestWorker[] = [];
test.before(async () => { stack = await startStack({ renderOptions: { phaseMs: QUICK_PHASES } }); });
test.after.always(async () => { await Promise.all(workers.map((w) => w.close(5_000))); await stack?.close(); });

const pendingOf = (userId: number) => stack.redis.client.zrange(`${stack.redis.prefix}:user:${userId}:pending`, '0', '-1');

test('a cancel between the orphan sweep\'s read and its re-enqueue leaves no pending entry behind', async (t) => {
  const u = await signedInWithKey(stack, 'sweeprace');
  addNodeRepo(stack, 'sweeprace', 'app');
  const res = await u.agent.post('/api/render/deploy', { github_repo: 'sweeprace/app', project_name: 'sweeprace-app' });
  t.is(res.status, 202, res.text);
  const id = res.json.id as string;
  const userId = (await stack.web.deps.deployments.get(id))!.userId;
  // Its job lost (as the sweep's own tests make an orphan).
  t.true(await removeDeployJob(stack.web.deps.queue, id));

  const deps = stack.web.deps;
  let canceled = false;
  const deployments = new Proxy(deps.deployments, {
    get(target, prop, receiver) {
      if (prop === 'inspect') {
        return async (rid: string) => {
          const found = await target.inspect(rid);
          if (rid === id && !canceled) {
            canceled = true;
            const c = await u.agent.post(`/api/render/deployments/${id}/cancel`);
            t.is(c.status, 200, c.text);
            t.is(c.json.status, 'canceled');
          }
          return found;
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  });
  const swept = await sweepQueuedOrphans({ deployments, queue: deps.queue, enqueuer: deps.enqueuer, clock: deps.clock, logger: deps.logger }, { graceMs: 0 });
  t.true(canceled);
  t.deepEqual(swept, { looked: 1, requeued: 1 }, 'the sweep added the job back after the cancel');

  // Let a worker run whatever job the sweep added (its run finds the record canceled).
  const w = await startTestWorker(stack, { orphanSweep: { everyMs: 0, graceMs: 3_600_000 } });
  workers.push(w);
  await until('the job run', async () => {
    const job = await deps.queue.getJob(id);
    const state = job ? await job.getState() : 'gone';
    return state === 'completed' || state === 'gone' || state === 'failed' ? state : null;
  }, 15_000);

  t.is((await u.agent.get(`/api/render/deployments/${id}`)).json.status, 'canceled');
  const leftover = await pendingOf(userId);

  // What it costs: the user's next lone deploy is not priority 1.
  await deps.queue.pause();
  t.teardown(() => deps.queue.resume());
  const lone = await u.agent.post('/api/render/deploy', { github_repo: 'sweeprace/app', project_name: 'sweeprace-two' });
  t.is(lone.status, 202, lone.text);
  t.deepEqual(leftover, [], 'the canceled deployment still counts as a pending job of its user after its job ran');
  t.is((await deps.queue.getJob(lone.json.id))?.opts.priority, 1, 'the user\'s only waiting deploy should have priority 1');
});

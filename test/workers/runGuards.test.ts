import test from 'ava';
import type { Job } from 'bullmq';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { JobTakenOver, fencedRenderWrites } from '../../workers/tasks/jobFence.js';
import { clearUpstreamFailures, countUpstreamFailure, retryDelayMs, upstreamFailuresBefore } from '../../workers/tasks/upstreamFailures.js';
import type { WorkerContext } from '../../workers/context.js';
import type { DeployJobData } from '../../server/queues/deployQueue.js';

// The two guards of a deploy run, on a real Redis, against what earlier runs or other processes left
// there: the job fence (jobFence.ts) and the count of upstream failures in a row (upstreamFailures.ts).
// Their runs through the whole pipeline: test/pipeline/jobTakenOver.test.ts, upstreamFailuresInARow.test.ts.

let redis: TestRedis;
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { await redis?.stop(); });

const ctxOf = () => ({ redis: redis.client, config: { redisPrefix: redis.prefix } }) as unknown as WorkerContext;
const jobOf = (id: string, backoff?: unknown) => ({ id, queueQualifiedName: `${redis.prefix}:q:deploys`, opts: { attempts: 8, backoff } }) as unknown as Job<DeployJobData>;

test('the fence: a write (POST, PUT) goes out only while the lock holds the run\'s token; reads always; a run outside a worker is not fenced', async (t) => {
  const job = jobOf('dep-fence');
  const lock = `${redis.prefix}:q:deploys:dep-fence:lock`;
  const before: string[] = [];
  const fenced = fencedRenderWrites(ctxOf(), job, 'run-token', async (call) => { before.push(call.method); });
  const post = { method: 'POST', route: '/services' } as const;
  const get = { method: 'GET', route: '/services' } as const;

  await redis.client.set(lock, 'run-token');
  await t.notThrowsAsync(fenced(post));
  await redis.client.set(lock, 'another-run');
  await t.throwsAsync(fenced(post), { instanceOf: JobTakenOver }, 'another run holds the job');
  await t.throwsAsync(fenced({ method: 'PUT', route: '/services/{serviceId}/env-vars/{envVarKey}' }), { instanceOf: JobTakenOver }, 'an env value written is fenced too');
  await t.notThrowsAsync(fenced(get), 'a read is not fenced');
  await redis.client.del(lock);
  await t.throwsAsync(fenced(post), { instanceOf: JobTakenOver }, 'a lock that lapsed, not yet taken: the stalled check gives the job to a new run');
  t.deepEqual(before, ['POST', 'POST', 'PUT', 'GET', 'POST'], 'the budget is asked first, each time');
  const unfenced = fencedRenderWrites(ctxOf(), job, undefined, async () => {});
  await t.notThrowsAsync(unfenced(post));
});

test('failures in a row: counted from what is stored, a value that is not a count as none; a run that advanced starts again at one; cleared only when there was a count', async (t) => {
  const ctx = ctxOf();
  const key = `${redis.prefix}:deployment:dep-count:upstream-failures`;
  t.is(await upstreamFailuresBefore(ctx, 'dep-count'), 0);
  await redis.client.set(key, 'not-a-number');
  t.is(await upstreamFailuresBefore(ctx, 'dep-count'), 0);
  t.is(await countUpstreamFailure(ctx, 'dep-count', false), 1, 'left over garbage counts as none');
  t.is(await countUpstreamFailure(ctx, 'dep-count', false), 2);
  t.is(await countUpstreamFailure(ctx, 'dep-count', true), 1, 'a run that moved the record on starts the count again');
  t.true((await redis.client.pttl(key)) > 23 * 3_600_000, 'it lapses within a day if no run clears it');
  // Another deployment's count is its own (a redeploy of the same service is a new deployment).
  t.is(await upstreamFailuresBefore(ctx, 'dep-other'), 0);
  await clearUpstreamFailures(ctx, 'dep-count', 0);
  t.is(await redis.client.exists(key), 1, 'a run that found none writes nothing');
  await clearUpstreamFailures(ctx, 'dep-count', null);
  t.is(await redis.client.exists(key), 0, 'unknown (Redis failed at the start): cleared anyway');
});

test('the retry wait follows the job\'s backoff from the failures in a row: exponential with its jitter, fixed, or a bare number', (t) => {
  for (let n = 1; n <= 8; n++) {
    const most = 2_000 * 2 ** (n - 1);
    const wait = retryDelayMs(jobOf('j', { type: 'exponential', delay: 2_000, jitter: 0.5 }), n);
    t.true(wait >= most / 2 && wait <= most, `${n}: ${wait}`);
  }
  t.is(retryDelayMs(jobOf('j', { type: 'fixed', delay: 1_500 }), 6), 1_500);
  t.is(retryDelayMs(jobOf('j', 300), 3), 1_200);
  const clamped = retryDelayMs(jobOf('j', { type: 'exponential', delay: 100, jitter: 7 }), 1);
  t.true(clamped >= 0 && clamped <= 100, `a jitter beyond 1 is taken as 1: ${clamped}`);
});

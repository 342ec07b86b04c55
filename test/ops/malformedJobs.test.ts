import test from 'ava';
import { Queue } from 'bullmq';
import { startOpsEnv, eventually, logLines, sleep, PROCESS_TEST_TIMEOUT_MS, type OpsEnv } from './support/cluster.js';
import { queuePrefix, DEPLOY_QUEUE } from '../../server/queues/deployQueue.js';
import { COMMIT_STATUS_QUEUE } from '../../server/queues/commitStatusQueue.js';
import type { ChildWorker } from '../helpers/processes.js';

// Jobs written by someone who can write Redis but holds no SECRET_KEY (SECURITY.md: they cannot make the worker
// act; at most a denial of service). Their data is JSON null. A commit-status job's ended the worker process
// (its failed handler destructured the data in a promise nobody handled), every tenant's jobs in flight with it;
// a deploy job's read the id before the integrity check, and was retried as a Redis failure (found by a review).
let env: OpsEnv;
test.before(async () => { env = await startOpsEnv(); });
test.after.always(async () => { await env?.close(); });

const alive = (w: ChildWorker) => w.proc.exitCode === null && w.proc.signalCode === null;

for (const [queueName, name, jobId] of [[DEPLOY_QUEUE, 'deploy', 'dpl-nulldata0000000000000'], [COMMIT_STATUS_QUEUE, 'final', 'dpl-nulldata0000000000001-final']] as const) {
  test.serial(`a ${queueName} job whose data is null is done with at once; the worker process runs on, with no error`, async (t) => {
    t.timeout(PROCESS_TEST_TIMEOUT_MS);
    const worker = await env.spawnWorker();
    const q = new Queue(queueName, { connection: { url: env.redis.url }, prefix: queuePrefix(env.config.redisPrefix) });
    t.teardown(() => q.close());
    await q.add(name, null, { jobId, attempts: 3 });
    t.true(await eventually(async () => (await q.getJobState(jobId)) === 'completed' || !alive(worker), 30_000), `job state ${await q.getJobState(jobId)}`);
    await sleep(1_000);
    t.true(alive(worker), `worker alive: ${worker.output.join('').split('\n').filter((l) => !l.startsWith('{')).slice(-12).join('\n')}`);
    t.is(await q.getJobState(jobId), 'completed', 'not failed, not retried');
    t.deepEqual(logLines(worker.output, 'worker error'), [], 'no worker error');
  });
}

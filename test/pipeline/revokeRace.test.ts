import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { startRedisHold, type RedisHold } from '../helpers/redisHold.js';
import { addNodeRepo, signedInWithKey, until, waitFinished } from '../helpers/pipeline.js';
import { startWorker, type WorkerProcess } from '../../workers/process.js';
import { createLogger } from '../../server/logger.js';

// The worker's run reads the deployment's session; a sign-out lands meanwhile and ends the deployment
// (credentials_revoked, the sign-out's words). The run then found the session gone and wrote the same end,
// which was not made (the record had ended), yet it counted the deployment as finished by a worker and
// wrote a deploy_finished entry for an end it did not write. Only the writer of a deployment's end says so.

let stack: Stack;
let hold: RedisHold;
let worker: WorkerProcess;
test.before(async () => {
  stack = await startStack();
  hold = await startRedisHold(stack.config.redisUrl);
  // The worker reaches Redis through the hold: its commands can be stopped at a known one.
  worker = await startWorker({ config: { ...stack.config, redisUrl: hold.url }, logger: createLogger({ level: 'silent' }), sentinel: { alerts: stack.slackAlerts } });
});
test.after.always(async () => {
  hold?.release();
  await worker?.close(2_000);
  await hold?.close();
  await stack?.close();
});

test('a sign-out that ends a deploy while its worker reads the session: the worker adds no deploy_finished entry of its own', async (t) => {
  t.timeout(90_000);
  const first = await signedInWithKey(stack, 'revrace');
  const userId = (await first.agent.get('/api/session')).json.user.id as number;
  addNodeRepo(stack, 'revrace', 'app');
  hold.holdAt(':sess:');
  const res = await first.agent.post('/api/render/deploy', { github_repo: 'revrace/app', project_name: 'app' });
  t.is(res.status, 202, res.text);
  await hold.held(30_000);
  // The sign-out waits (a while) for the run holding the job; the revocation is written before that.
  const signOut = first.agent.post('/api/auth/logout');
  await until('the sign-out ended the deployment', async () => ((await stack.web.deps.deployments.get(res.json.id))?.status === 'credentials_revoked' ? true : null));
  hold.release();
  t.is((await signOut).status, 200);
  await until('the run is over', async () => {
    const job = await stack.web.deps.queue.getJob(res.json.id);
    const state = job ? await job.getState() : 'gone';
    return state === 'active' ? null : state;
  });

  // A deploy of another session, to its end: its entry follows whatever the run above appended (one
  // worker appends in order), so the trail can be read for that run's once this one is there.
  const again = stack.agent();
  await stack.signIn(again, 'revrace');
  t.is((await again.post('/api/render/setup', { api_key: first.apiKey })).status, 200);
  const next = await again.post('/api/render/deploy', { github_repo: 'revrace/app', project_name: 'app-two' });
  t.is(next.status, 202, next.text);
  t.is((await waitFinished(again, next.json.id)).status, 'live');
  const trail = await until('the second deploy\'s deploy_finished entry', async () => {
    const { entries } = await stack.web.deps.audit.listForUser(userId, { limit: 50 });
    return entries.some((e) => e.action === 'deploy_finished' && (e.detail as { deploymentId?: string }).deploymentId === next.json.id) ? entries : null;
  });
  const finished = trail.filter((e) => e.action === 'deploy_finished').map((e) => (e.detail as { deploymentId?: string; status?: string }));
  t.deepEqual(finished.map((d) => d.deploymentId), [next.json.id], JSON.stringify(finished));
  t.is((await stack.web.deps.deployments.get(res.json.id))?.status, 'credentials_revoked');
});

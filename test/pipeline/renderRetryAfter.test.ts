import test from 'ava';
import { startPipelineStack, QUICK_PHASES, type PipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, recordWithDeployId, signedInWithKey } from '../helpers/pipeline.js';
import { startHostileProxy, type HostileProxy } from '../helpers/hostileProxy.js';

// Render answers a deploy's watch 429 with odd Retry-After values. A day's wait delayed the job a day
// (deployTask.ts took Retry-After as is, and the watch's bound is checked only when a look starts): the
// deploy stayed "Building" past watch_timeout. A Retry-After of "-5" was read by Date.parse as a date
// in 2001, a wait of 0 that hid Ratelimit-Reset: the worker asked again after its jitter, a 429 storm.

const LOOK = '/services/{serviceId}/deploys/{deployId}';
let p: PipelineStack;
let proxy: HostileProxy;

test.before(async () => {
  proxy = await startHostileProxy();
  p = await startPipelineStack({ renderOptions: { phaseMs: QUICK_PHASES }, env: { RENDER_API_URL: proxy.url } });
  proxy.target = p.stack.render.url.replace(/\/v1$/, '');
  await p.worker.close(5_000);
});
test.after.always(async () => { await p?.close(); await proxy?.close(); });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test.serial('a 429 whose Retry-After is a day does not keep a deploy unfinished past the watch bound', async (t) => {
  const worker = await p.startWorker({ watch: { maxMs: 3_000, queuedUnmatchedMs: 3_000 } });
  t.teardown(() => worker.close(5_000));
  const { agent, apiKey } = await signedInWithKey(p.stack, 'aday');
  addNodeRepo(p.stack, 'aday', 'app');
  const release = p.stack.render.holdPhase({ serviceName: 'aday-app' }, 'build_in_progress');
  t.teardown(release);
  const id = (await agent.post('/api/render/deploy', { github_repo: 'aday/app', project_name: 'aday-app' })).json.id as string;
  await recordWithDeployId(agent, id);
  const fault = p.stack.render.setFault({ method: 'GET', route: LOOK, kind: 'status', status: 429, ms: 86_400_000, count: 1, apiKey });
  t.teardown(() => p.stack.render.clearFault(fault));
  await sleep(12_000);
  const rec = (await agent.get(`/api/render/deployments/${id}`)).json;
  const job = await p.stack.web.deps.queue.getJob(id);
  const state = job ? await job.getState() : 'none';
  t.log(`after 12 s (watch bound 3 s): record ${rec.status} finished=${rec.finished}; job ${state}, delay ${job?.delay} ms`);
  t.true(rec.finished, `the deployment is still ${rec.status}, its job ${state} for ${Math.round((job?.delay ?? 0) / 3_600_000)} h`);
});

test.serial('a 429 with Retry-After: -5 and Ratelimit-Reset: 30 is not asked again at once', async (t) => {
  const worker = await p.startWorker();
  t.teardown(() => worker.close(5_000));
  const { agent } = await signedInWithKey(p.stack, 'negra');
  addNodeRepo(p.stack, 'negra', 'app');
  const release = p.stack.render.holdPhase({ serviceName: 'negra-app' }, 'build_in_progress');
  t.teardown(release);
  const id = (await agent.post('/api/render/deploy', { github_repo: 'negra/app', project_name: 'negra-app' })).json.id as string;
  const rec = await recordWithDeployId(agent, id);
  const lookPath = `/v1/services/${rec.serviceId}/deploys/${rec.deployId}`;
  let limited = 0;
  proxy.rule = (req, res, path) => {
    if (req.method !== 'GET' || path !== lookPath) return false;
    limited++;
    res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '-5', 'ratelimit-limit': '400', 'ratelimit-remaining': '0', 'ratelimit-reset': '30' });
    res.end('{"message":"rate limit exceeded"}');
    return true;
  };
  t.teardown(() => { proxy.rule = null; });
  await sleep(5_000);
  t.log(`${limited} looks answered 429 in 5 s`);
  t.true(limited <= 2, `Render said wait 30 s (Ratelimit-Reset; Retry-After unreadable), the worker asked ${limited} times in 5 s`);
});

import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, recordWithDeployId, signedInWithKey, until, waitFinished } from '../helpers/pipeline.js';

// Render answers the watch's look at deploy X (GET /services/{serviceId}/deploys/{deployId}) with a 200
// of the wrong shape. The client read any JSON object as the deploy, and the watch (workers/tasks/
// renderDeploy.ts) trusted its `status` and wrote its `id` over the record's deployId: an answer
// naming another deploy, or none, said `live` and the deployment ended live while Render was still
// building, its deployId replaced by another deploy's or gone (GET /api/render/deployments/:id then
// answered 200 without the required `deployId`). A deploy answer must now name the deploy asked for
// and carry a status (server/render/resources/deploys.ts): anything else is a retryable bad_response,
// retried as an upstream failure, and the record keeps its deploy.

const LOOK = '/services/{serviceId}/deploys/{deployId}';
let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => { ({ stack } = p); });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function watchedWith(t: any, login: string, body: unknown) {
  const { agent, apiKey, accountId } = await signedInWithKey(stack, login);
  addNodeRepo(stack, login, 'app');
  const release = stack.render.holdPhase({ serviceName: `${login}-app` }, 'build_in_progress');
  t.teardown(release);
  const id = (await agent.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: `${login}-app` })).json.id as string;
  const before = await recordWithDeployId(agent, id);
  const looks = () => stack.render.calls.filter((c) => c.accountId === accountId && c.route === LOOK).length;
  const n = looks();
  const fault = stack.render.setFault({ method: 'GET', route: LOOK, kind: 'body', body, count: 1, apiKey });
  t.teardown(() => stack.render.clearFault(fault));
  await until('the odd answer read', async () => looks() > n);
  // Not a timing assertion: a settle so the run that read the odd answer has written what it would.
  await sleep(1_000);
  const stored = await stack.web.deps.deployments.get(id);
  let contract = 'ok';
  let after: any;
  try { after = (await agent.get(`/api/render/deployments/${id}`)).json; } catch (err) { contract = (err as Error).message.split('\n')[1] ?? String(err); after = stored; }
  t.log(`stored record: status ${stored?.status}, deployId ${JSON.stringify(stored?.deployId)}; API contract: ${contract}`);
  t.log(`before ${before.status} ${before.deployId}; after ${after.status} ${after.deployId} finished=${after.finished}`);
  return { before, after, agent, id, release };
}

test.serial('a look answered {"id":"dep-other","status":"live"} does not end the deployment live', async (t) => {
  const { before, after } = await watchedWith(t, 'otherid', { id: 'dep-d0000000000000000000', status: 'live', trigger: 'api', createdAt: new Date().toISOString() });
  t.not(after.status, 'live', `Render's deploy ${before.deployId} is still building, the record says live with ${after.deployId}`);
});

test.serial('a look answered {} keeps the deploy id', async (t) => {
  const { before, after } = await watchedWith(t, 'emptyobj', {});
  t.is(after.deployId, before.deployId);
});

test.serial('a look answered {"status":"live"} (no id) does not end the deployment live', async (t) => {
  const { before, after } = await watchedWith(t, 'noid', { status: 'live' });
  t.not(after.status, 'live', `Render's deploy ${before.deployId} is still building; the record says live (deployId ${after.deployId})`);
});

// The odd answer is an upstream failure retried (workers/tasks/upstreamFailures.ts), not the end of the watch.
test.serial('after a look answered with another deploy, the deployment still follows its own deploy to live', async (t) => {
  const { before, agent, id, release } = await watchedWith(t, 'follows', { id: 'dep-d0000000000000000001', status: 'build_failed' });
  release();
  const done = await waitFinished(agent, id);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  t.is(done.deployId, before.deployId);
});

import test, { type ExecutionContext } from 'ava';
import type { Stack } from '../helpers/stack.js';
import { useGitHubLinkedPipelineStack } from '../helpers/pipelineStack.js';
import { renderDeploysOf, signedInWithKey, until, waitFinished } from '../helpers/pipeline.js';

// Two CI runs overlapping (no concurrency group, which README says is handled): push A, then push B. Run A creates
// the service with commit_sha A; the branch is at B already, so the new service's first deploy builds B, and run A's
// deployment stops it (or deploys A over it, if it went live first) before asking for A. Run B finds the service and
// redeploys B meanwhile. Its check took that first deploy for B live or in flight, deployed nothing, and A went live
// after it: the older commit live, and B's commit said live (found by a probe of the repository changing under the
// app). Now B's check waits until A has asked for its commit, then deploys B after it.
let stack: Stack;
useGitHubLinkedPipelineStack(test, (p) => { ({ stack } = p); });

const NODE_APP = { 'package.json': JSON.stringify({ name: 'ci', scripts: { start: 'node index.js' } }), 'index.js': '' };

async function overlappingRuns(t: ExecutionContext, login: string, opts: { headHeldBuilding: boolean; headLiveFirst?: boolean }) {
  const { agent, apiKey } = await signedInWithKey(stack, login);
  stack.github.addRepo({ owner: login, name: 'app', branches: { main: NODE_APP } });
  const a = stack.github.branchHead(login, 'app', 'main')!;
  const b = stack.github.push(login, 'app', 'main', { ...NODE_APP, 'b.txt': 'B' });
  const building = opts.headHeldBuilding ? stack.render.holdPhase({ serviceName: login }, 'build_in_progress') : () => {};
  t.teardown(building);
  // Run A's stop of the first deploy (of the head, B) held at Render.
  const stop = stack.render.holdRequest({ method: 'POST', route: '/services/{serviceId}/deploys/{deployId}/cancel', apiKey });
  t.teardown(stop.release);
  const runA = await agent.post('/api/render/deploy', { github_repo: `${login}/app`, branch: 'main', project_name: login, commit_sha: a });
  t.is(runA.status, 202, runA.text);
  await stop.arrived;
  const serviceId = await until('service id', async () => (await agent.get(`/api/render/deployments/${runA.json.id}`)).json.serviceId as string | null);
  // The first deploy (of B) live before run A's stop reaches Render: A deploys its commit over it.
  // A's own deploy is then held building, so B's check finds B live and A on its way to replace it.
  let aBuilding = () => {};
  if (opts.headLiveFirst) {
    await until('the first deploy live', async () => ((await renderDeploysOf(stack, apiKey, serviceId)).some((d) => d.status === 'live' && d.commit?.id === b) ? true : null));
    aBuilding = stack.render.holdPhase({ serviceName: login }, 'build_in_progress');
    t.teardown(aBuilding);
  }
  const runB = await agent.post(`/api/render/services/${serviceId}/redeploy`, { commit_sha: b });
  t.is(runB.status, 202, runB.text);
  // B's check waits for A's ask: its job delayed, nothing decided.
  await until('B waiting', async () => ((await stack.web.deps.queue.getJob(runB.json.id))?.delay ? true : null));
  t.false((await agent.get(`/api/render/deployments/${runB.json.id}`)).json.finished);
  stop.release();
  building();
  if (opts.headLiveFirst) {
    await until('B decided', async () => { const r = (await agent.get(`/api/render/deployments/${runB.json.id}`)).json; return r.finished || r.deployId ? true : null; });
    aBuilding();
  }
  const [doneA, doneB] = [await waitFinished(agent, runA.json.id, 60_000), await waitFinished(agent, runB.json.id, 60_000)];
  t.is(doneB.status, 'live', JSON.stringify(doneB.failure));
  t.true(['live', 'deactivated'].includes(doneA.status), doneA.status);
  const live = (await renderDeploysOf(stack, apiKey, serviceId)).find((d) => d.status === 'live');
  t.is(live?.commit?.id, b, `the newer commit B (${b.slice(0, 7)}) is live, not A (${a.slice(0, 7)})`);
}

test('run B\'s redeploy while run A stops the new service\'s first deploy: B live in the end', async (t) => {
  await overlappingRuns(t, 'ciover', { headHeldBuilding: false });
});

test('run B\'s redeploy after the new service\'s first deploy (of B) went live, run A then deploying A over it: B deployed again after A', async (t) => {
  // B's check found B live and called it done, while A was on its way to replace it.
  await overlappingRuns(t, 'ciover3', { headHeldBuilding: false, headLiveFirst: true });
});

test('run B\'s redeploy while the new service\'s first deploy still builds B and run A stops it: B live in the end', async (t) => {
  await overlappingRuns(t, 'ciover2', { headHeldBuilding: true });
});

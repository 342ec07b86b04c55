import test from 'ava';
import { manualClock } from '../../server/clock.js';
import type { Stack } from '../helpers/stack.js';
import { useGitHubLinkedPipelineStack } from '../helpers/pipelineStack.js';
import { signedInWithKey, until, waitFinished } from '../helpers/pipeline.js';

// A redeploy waits while a deploy of ours settles the new service it created (ciOverlapNewService.test.ts), but for a
// while at most: a deploy stuck there (its stop of the first deploy never answered, its job lost) held every later
// redeploy of the service back for good, each looking again every second (found by a review).
const clock = manualClock(Date.now());
let stack: Stack;
// Run A's stop stays unanswered (held) for the whole test, not given up after Render's usual 15 s.
useGitHubLinkedPipelineStack(test, (p) => { stack = p.stack; }, { clock, renderTimeoutMs: 300_000 });

const NODE_APP = { 'package.json': JSON.stringify({ name: 'ci', scripts: { start: 'node index.js' } }), 'index.js': '' };

test('a redeploy waiting for a new service\'s first deploy to settle is judged after 10 minutes, settled or not', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'cistuck');
  stack.github.addRepo({ owner: 'cistuck', name: 'app', branches: { main: NODE_APP } });
  const a = stack.github.branchHead('cistuck', 'app', 'main')!;
  const b = stack.github.push('cistuck', 'app', 'main', { ...NODE_APP, 'b.txt': 'B' });
  // The first deploy (of B) building, and run A's stop of it never answered, while the test runs.
  t.teardown(stack.render.holdPhase({ serviceName: 'cistuck' }, 'build_in_progress'));
  const stop = stack.render.holdRequest({ method: 'POST', route: '/services/{serviceId}/deploys/{deployId}/cancel', apiKey });
  t.teardown(stop.release);
  const runA = await agent.post('/api/render/deploy', { github_repo: 'cistuck/app', branch: 'main', project_name: 'cistuck', commit_sha: a });
  await stop.arrived;
  const serviceId = await until('service id', async () => (await agent.get(`/api/render/deployments/${runA.json.id}`)).json.serviceId as string | null);
  const runB = await agent.post(`/api/render/services/${serviceId}/redeploy`, { commit_sha: b });
  t.is(runB.status, 202, runB.text);
  await until('B waiting', async () => ((await stack.web.deps.queue.getJob(runB.json.id))?.delay ? true : null));
  clock.advance(11 * 60_000); // the worker's clock, past the wait's bound measured from B's request (the web's clock)
  // Judged now as before the wait existed: the first deploy, building B, is in flight.
  const doneB = await waitFinished(agent, runB.json.id, 30_000);
  t.is(doneB.status, 'canceled');
  t.is(doneB.failure?.code, 'commit_already_deploying');
});

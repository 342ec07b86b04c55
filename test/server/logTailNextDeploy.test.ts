import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, QUICK_LOG_TAIL } from '../helpers/pipelineStack.js';
import { addNodeRepo, renderApi, renderDeploysOf, signedInWithKey, until } from '../helpers/pipeline.js';
import { openSseAs, sseLogLines } from '../helpers/sse.js';

// Render's logs cannot be asked for one deploy: a deployment's build lines are the service's build lines
// between its deploy's start and end. While it runs, its window ends "now"; when it ends, the service's
// next deploy, queued behind it (a push, the Dashboard), builds at once. The live tail re-read the deploy
// only once the record had a final status (the worker's next check, up to 15 s later), so the next
// deploy's build lines streamed into this deployment's panel meanwhile, and stayed there.

let stack: Stack;
usePipelineStack(test, {
  renderOptions: { manualDeploys: true },
  logTail: QUICK_LOG_TAIL,
  // The worker's checks far apart: the record stays "building" while the next deploy builds.
  worker: { watch: { initialMs: 20_000, maxDelayMs: 20_000 } },
}, (p) => { ({ stack } = p); });

test('a deploy queued behind this one builds as soon as it ends: its build lines never reach this one\'s live panel', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'nextdeploy');
  addNodeRepo(stack, 'nextdeploy', 'app');
  const id = (await agent.post('/api/render/deploy', { github_repo: 'nextdeploy/app', project_name: 'nextdeploy-app' })).json.id as string;
  const r = await until('ids', async () => {
    const rec = (await agent.get(`/api/render/deployments/${id}`)).json;
    return rec.serviceId && rec.deployId ? { serviceId: rec.serviceId as string, deployId: rec.deployId as string } : null;
  });
  stack.render.advanceDeploy(r.deployId); // building
  const tab = await openSseAs(agent, `/api/events?logs=${id}`);
  t.teardown(() => tab.close());
  await tab.waitFor((text) => sseLogLines(text).some((l) => l.message.startsWith('==> Cloning')), 15_000);

  // A second deploy of the same service, started on Render's side: queued behind this one.
  await renderApi(stack, apiKey, 'POST', `/services/${r.serviceId}/deploys`, {});
  const next = (await renderDeploysOf(stack, apiKey, r.serviceId)).find((d) => d.id !== r.deployId)!;
  stack.render.advanceDeploy(r.deployId);
  stack.render.advanceDeploy(r.deployId); // live: the next one starts
  stack.render.advanceDeploy(next.id); // the next one builds, and prints
  stack.render.appendLog(r.serviceId, 'a build line of the next deploy', { type: 'build' });
  // This deploy's own app line, after it: once it streamed, the build window was read to its end.
  stack.render.appendLog(r.serviceId, 'listening on port 10000', { type: 'app' });
  await tab.waitFor((text) => sseLogLines(text).some((l) => l.message === 'listening on port 10000'), 30_000);

  const lines = sseLogLines(tab.text());
  t.not((await agent.get(`/api/render/deployments/${id}`)).json.status, 'live', 'the record had not heard yet');
  t.false(lines.some((l) => l.message === 'a build line of the next deploy'), 'the next deploy\'s line in this panel');
  t.is(lines.filter((l) => l.message.startsWith('==> Cloning')).length, 1, 'one clone: this deploy\'s');
  t.true(lines.some((l) => l.message.includes('Your service is live')), 'this deploy\'s lines all there');
});

import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { addNodeRepo, TAKEOVER_WORKER, renderDeploysOf, signedInWithKey, until, waitFinished } from '../helpers/pipeline.js';
import { workerSpawner, type ChildWorker } from '../helpers/processes.js';

// A worker stopped (SIGSTOP) while its POST /services is at Render, past its job's lock; another worker takes
// the job over, adopts the service and its first deploy and carries the deployment on; then the first worker
// resumes (SIGCONT) with Render's answer waiting. Its record write was made over the record the other had moved
// on: the page went back from Building to created, with a second creation entry (found by a worker-kill probe).

let stack: Stack;
test.before(async () => { stack = await startStack({ renderOptions: { manualDeploys: true } }); });
test.after.always(async () => { await stack?.close(); });

async function servicesNamed(apiKey: string, name: string): Promise<Array<{ id: string }>> {
  const res = await fetch(`${stack.render.url}/services?name=${encodeURIComponent(name)}&limit=100`, { headers: { authorization: `Bearer ${apiKey}` } });
  const list = (await res.json()) as Array<{ service: { id: string; name: string } }>;
  return list.filter((e) => e.service.name === name).map((e) => e.service);
}

test.serial('SIGSTOP during POST /services, another worker takes over, SIGCONT: record never goes back, one service, one deploy', async (t) => {
  t.timeout(110_000);
  const start = workerSpawner(t, stack.config);

  const user = await signedInWithKey(stack, 'stop-create');
  addNodeRepo(stack, 'stop-create', 'app');
  const hold = stack.render.holdRequest({ method: 'POST', route: '/services', apiKey: user.apiKey });
  const a: ChildWorker = await start(TAKEOVER_WORKER);
  const asked = await user.agent.post('/api/render/deploy', { github_repo: 'stop-create/app', project_name: 'stop-create-app' });
  t.is(asked.status, 202, asked.text);
  const id = asked.json.id as string;
  await hold.arrived;
  a.proc.kill('SIGSTOP');
  hold.release(); // Render creates the service; its answer waits in the stopped worker's socket

  const b = await start(TAKEOVER_WORKER);
  // B adopts the service and its first deploy.
  const rec1 = await until('B names the deploy', async () => {
    const r = (await user.agent.get(`/api/render/deployments/${id}`)).json;
    return r.deployId ? r : null;
  }, 60_000);
  stack.render.advanceDeploy(rec1.deployId); // build_in_progress
  await until('build_in_progress seen', async () => (await user.agent.get(`/api/render/deployments/${id}`)).json.status === 'build_in_progress', 30_000);
  const before = (await user.agent.get(`/api/render/deployments/${id}`)).json;

  a.proc.kill('SIGCONT');
  // A's run is over once BullMQ refuses it the job (its lock is B's): whatever it wrote, it wrote before that.
  await until('A\'s run ended', async () => a.output.join('').includes(`Missing lock for job ${id}`) || null, 30_000);
  const after = (await user.agent.get(`/api/render/deployments/${id}`)).json;
  t.is(after.status, 'build_in_progress', 'the record did not go back');
  t.deepEqual(after.timeline, before.timeline, 'the stalled run wrote nothing over the record B moved on');

  // Finish on Render.
  for (let i = 0; i < 6; i++) {
    const r = (await user.agent.get(`/api/render/deployments/${id}`)).json;
    if (r.finished) break;
    try { stack.render.advanceDeploy(r.deployId); } catch { /* ended */ }
    await new Promise((res) => setTimeout(res, 300));
  }
  const done = await waitFinished(user.agent, id, 30_000);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  const services = await servicesNamed(user.apiKey, 'stop-create-app');
  t.is(services.length, 1, 'one service');
  const deploys = await renderDeploysOf(stack, user.apiKey, services[0]!.id);
  t.is(deploys.length, 1, `one Render deploy: ${JSON.stringify(deploys.map((d) => [d.id, d.status, d.trigger]))}`);
  const created = done.timeline.filter((e: any) => /Service created on Render|Resumed: service/.test(e.note ?? ''));
  t.is(created.length, 1, `one creation entry in the timeline: ${JSON.stringify(done.timeline)}`);
  await b.kill('SIGKILL');
});

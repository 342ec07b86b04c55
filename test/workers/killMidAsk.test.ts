import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { addNodeRepo, deployedLiveByHand, TAKEOVER_WORKER, renderDeploysOf, signedInWithKey, until, waitFinished } from '../helpers/pipeline.js';
import { workerSpawner } from '../helpers/processes.js';

// A worker killed (kill -9) while its Render write (a redeploy's trigger; a creation then canceled) is at Render,
// Render answering after the worker died; a second worker takes the job over.

let stack: Stack;
test.before(async () => { stack = await startStack({ renderOptions: { manualDeploys: true } }); });
test.after.always(async () => { await stack?.close(); });

function useStarter(t: { teardown(fn: () => Promise<void>): void }) {
  const spawn = workerSpawner(t, stack.config);
  return (options: object = TAKEOVER_WORKER) => spawn(options);
}

const get = async (agent: any, id: string) => (await agent.get(`/api/render/deployments/${id}`)).json;

test.serial('kill -9 during a redeploy\'s POST /deploys: one deploy on Render, live', async (t) => {
  t.timeout(110_000);
  const start = useStarter(t);
  const user = await signedInWithKey(stack, 'kill-redeploy');
  const a = await start();
  const first = await deployedLiveByHand(stack, user.agent, 'kill-redeploy');
  const hold = stack.render.holdRequest({ method: 'POST', route: '/services/{serviceId}/deploys', apiKey: user.apiKey });
  const again = await user.agent.post(`/api/render/services/${first.serviceId}/redeploy`);
  t.is(again.status, 202, again.text);
  const id = again.json.id as string;
  await hold.arrived;
  await a.kill('SIGKILL');
  hold.release();
  await start();
  const rec = await until('deploy named', async () => { const r = await get(user.agent, id); return r.deployId || r.finished ? r : null; }, 60_000);
  for (let i = 0; i < 8; i++) {
    const r = await get(user.agent, id);
    if (r.finished) break;
    if (r.deployId) try { stack.render.advanceDeploy(r.deployId); } catch { /* */ }
    await new Promise((res) => setTimeout(res, 300));
  }
  const done = await waitFinished(user.agent, id, 30_000);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  const deploys = await renderDeploysOf(stack, user.apiKey, first.serviceId);
  t.is(deploys.length, 2, JSON.stringify(deploys.map((d) => [d.id, d.status, d.trigger])));
  t.truthy(rec);
  t.log(done.timeline.map((e: any) => `${e.status}:${e.note ?? ''}`));
});

test.serial('kill -9 during POST /services, user cancels meanwhile: the created service\'s first deploy is canceled by the next worker', async (t) => {
  t.timeout(110_000);
  const start = useStarter(t);
  const user = await signedInWithKey(stack, 'kill-cancel');
  addNodeRepo(stack, 'kill-cancel', 'app');
  const a = await start();
  const hold = stack.render.holdRequest({ method: 'POST', route: '/services', apiKey: user.apiKey });
  const asked = await user.agent.post('/api/render/deploy', { github_repo: 'kill-cancel/app', project_name: 'kill-cancel-app' });
  const id = asked.json.id as string;
  await hold.arrived;
  a.proc.kill('SIGSTOP');
  const canceled = await user.agent.post(`/api/render/deployments/${id}/cancel`);
  t.log('cancel', canceled.status, canceled.text.slice(0, 300));
  hold.release();
  const services = await until('service exists', async () => {
    const res = await fetch(`${stack.render.url}/services?name=kill-cancel-app&limit=100`, { headers: { authorization: `Bearer ${user.apiKey}` } });
    const list = (await res.json()) as Array<{ service: { id: string; name: string } }>;
    return list.length ? list : null;
  });
  await a.kill('SIGKILL'); // Render made it; the answer dies with the worker
  await start();
  t.is(services.length, 1);
  const serviceId = services[0]!.service.id;
  const ended = await until('first deploy canceled on Render', async () => {
    const d = await renderDeploysOf(stack, user.apiKey, serviceId);
    return d.every((x) => x.status === 'canceled') && d.length ? d : null;
  }, 60_000).catch(async () => renderDeploysOf(stack, user.apiKey, serviceId));
  const rec = await get(user.agent, id);
  t.log(rec.status, rec.serviceId, JSON.stringify(rec.failure), ended.map((d) => [d.id, d.status]));
  t.is(rec.status, 'canceled');
  t.is(rec.serviceId, serviceId, 'the canceled record notes the service');
  t.deepEqual(ended.map((d) => d.status), ['canceled']);
});

import test from 'ava';
import { startRenderSimulator, type RenderSimOptions } from '../../sandbox/render/index.js';
import { renderTestClient, waitFor, webServiceBody } from './render-test-client.js';

// The deploy state machine: phases, queueing (202 with an empty body), deactivation, failure
// injection, cancel and rollback.

async function setup(opts: RenderSimOptions = { manualDeploys: true }) {
  const sim = await startRenderSimulator(opts);
  const account = sim.addAccount({ apiKey: 'rnd_dep' });
  const api = renderTestClient(sim.url, 'rnd_dep');
  const create = async (name: string, extra: Record<string, unknown> = {}) => {
    const res = await api.call('POST', '/services', webServiceBody(account.ownerId, name, extra));
    if (res.status !== 201) throw new Error(`create failed: ${res.status} ${res.text}`);
    return { serviceId: res.body.service.id as string, deployId: res.body.deployId as string };
  };
  const deploy = async (serviceId: string, deployId: string) => (await api.get(`/services/${serviceId}/deploys/${deployId}`)).body;
  return { sim, account, api, create, deploy };
}

const withPreDeploy = { serviceDetails: { runtime: 'node', preDeployCommand: 'npm run migrate', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'npm start' } } };

test('a deploy walks created → build → pre-deploy → update → live; the previous live one is deactivated', async (t) => {
  const { sim, api, create, deploy } = await setup();
  t.teardown(() => sim.close());
  const { serviceId, deployId } = await create('phases', withPreDeploy);
  const first = await deploy(serviceId, deployId);
  t.is(first.status, 'created');
  t.is(first.trigger, 'api');
  t.is(first.startedAt, null);
  t.is(first.finishedAt, null);
  t.regex(first.commit.id, /^[0-9a-f]{40}$/);
  t.truthy(first.commit.message);
  const seen = [first.status];
  for (let i = 0; i < 4; i++) {
    sim.advanceDeploy(deployId);
    seen.push((await deploy(serviceId, deployId)).status);
  }
  t.deepEqual(seen, ['created', 'build_in_progress', 'pre_deploy_in_progress', 'update_in_progress', 'live']);
  const live = await deploy(serviceId, deployId);
  t.truthy(live.startedAt);
  t.truthy(live.finishedAt);
  sim.advanceDeploy(deployId); // no-op once finished
  t.is((await deploy(serviceId, deployId)).status, 'live');

  const second = await api.call('POST', `/services/${serviceId}/deploys`, {});
  t.is(second.status, 201);
  t.is(second.body.status, 'created');
  for (let i = 0; i < 4; i++) sim.advanceDeploy(second.body.id);
  t.is((await deploy(serviceId, second.body.id)).status, 'live');
  t.is((await deploy(serviceId, deployId)).status, 'deactivated');
  const list = (await api.get(`/services/${serviceId}/deploys`)).body.map((d: { deploy: { id: string } }) => d.deploy.id);
  t.deepEqual(list, [second.body.id, deployId], 'newest first');
});

test('without a pre-deploy command the phase is skipped; phaseMs 0 makes deploys instant', async (t) => {
  const { sim, create, deploy } = await setup({ phaseMs: { created: 0, build_in_progress: 0, pre_deploy_in_progress: 0, update_in_progress: 0 } });
  t.teardown(() => sim.close());
  const { serviceId, deployId } = await create('instant');
  t.is((await deploy(serviceId, deployId)).status, 'live');
});

test('holdPhase keeps matching deploys in that phase past its time until released; other services run on', async (t) => {
  const { sim, api, create, deploy } = await setup({ phaseMs: { created: 0, build_in_progress: 0, pre_deploy_in_progress: 0, update_in_progress: 0 } });
  t.teardown(() => sim.close());
  const release = sim.holdPhase({ serviceName: 'held' }, 'build_in_progress');
  const held = await create('held');
  const other = await create('free');
  t.is((await deploy(other.serviceId, other.deployId)).status, 'live');
  await new Promise((r) => setTimeout(r, 50));
  t.is((await deploy(held.serviceId, held.deployId)).status, 'build_in_progress');
  release();
  t.is((await deploy(held.serviceId, held.deployId)).status, 'live');
  const again = await api.call('POST', `/services/${held.serviceId}/deploys`, {});
  t.is(again.status, 201);
  t.is((await deploy(held.serviceId, again.body.id)).status, 'live', 'released: the next deploy is not held');
});

test('a deploy requested while one runs answers 202 with an empty body, is queued, then runs', async (t) => {
  // 'created' lasts a minute so deploy #1 is surely still running when #2 is requested; the test
  // nudges each deploy past 'created' with advanceDeploy and the timers do the rest.
  const { sim, api, create, deploy } = await setup({ phaseMs: { created: 60_000, build_in_progress: 5, pre_deploy_in_progress: 5, update_in_progress: 5 } });
  t.teardown(() => sim.close());
  const { serviceId, deployId } = await create('queue');
  const res = await api.call('POST', `/services/${serviceId}/deploys`, { clearCache: 'do_not_clear' });
  t.is(res.status, 202);
  t.is(res.text, '');
  t.is(res.headers.get('content-length'), '0');
  // What the Render CLI does to learn the id of a queued deploy.
  const queued = (await api.get(`/services/${serviceId}/deploys?status=queued&limit=1`)).body;
  t.is(queued.length, 1);
  const queuedId: string = queued[0].deploy.id;
  t.is(queued[0].deploy.startedAt, null);
  sim.advanceDeploy(deployId);
  await waitFor(async () => ((await deploy(serviceId, queuedId)).status === 'created' ? true : undefined));
  t.is((await deploy(serviceId, deployId)).status, 'live', 'the queued deploy starts once the running one ends');
  sim.advanceDeploy(queuedId);
  const done = await waitFor(async () => {
    const d = await deploy(serviceId, queuedId);
    return d.status === 'live' ? d : undefined;
  });
  t.truthy(done.finishedAt);
  t.is((await deploy(serviceId, deployId)).status, 'deactivated');
});

test('failBuilds injects build, pre-deploy and update failures, count times', async (t) => {
  const { sim, api, create, deploy } = await setup({ phaseMs: { created: 0, build_in_progress: 0, pre_deploy_in_progress: 0, update_in_progress: 0 } });
  t.teardown(() => sim.close());
  sim.failBuilds({ serviceName: 'broken-build' }, 'build_failed', 2);
  sim.failBuilds({ repo: 'https://github.com/acme/broken-pre' }, 'pre_deploy_failed');
  sim.failBuilds({ repo: 'acme/broken-update' }, 'update_failed');

  const b = await create('broken-build');
  const failed = await deploy(b.serviceId, b.deployId);
  t.is(failed.status, 'build_failed');
  t.truthy(failed.finishedAt);
  t.is((await api.call('POST', `/services/${b.serviceId}/deploys`, {})).body.status, 'build_failed');
  t.is((await api.call('POST', `/services/${b.serviceId}/deploys`, {})).body.status, 'live', 'count is used up');

  const p = await create('broken-pre');
  t.is((await deploy(p.serviceId, p.deployId)).status, 'pre_deploy_failed');
  const u = await create('broken-update');
  t.is((await deploy(u.serviceId, u.deployId)).status, 'update_failed');
  const ok = await create('healthy');
  t.is((await deploy(ok.serviceId, ok.deployId)).status, 'live');

  const account = (await api.get('/owners')).body[0].owner.id;
  const logs = await api.get(`/logs?ownerId=${account}&resource=${b.serviceId}&level=error&limit=100`);
  t.true(logs.body.logs.some((l: { message: string }) => l.message.includes('Build failed')));
});

test('failBuilds by service id, and over the control surface', async (t) => {
  const { sim, create, deploy, api } = await setup();
  t.teardown(() => sim.close());
  const { serviceId, deployId } = await create('target');
  for (let i = 0; i < 4; i++) sim.advanceDeploy(deployId);
  const res = await fetch(`${sim.controlUrl}/builds/fail`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ match: { serviceId }, status: 'update_failed' }) });
  t.is(res.status, 204);
  const next = (await api.call('POST', `/services/${serviceId}/deploys`, {})).body;
  for (let i = 0; i < 3; i++) sim.advanceDeploy(next.id);
  t.is((await deploy(serviceId, next.id)).status, 'update_failed');
  t.is((await deploy(serviceId, deployId)).status, 'live', 'a failed deploy leaves the live one live');
});

test('cancel: only while in progress; the queued deploy then starts', async (t) => {
  const { sim, api, create, deploy } = await setup();
  t.teardown(() => sim.close());
  const { serviceId, deployId } = await create('cancel-me');
  sim.advanceDeploy(deployId); // build_in_progress
  t.is((await api.call('POST', `/services/${serviceId}/deploys`, {})).status, 202);
  const canceled = await api.call('POST', `/services/${serviceId}/deploys/${deployId}/cancel`);
  t.is(canceled.status, 200);
  t.is(canceled.body.status, 'canceled');
  t.truthy(canceled.body.finishedAt);
  const again = await api.call('POST', `/services/${serviceId}/deploys/${deployId}/cancel`);
  t.is(again.status, 400);
  const next = (await api.get(`/services/${serviceId}/deploys?limit=1`)).body[0].deploy;
  t.is(next.status, 'created', 'the queued deploy started');
  for (let i = 0; i < 3; i++) sim.advanceDeploy(next.id);
  t.is((await deploy(serviceId, next.id)).status, 'live');
  t.is((await api.call('POST', `/services/${serviceId}/deploys/${next.id}/cancel`)).status, 400);
  t.is((await api.call('POST', `/services/${serviceId}/deploys/dep-aaaaaaaaaaaaaaaaaaaa/cancel`)).status, 404);
});

test('rollback redeploys an earlier commit with trigger rollback', async (t) => {
  const { sim, api, create, deploy } = await setup();
  t.teardown(() => sim.close());
  const { serviceId, deployId } = await create('roll');
  for (let i = 0; i < 3; i++) sim.advanceDeploy(deployId);
  const second = (await api.call('POST', `/services/${serviceId}/deploys`, { commitId: 'abcdef1234567890abcdef1234567890abcdef12' })).body;
  t.is(second.commit.id, 'abcdef1234567890abcdef1234567890abcdef12');
  for (let i = 0; i < 3; i++) sim.advanceDeploy(second.id);
  t.is((await deploy(serviceId, deployId)).status, 'deactivated');

  const rb = await api.call('POST', `/services/${serviceId}/rollback`, { deployId });
  t.is(rb.status, 201);
  t.is(rb.body.trigger, 'rollback');
  t.is(rb.body.commit.id, (await deploy(serviceId, deployId)).commit.id);
  for (let i = 0; i < 3; i++) sim.advanceDeploy(rb.body.id);
  t.is((await deploy(serviceId, rb.body.id)).status, 'live');
  t.is((await deploy(serviceId, second.id)).status, 'deactivated');

  t.is((await api.call('POST', `/services/${serviceId}/rollback`, {})).status, 400);
  t.is((await api.call('POST', `/services/${serviceId}/rollback`, { deployId: 'dep-bbbbbbbbbbbbbbbbbbbb' })).status, 404);
  sim.failBuilds({ serviceId }, 'build_failed');
  const bad = (await api.call('POST', `/services/${serviceId}/deploys`, {})).body;
  sim.advanceDeploy(bad.id);
  sim.advanceDeploy(bad.id);
  t.is((await deploy(serviceId, bad.id)).status, 'build_failed');
  t.is((await api.call('POST', `/services/${serviceId}/rollback`, { deployId: bad.id })).status, 400);
});

test('trigger body validation and image-backed deploys', async (t) => {
  const { sim, account, api, deploy } = await setup();
  t.teardown(() => sim.close());
  const img = await api.call('POST', '/services', {
    type: 'web_service', name: 'nginx', ownerId: account.ownerId,
    image: { ownerId: account.ownerId, imagePath: 'docker.io/library/nginx:latest' },
    serviceDetails: { runtime: 'image' },
  });
  t.is(img.status, 201, img.text);
  const d = await deploy(img.body.service.id, img.body.deployId);
  t.is(d.commit, null);
  t.is(d.image.ref, 'docker.io/library/nginx:latest');
  t.regex(d.image.sha, /^sha256:[0-9a-f]{64}$/);
  sim.advanceDeploy(d.id);
  t.is((await deploy(img.body.service.id, d.id)).status, 'update_in_progress', 'image deploys skip the build');
  const svc = img.body.service.id;
  t.is((await api.call('POST', `/services/${svc}/deploys`, { clearCache: 'sometimes' })).status, 400);
  t.is((await api.call('POST', `/services/${svc}/deploys`, { deployMode: 'deploy_only', clearCache: 'clear' })).status, 400);
  t.is((await api.call('POST', `/services/${svc}/deploys`, { commitId: 'abc1234' })).status, 400);
  t.is((await api.call('POST', `/services/${svc}/deploys`, [])).status, 400);
});

test('service events trace each deploy (a polling alternative to webhooks)', async (t) => {
  const { sim, api, create } = await setup({ phaseMs: { created: 0, build_in_progress: 0, pre_deploy_in_progress: 0, update_in_progress: 0 } });
  t.teardown(() => sim.close());
  sim.failBuilds({ serviceName: 'evented' }, 'update_failed', 1);
  const { serviceId, deployId } = await create('evented', withPreDeploy);
  const second = (await api.call('POST', `/services/${serviceId}/deploys`, { clearCache: 'clear' })).body;
  const events = (await api.get(`/services/${serviceId}/events?limit=100`)).body.map((e: { event: { type: string; details: Record<string, unknown> } }) => e.event).reverse();
  t.deepEqual(events.map((e: { type: string }) => e.type), [
    'build_started', 'build_ended', 'pre_deploy_started', 'pre_deploy_ended', 'deploy_started', 'deploy_ended',
    'build_started', 'build_ended', 'pre_deploy_started', 'pre_deploy_ended', 'deploy_started', 'deploy_ended', 'server_available',
  ]);
  t.like(events[0].details, { trigger: { firstBuild: true, clearCache: false, rollback: false } });
  t.like(events[5].details, { deployId, deployStatus: 'failed' });
  t.like(events[6].details, { trigger: { firstBuild: false, clearCache: true } });
  t.like(events[11].details, { deployId: second.id, deployStatus: 'succeeded' });
  const page = (await api.get(`/services/${serviceId}/events?type=deploy_ended`)).body;
  t.is(page.length, 2);
  t.is((await api.get(`/services/${serviceId}/events?type=deploy_ended&type=build_ended`)).body.length, 4);
  t.is((await api.get(`/services/${serviceId}/events?type=deploy_ended,build_ended&limit=3`)).body.length, 3);
  const one = await api.get(`/events/${page[0].event.id}`);
  t.is(one.body.serviceId, serviceId);
  const stranger = sim.addAccount({ apiKey: 'rnd_stranger' });
  t.truthy(stranger);
  t.is((await api.call('GET', `/events/${page[0].event.id}`, undefined, { key: 'rnd_stranger' })).status, 404);
});

test('deploy lists page by cursor, newest first', async (t) => {
  const { sim, api, create } = await setup({ phaseMs: { created: 0, build_in_progress: 0, pre_deploy_in_progress: 0, update_in_progress: 0 } });
  t.teardown(() => sim.close());
  const { serviceId } = await create('many');
  for (let i = 0; i < 4; i++) await api.call('POST', `/services/${serviceId}/deploys`, {});
  const all = (await api.get(`/services/${serviceId}/deploys`)).body.map((d: { deploy: { id: string } }) => d.deploy.id);
  t.is(all.length, 5);
  const paged: string[] = [];
  let cursor = '';
  for (;;) {
    const page = (await api.get(`/services/${serviceId}/deploys?limit=2${cursor}`)).body;
    if (page.length === 0) break;
    paged.push(...page.map((d: { deploy: { id: string } }) => d.deploy.id));
    cursor = `&cursor=${encodeURIComponent(page.at(-1).cursor)}`;
  }
  t.deepEqual(paged, all);
  t.deepEqual((await api.get(`/services/${serviceId}/deploys?status=deactivated,live`)).body.length, 5);
  t.deepEqual((await api.get(`/services/${serviceId}/deploys?status=live`)).body.map((d: { deploy: { id: string } }) => d.deploy.id), [all[0]]);
  t.is((await api.get(`/services/${serviceId}/deploys?status=exploded`)).status, 400);
});

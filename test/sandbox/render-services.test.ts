import test from 'ava';
import { startRenderSimulator, type RenderSimulator, type SimAccount } from '../../sandbox/render/index.js';
import { renderTestClient, webServiceBody, type RenderTestClient } from './render-test-client.js';

// Services, owners and tenancy: pagination, filters in both array encodings, 404 across accounts.

interface Ctx { sim: RenderSimulator; ada: SimAccount; api: RenderTestClient; bob: RenderTestClient; bobAccount: SimAccount }

async function setup(): Promise<Ctx> {
  const sim = await startRenderSimulator({ phaseMs: { created: 0, build_in_progress: 0, pre_deploy_in_progress: 0, update_in_progress: 0 } });
  const ada = sim.addAccount({ apiKey: 'rnd_ada', user: { name: 'Ada', email: 'ada@example.com' } });
  const bobAccount = sim.addAccount({ apiKey: 'rnd_bob', user: { name: 'Bob', email: 'bob@example.com' } });
  return { sim, ada, bobAccount, api: renderTestClient(sim.url, 'rnd_ada'), bob: renderTestClient(sim.url, 'rnd_bob') };
}

test('cursor pagination walks every service once, then answers []', async (t) => {
  const { sim, ada, api } = await setup();
  t.teardown(() => sim.close());
  const ids: string[] = [];
  for (let i = 0; i < 7; i++) {
    const res = await api.call('POST', '/services', webServiceBody(ada.ownerId, `svc-${i}`));
    t.is(res.status, 201);
    ids.push(res.body.service.id);
  }
  const seen: string[] = [];
  let cursor = '';
  let pages = 0;
  for (;;) {
    const res = await api.get(`/services?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    t.is(res.status, 200);
    pages += 1;
    if (res.body.length === 0) break;
    t.true(res.body.length === 3 || res.body.length === 1, 'only the last page may be short');
    for (const item of res.body) seen.push(item.service.id);
    cursor = res.body[res.body.length - 1].cursor;
  }
  t.is(pages, 4); // 3 + 3 + 1, then []
  t.deepEqual([...seen].sort(), [...ids].sort());
  t.is(new Set(seen).size, 7);
  // The default limit is 20, so everything fits in one page.
  t.is((await api.get('/services')).body.length, 7);
});

test('limit bounds and bad cursors answer 400', async (t) => {
  const { sim, api } = await setup();
  t.teardown(() => sim.close());
  for (const q of ['limit=0', 'limit=101', 'limit=abc', 'limit=-1', 'cursor=%%%garbage']) {
    const res = await api.get(`/services?${q}`);
    t.is(res.status, 400, q);
    t.is(typeof res.body.message, 'string');
  }
  t.is((await api.get('/services?limit=100')).status, 200);
  t.is((await api.get('/services?limit=1')).status, 200);
  t.is((await api.get('/owners?limit=101')).status, 400);
});

test('array filters accept comma-separated and repeated keys', async (t) => {
  const { sim, ada, api } = await setup();
  t.teardown(() => sim.close());
  await api.call('POST', '/services', webServiceBody(ada.ownerId, 'alpha'));
  await api.call('POST', '/services', webServiceBody(ada.ownerId, 'beta', { serviceDetails: { runtime: 'python', region: 'frankfurt', envSpecificDetails: { buildCommand: 'pip install .', startCommand: 'gunicorn app:app' } } }));
  await api.call('POST', '/services', {
    type: 'background_worker', name: 'gamma', ownerId: ada.ownerId, repo: 'https://github.com/acme/gamma',
    serviceDetails: { runtime: 'go', envSpecificDetails: { buildCommand: 'go build', startCommand: './app' } },
  });
  const names = (res: { body: Array<{ service: { name: string } }> }) => res.body.map((x) => x.service.name).sort();
  t.deepEqual(names(await api.get('/services?name=alpha,beta')), ['alpha', 'beta']);
  t.deepEqual(names(await api.get('/services?name=alpha&name=beta')), ['alpha', 'beta']);
  t.deepEqual(names(await api.get('/services?name=alpha,beta&name=gamma')), ['alpha', 'beta', 'gamma']);
  t.deepEqual(names(await api.get('/services?type=background_worker')), ['gamma']);
  t.deepEqual(names(await api.get('/services?type=web_service&type=background_worker')), ['alpha', 'beta', 'gamma']);
  t.deepEqual(names(await api.get('/services?region=frankfurt')), ['beta']);
  t.deepEqual(names(await api.get('/services?env=go,python')), ['beta', 'gamma']);
  t.deepEqual(names(await api.get(`/services?ownerId=${ada.ownerId}&suspended=not_suspended`)), ['alpha', 'beta', 'gamma']);
  t.deepEqual(names(await api.get('/services?suspended=suspended')), []);
  t.is((await api.get('/services?type=spaceship')).status, 400);
  const future = new Date(Date.now() + 3_600_000).toISOString();
  t.deepEqual(names(await api.get(`/services?createdAfter=${future}`)), []);
  t.is(names(await api.get(`/services?createdBefore=${future}`)).length, 3);
  t.is((await api.get('/services?createdBefore=yesterday')).status, 400);
  const owners = await api.get('/owners?name=nobody&name=Ada%27s%20Workspace');
  t.is(owners.body.length, 1);
});

test('a key only sees its own workspaces: someone else\'s ids are 404, never 403', async (t) => {
  const { sim, ada, api, bob, bobAccount } = await setup();
  t.teardown(() => sim.close());
  const svc = (await api.call('POST', '/services', webServiceBody(ada.ownerId, 'private'))).body.service;
  const deployId = (await api.get(`/services/${svc.id}/deploys`)).body[0].deploy.id;
  for (const [method, path] of [
    ['GET', `/services/${svc.id}`], ['PATCH', `/services/${svc.id}`], ['DELETE', `/services/${svc.id}`],
    ['POST', `/services/${svc.id}/suspend`], ['POST', `/services/${svc.id}/deploys`],
    ['GET', `/services/${svc.id}/deploys/${deployId}`], ['GET', `/services/${svc.id}/env-vars`],
    ['GET', `/owners/${ada.ownerId}`], ['GET', `/owners/${ada.ownerId}/audit-logs`],
  ] as const) {
    const res = await bob.call(method, path, method === 'GET' || method === 'DELETE' ? undefined : {});
    t.is(res.status, 404, `${method} ${path}`);
    t.regex(res.body.message, /^not found: /);
  }
  t.deepEqual((await bob.get('/services')).body, []);
  t.is((await bob.get('/owners')).body[0].owner.id, bobAccount.ownerId);
  t.is((await bob.call('POST', '/services', webServiceBody(ada.ownerId, 'sneaky'))).status, 400);
  t.is((await api.get(`/services/${svc.id}`)).status, 200);
});

test('scoped keys see one workspace; shared teams are visible to both members', async (t) => {
  const sim = await startRenderSimulator({ manualDeploys: true });
  t.teardown(() => sim.close());
  const full = sim.addAccount({ apiKey: 'rnd_full', workspaces: [{ name: 'Mine', type: 'user' }, { name: 'Team', type: 'team' }] });
  const scoped = sim.addAccount({ apiKey: 'rnd_scoped', scoped: true, workspaces: [{ id: full.workspaces[1]!.id, name: 'Team' }, { name: 'Other' }] });
  const a = renderTestClient(sim.url, 'rnd_full');
  const s = renderTestClient(sim.url, 'rnd_scoped');
  t.is((await a.get('/owners')).body.length, 2);
  t.deepEqual((await s.get('/owners')).body.map((o: { owner: { id: string } }) => o.owner.id), [full.workspaces[1]!.id]);
  t.is((await s.get(`/owners/${scoped.workspaces[1]!.id}`)).status, 403);
  const made = await a.call('POST', '/services', webServiceBody(full.workspaces[1]!.id, 'shared'));
  t.is((await s.get(`/services/${made.body.service.id}`)).status, 200);
});

test('create validation: 400 bad bodies, 409 duplicate names, lenient plans, 402 without payment info', async (t) => {
  const { sim, ada, api } = await setup();
  t.teardown(() => sim.close());
  const bad = [
    { name: 'x', ownerId: ada.ownerId },
    { ...webServiceBody(ada.ownerId, 'x'), type: 'spaceship' },
    { ...webServiceBody(ada.ownerId, 'x'), serviceDetails: { runtime: 'node' } },
    { ...webServiceBody(ada.ownerId, 'x'), serviceDetails: { plan: 'starter' } },
    { ...webServiceBody(ada.ownerId, 'x'), repo: undefined },
    { ...webServiceBody(ada.ownerId, 'x'), repo: 'not a url' },
    { ...webServiceBody(ada.ownerId, 'x'), envVars: [{ key: 'A' }] },
    { ...webServiceBody(ada.ownerId, 'x'), serviceDetails: { runtime: 'node', numInstances: 0, envSpecificDetails: { buildCommand: 'a', startCommand: 'b' } } },
  ];
  for (const body of bad) {
    const res = await api.call('POST', '/services', body);
    t.is(res.status, 400, JSON.stringify(body));
    t.truthy(res.body.message);
  }
  const raw = await fetch(`${sim.url}/services`, { method: 'POST', headers: { Authorization: 'Bearer rnd_ada', 'Content-Type': 'application/json' }, body: '{nope' });
  t.is(raw.status, 400);
  t.is((await api.call('POST', '/services', webServiceBody(ada.ownerId, 'dup'))).status, 201);
  t.is((await api.call('POST', '/services', webServiceBody(ada.ownerId, 'dup'))).status, 409);
  const custom = await api.call('POST', '/services', webServiceBody(ada.ownerId, 'custom-plan', {
    serviceDetails: { runtime: 'node', plan: 'Pro Nango', envSpecificDetails: { buildCommand: 'a', startCommand: 'b' } },
  }));
  t.is(custom.status, 201);
  t.is(custom.body.service.serviceDetails.plan, 'Pro Nango');
  t.is(sim.calls.filter((c) => c.route === '/services' && c.method === 'POST').length, bad.length + 4);

  sim.addAccount({ apiKey: 'rnd_nocard', hasPaymentInfo: false });
  const nocard = renderTestClient(sim.url, 'rnd_nocard');
  const owner = (await nocard.get('/owners')).body[0].owner.id;
  t.is((await nocard.call('POST', '/services', webServiceBody(owner, 'paid'))).status, 402);
  const free = await nocard.call('POST', '/services', webServiceBody(owner, 'free', { serviceDetails: { runtime: 'node', plan: 'free', envSpecificDetails: { buildCommand: 'a', startCommand: 'b' } } }));
  t.is(free.status, 201);
});

test('service object: defaults, nulls for unset fields, ids and timestamps', async (t) => {
  const { sim, ada, api } = await setup();
  t.teardown(() => sim.close());
  const repo = 'https://github.com/acme/my-app';
  const { body } = await api.call('POST', '/services', webServiceBody(ada.ownerId, 'My App!', { repo }));
  const s = body.service;
  t.is(s.slug, 'my-app');
  t.is(s.suspended, 'not_suspended');
  t.deepEqual(s.suspenders, []);
  t.is(s.environmentId, null);
  t.is(s.imagePath, null);
  t.is(s.dashboardUrl, `https://dashboard.render.com/web/${s.id}`);
  t.regex(s.createdAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
  t.is(s.serviceDetails.numInstances, 1);
  t.is(s.serviceDetails.region, 'oregon');
  t.deepEqual(s.serviceDetails.openPorts, [{ port: 10000, protocol: 'TCP' }]);
  t.is(s.serviceDetails.url, 'https://my-app.onrender.com');
  const twin = await api.call('POST', '/services', webServiceBody(sim.addAccount({ apiKey: 'rnd_c' }).ownerId, 'My App!', { repo }), { key: 'rnd_c' });
  t.regex(twin.body.service.serviceDetails.url, /^https:\/\/my-app-[0-9a-f]{4}\.onrender\.com$/);
});

test('patch, suspend, resume, restart and delete', async (t) => {
  const { sim, ada, api } = await setup();
  t.teardown(() => sim.close());
  const svc = (await api.call('POST', '/services', webServiceBody(ada.ownerId, 'life'))).body.service;
  await api.call('POST', '/services', webServiceBody(ada.ownerId, 'taken'));
  t.is((await api.call('PATCH', `/services/${svc.id}`, { name: 'taken' })).status, 409);
  t.is((await api.call('PATCH', `/services/${svc.id}`, { autoDeploy: 'maybe' })).status, 400);
  t.is((await api.get(`/services/${svc.id}`)).body.autoDeploy, 'yes', 'a rejected patch changes nothing');
  const patched = await api.call('PATCH', `/services/${svc.id}`, { branch: 'release', serviceDetails: { preDeployCommand: 'npm run migrate', numInstances: 3 } });
  t.is(patched.status, 200);
  t.is(patched.body.branch, 'release');
  t.is(patched.body.serviceDetails.envSpecificDetails.preDeployCommand, 'npm run migrate');
  t.is((await api.get(`/services/${svc.id}/deploys`)).body.length, 1, 'PATCH does not deploy');

  const suspend = await api.call('POST', `/services/${svc.id}/suspend`);
  t.is(suspend.status, 202);
  t.is(suspend.text, '');
  const suspended = (await api.get(`/services/${svc.id}`)).body;
  t.is(suspended.suspended, 'suspended');
  t.deepEqual(suspended.suspenders, ['user']);
  t.is((await api.call('POST', `/services/${svc.id}/deploys`, {})).status, 409);
  const resume = await api.call('POST', `/services/${svc.id}/resume`);
  t.is(resume.status, 202);
  t.is(resume.text, '');
  const deploys = (await api.get(`/services/${svc.id}/deploys`)).body;
  t.is(deploys[0].deploy.trigger, 'service_resumed');
  t.is((await api.call('POST', `/services/${svc.id}/restart`)).status, 200);

  const del = await api.call('DELETE', `/services/${svc.id}`);
  t.is(del.status, 204);
  t.is(del.text, '');
  t.is((await api.get(`/services/${svc.id}`)).status, 404);
  t.is((await api.get(`/services/${svc.id}/deploys`)).status, 404);
  t.is((await api.call('DELETE', `/services/${svc.id}`)).status, 404);
  const events = (await api.get(`/owners/${ada.ownerId}/audit-logs?direction=forward&limit=100`)).body.map((a: { auditLog: { event: string } }) => a.auditLog.event);
  for (const e of ['CreateServerEvent', 'SuspendServiceEvent', 'ResumeServiceEvent', 'DeleteServerEvent']) t.true(events.includes(e), e);
});

test('401 for missing, unknown and revoked keys', async (t) => {
  const { sim, api } = await setup();
  t.teardown(() => sim.close());
  for (const key of [null, 'rnd_unknown']) {
    const res = await api.call('GET', '/owners', undefined, { key });
    t.is(res.status, 401);
    t.deepEqual(res.body, { id: 'unauthorized', message: 'unauthorized' });
  }
  const wrongScheme = await fetch(`${sim.url}/owners`, { headers: { Authorization: 'Basic cm5kX2FkYQ==' } });
  t.is(wrongScheme.status, 401);
  t.is((await api.get('/owners')).status, 200);
  sim.revokeKey('rnd_ada');
  t.is((await api.get('/owners')).status, 401);
  t.false(JSON.stringify(sim.calls).includes('rnd_ada'), 'calls never hold the key');
});

import test from 'ava';
import { startRenderSimulator } from '../../sandbox/render/index.js';
import { createContractValidator } from './render-contract-validator.js';
import { renderTestClient, webServiceBody } from './render-test-client.js';

// Drives every operation the simulator implements and checks each request we send and each
// response we get (status and body) against Render's OpenAPI spec.

const KEY = 'rnd_contract_key';

test('every implemented operation answers per spec/render-openapi.json', async (t) => {
  const contract = await createContractValidator();
  const sim = await startRenderSimulator({ manualDeploys: true });
  t.teardown(() => sim.close());
  const account = sim.addAccount({ apiKey: KEY, user: { name: 'Ada', email: 'ada@example.com' }, workspaces: [{ name: 'Personal', type: 'user' }, { name: 'Acme', type: 'team' }] });
  const other = sim.addAccount({ apiKey: 'rnd_other_key' });
  const api = renderTestClient(sim.url, KEY, contract);
  const owner = account.ownerId;
  const team = account.workspaces[1]!.id;

  t.is((await api.get('/users')).status, 200);
  t.is((await api.get('/owners?limit=100')).status, 200);
  t.is((await api.get('/owners?name=Acme&name=Personal&email=ada%40example.com')).body.length, 2);
  t.is((await api.get(`/owners/${team}`)).body.type, 'team');
  t.is((await api.get(`/owners/${account.id}`)).body.id, owner);
  t.is((await api.get(`/owners/${other.ownerId}`)).status, 404);

  const created = await api.call('POST', '/services', webServiceBody(team, 'web-one', {
    envVars: [{ key: 'NODE_ENV', value: 'production' }, { key: 'SECRET', generateValue: true }],
    serviceDetails: {
      runtime: 'node', plan: 'starter', region: 'frankfurt', preDeployCommand: 'npm run migrate',
      envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'npm start' },
    },
  }));
  t.is(created.status, 201);
  const serviceId: string = created.body.service.id;
  const firstDeploy: string = created.body.deployId;
  t.regex(serviceId, /^srv-[0-9a-z]{20}$/);
  t.regex(firstDeploy, /^dep-[0-9a-z]{20}$/);
  t.is((await api.call('POST', '/services', webServiceBody(team, 'web-one'))).status, 409);
  t.is((await api.call('POST', '/services', { type: 'web_service', name: 'x', ownerId: team, repo: 'https://github.com/a/b', serviceDetails: { runtime: 'cobol' } })).status, 400);
  const worker = await api.call('POST', '/services', {
    type: 'background_worker', name: 'worker-one', ownerId: owner, image: { ownerId: owner, imagePath: 'docker.io/library/nginx:latest' },
    serviceDetails: { runtime: 'image', plan: 'Pro Nango' },
  });
  t.is(worker.status, 201, worker.text);
  const site = await api.call('POST', '/services', { type: 'static_site', name: 'site-one', ownerId: owner, repo: 'https://github.com/acme/site', serviceDetails: { buildCommand: 'npm run build', publishPath: 'dist' } });
  t.is(site.status, 201, site.text);
  const cron = await api.call('POST', '/services', {
    type: 'cron_job', name: 'cron-one', ownerId: owner, repo: 'https://github.com/acme/cron',
    serviceDetails: { runtime: 'python', schedule: '*/5 * * * *', envSpecificDetails: { buildCommand: 'pip install -r requirements.txt', startCommand: 'python job.py' } },
  });
  t.is(cron.status, 201, cron.text);
  const pserv = await api.call('POST', '/services', {
    type: 'private_service', name: 'pserv-one', ownerId: owner, repo: 'https://github.com/acme/pserv',
    serviceDetails: { runtime: 'docker', envSpecificDetails: { dockerfilePath: './Dockerfile' } },
  });
  t.is(pserv.status, 201, pserv.text);

  t.is((await api.get('/services?limit=2&type=web_service,background_worker&region=frankfurt,oregon')).status, 200);
  const listed = await api.get(`/services?ownerId=${owner}&suspended=not_suspended&includePreviews=true`);
  t.is(listed.body.length, 4);
  // A pull request's preview of web-one (in the team): listed by default and with includePreviews=true, not
  // with false; an answer of the spec's shape that names its parent, with its own SSH address and no previews.
  const previewId = sim.addPreview(serviceId, { pullRequest: 3 });
  const ids = (res: { body: Array<{ service: { id: string } }> }) => res.body.map((x) => x.service.id);
  t.true(ids(await api.get(`/services?ownerId=${team}`)).includes(previewId));
  t.true(ids(await api.get(`/services?ownerId=${team}&includePreviews=true`)).includes(previewId));
  t.deepEqual(ids(await api.get(`/services?ownerId=${team}&includePreviews=false`)), [serviceId]);
  const preview = (await api.get(`/services/${previewId}`)).body;
  t.like(preview, { name: 'web-one-pr-3', branch: 'pr-3', type: 'web_service', ownerId: team, serviceDetails: { parentServer: { id: serviceId, name: 'web-one' }, previews: { generation: 'off' } } });
  t.is(preview.serviceDetails.sshAddress, `${previewId}@ssh.frankfurt.render.com`);
  t.throws(() => sim.addPreview(worker.body.service.id, { pullRequest: 4 }), { message: /built from a repository/ }, 'an image-backed service has no pull request previews');
  t.is((await api.get(`/services/${serviceId}`)).body.name, 'web-one');
  const patched = await api.call('PATCH', `/services/${serviceId}`, { name: 'web-renamed', autoDeploy: 'no', serviceDetails: { plan: 'standard', healthCheckPath: '/healthz' } });
  t.is(patched.status, 200);
  t.is(patched.body.serviceDetails.plan, 'standard');

  // Deploys: first one is running (manual mode), so a second request is queued: 202, empty body.
  const queued = await api.call('POST', `/services/${serviceId}/deploys`, { clearCache: 'clear' });
  t.is(queued.status, 202);
  t.is(queued.text, '');
  const list = await api.get(`/services/${serviceId}/deploys?status=queued&status=created&limit=5`);
  t.is(list.body.length, 2);
  t.is((await api.get(`/services/${serviceId}/deploys/${firstDeploy}`)).body.status, 'created');
  for (let i = 0; i < 4; i++) sim.advanceDeploy(firstDeploy); // build → pre-deploy → update → live
  t.is((await api.get(`/services/${serviceId}/deploys/${firstDeploy}`)).body.status, 'live');
  const running = (await api.get(`/services/${serviceId}/deploys?limit=1`)).body[0].deploy;
  const canceled = await api.call('POST', `/services/${serviceId}/deploys/${running.id}/cancel`);
  t.is(canceled.status, 200);
  t.is(canceled.body.status, 'canceled');
  t.is((await api.call('POST', `/services/${serviceId}/deploys/${running.id}/cancel`)).status, 400);
  const rollback = await api.call('POST', `/services/${serviceId}/rollback`, { deployId: firstDeploy });
  t.is(rollback.status, 201);
  t.is(rollback.body.trigger, 'rollback');
  t.is((await api.get(`/services/${serviceId}/deploys/dep-00000000000000000000`)).status, 404);

  t.is((await api.call('POST', `/services/${serviceId}/suspend`)).status, 202);
  t.is((await api.call('POST', `/services/${serviceId}/resume`)).status, 202);
  t.is((await api.call('POST', `/services/${serviceId}/restart`)).status, 200);

  // Env vars.
  t.is((await api.get(`/services/${serviceId}/env-vars?limit=1`)).body.length, 1);
  const replaced = await api.call('PUT', `/services/${serviceId}/env-vars`, [{ key: 'A', value: '1' }, { key: 'B', generateValue: true }]);
  t.is(replaced.status, 200);
  t.deepEqual(replaced.body.map((e: { envVar: { key: string } }) => e.envVar.key), ['A', 'B']);
  t.is((await api.get(`/services/${serviceId}/env-vars/A`)).body.value, '1');
  t.is((await api.call('PUT', `/services/${serviceId}/env-vars/C`, { value: 'three' })).status, 200);
  t.is((await api.call('PUT', `/services/${serviceId}/env-vars/D`, { generateValue: true })).status, 200);
  t.is((await api.call('DELETE', `/services/${serviceId}/env-vars/C`)).status, 204);
  t.is((await api.get(`/services/${serviceId}/env-vars/C`)).status, 404);

  // Env groups: linked services, values only when one group is read (audited).
  const group = await api.call('POST', '/env-groups', { name: 'shared', ownerId: team, envVars: [{ key: 'SHARED_TOKEN', value: 'group-value' }], secretFiles: [{ name: 'shared.pem', content: 'pem' }], serviceIds: [serviceId] });
  t.is(group.status, 201, group.text);
  const groupId: string = group.body.id;
  t.regex(groupId, /^evg-[0-9a-z]{20}$/);
  t.deepEqual(group.body.serviceLinks, [{ id: serviceId, name: 'web-renamed', type: 'web' }]);
  const groups = await api.get(`/env-groups?ownerId=${team}&limit=100`);
  t.deepEqual(groups.body.map((g: { id: string }) => g.id), [groupId]);
  t.false('envVars' in groups.body[0], 'the list carries no values');
  t.deepEqual((await api.get(`/env-groups?ownerId=${owner}`)).body, []);
  t.is((await api.get(`/env-groups/${groupId}`)).body.envVars[0].value, 'group-value');
  t.is((await api.call('POST', '/env-groups', { name: 'bad', ownerId: team, envVars: [], serviceIds: [worker.body.service.id] })).status, 400, 'a service of another workspace');
  t.is((await api.call('DELETE', `/env-groups/${groupId}/services/${serviceId}`)).status, 204);
  t.deepEqual((await api.call('POST', `/env-groups/${groupId}/services/${serviceId}`)).body.serviceLinks.map((l: { id: string }) => l.id), [serviceId]);
  t.is((await renderTestClient(sim.url, 'rnd_other_key', contract).get(`/env-groups/${groupId}`)).status, 404, 'another account\'s group');

  // Service events.
  const events = await api.get(`/services/${serviceId}/events?limit=100`);
  t.is(events.status, 200);
  t.true(events.body.length > 5);
  t.is((await api.get(`/services/${serviceId}/events?type=build_started`)).status, 200);
  t.is((await api.get(`/events/${events.body[0].event.id}`)).status, 200);
  t.is((await api.get('/events/evt-00000000000000000000')).status, 404);

  // Logs and audit logs.
  const logs = await api.get(`/logs?ownerId=${team}&resource=${serviceId}&direction=forward&limit=3&type=build`);
  t.is(logs.status, 200);
  t.true(logs.body.logs.length > 0);
  t.is((await api.call('GET', `/logs?resource=${serviceId}`, undefined, { invalidRequest: true })).status, 400);
  const audit = await api.get(`/owners/${team}/audit-logs?limit=1000`);
  t.is(audit.status, 200);
  t.true(audit.body.some((a: { auditLog: { event: string } }) => a.auditLog.event === 'ViewEnvVarValuesEvent'));
  t.true(audit.body.some((a: { auditLog: { event: string; metadata: Record<string, string> } }) => a.auditLog.event === 'ViewEnvVarValuesEvent' && a.auditLog.metadata.envGroup === groupId));
  t.is((await api.call('DELETE', `/env-groups/${groupId}`)).status, 204);
  t.is((await api.get(`/env-groups/${groupId}`)).status, 404);

  // Blueprint validation is multipart, so it is sent with FormData and checked by hand.
  const form = new FormData();
  form.set('ownerId', team);
  form.set('file', new Blob(['services:\n  - type: web\n    name: app\n    runtime: node\n    buildCommand: npm ci\n    startCommand: npm start\n']), 'render.yaml');
  const bp = await fetch(`${sim.url}/blueprints/validate`, { method: 'POST', headers: { Authorization: `Bearer ${KEY}` }, body: form });
  const bpText = await bp.text();
  t.deepEqual(contract.checkResponse('validate-blueprint', bp.status, bpText), []);
  t.true(JSON.parse(bpText).valid);

  // Errors: 401, cross-account 404, deleted 404.
  t.is((await api.call('GET', '/services', undefined, { key: 'rnd_nope' })).status, 401);
  t.is((await api.call('GET', `/services/${serviceId}`, undefined, { key: 'rnd_other_key' })).status, 404);
  t.is((await api.call('DELETE', `/services/${serviceId}`)).status, 204);
  t.is((await api.get(`/services/${serviceId}`)).status, 404);

  t.deepEqual(api.problems, []);
});

test('a 429 answer and fault-injected errors also match the spec', async (t) => {
  const contract = await createContractValidator();
  const sim = await startRenderSimulator({ rateLimits: { read: { limit: 1, windowMs: 60_000 } } });
  t.teardown(() => sim.close());
  sim.addAccount({ apiKey: KEY });
  const api = renderTestClient(sim.url, KEY, contract);
  t.is((await api.get('/owners')).status, 200);
  t.is((await api.get('/owners')).status, 429);
  sim.setFault({ route: '/services', kind: 'status', status: 503, count: 1 });
  t.is((await api.call('POST', '/services', webServiceBody('tea-00000000000000000000', 'x'))).status, 503);
  t.deepEqual(api.problems, []);
});

test('the contract checker itself rejects wrong bodies and undeclared statuses', async (t) => {
  const contract = await createContractValidator();
  t.not(contract.checkResponse('retrieve-service', 200, '{"id":"srv-x"}').length, 0);
  t.not(contract.checkResponse('retrieve-deploy', 200, '{"id":"dep-x","status":"exploded"}').length, 0);
  t.not(contract.checkResponse('suspend-service', 202, '{"ok":true}').length, 0);
  t.not(contract.checkResponse('get-user', 418, '{}').length, 0);
  t.deepEqual(contract.checkResponse('retrieve-deploy', 200, '{"id":"dep-x","commit":null,"finishedAt":null}'), []);
  t.not(contract.checkRequest({ method: 'POST', pathAndQuery: '/services', body: { name: 'x' } }).length, 0);
});

import test from 'ava';
import { startRenderSimulator } from '../../sandbox/render/index.js';
import { createContractValidator } from './render-contract-validator.js';
import { renderTestClient, webServiceBody } from './render-test-client.js';

// The service-settings operations the simulator serves (secret files, custom domains, scale,
// per-key env vars), each request and answer checked against Render's OpenAPI spec.

const KEY = 'rnd_settings_contract_key';

test('secret files, custom domains and scaling answer per spec/render-openapi.json', async (t) => {
  const contract = await createContractValidator();
  const sim = await startRenderSimulator({ phaseMs: { created: 0, build_in_progress: 0, pre_deploy_in_progress: 0, update_in_progress: 0 } });
  t.teardown(() => sim.close());
  const account = sim.addAccount({ apiKey: KEY });
  sim.addAccount({ apiKey: 'rnd_other_settings_key' });
  const api = renderTestClient(sim.url, KEY, contract);
  const created = await api.call('POST', '/services', webServiceBody(account.ownerId, 'settings-web'));
  t.is(created.status, 201, created.text);
  const id: string = created.body.service.id;
  const worker = await api.call('POST', '/services', {
    type: 'background_worker', name: 'settings-worker', ownerId: account.ownerId, repo: 'https://github.com/acme/w',
    serviceDetails: { runtime: 'node', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'node w.js' } },
  });
  t.is(worker.status, 201, worker.text);

  // Secret files: add (201), update, read, list, delete; reads are audited.
  t.is((await api.call('PUT', `/services/${id}/secret-files/.npmrc`, { content: 'token=1' })).status, 201);
  t.is((await api.call('PUT', `/services/${id}/secret-files/.npmrc`, { content: 'token=2' })).status, 201);
  t.is((await api.get(`/services/${id}/secret-files/.npmrc`)).body.content, 'token=2');
  t.deepEqual((await api.get(`/services/${id}/secret-files`)).body.map((f: { secretFile: { name: string } }) => f.secretFile.name), ['.npmrc']);
  t.is((await api.call('DELETE', `/services/${id}/secret-files/.npmrc`)).status, 204);
  t.is((await api.get(`/services/${id}/secret-files/.npmrc`)).status, 404);
  t.is((await api.call('DELETE', `/services/${id}/secret-files/.npmrc`)).status, 404);
  const audit = await api.get(`/owners/${account.ownerId}/audit-logs?limit=1000`);
  t.true(audit.body.some((a: { auditLog: { event: string } }) => a.auditLog.event === 'ViewSecretFilesEvent'));

  // Per-key env vars.
  t.is((await api.call('PUT', `/services/${id}/env-vars/API_URL`, { value: 'https://x' })).status, 200);
  t.is((await api.get(`/services/${id}/env-vars/API_URL`)).body.value, 'https://x');
  t.is((await api.call('DELETE', `/services/${id}/env-vars/API_URL`)).status, 204);

  // Custom domains: an apex brings its www entry; verify is 202 and verifies once DNS exists.
  const apex = await api.call('POST', `/services/${id}/custom-domains`, { name: 'Example.com' });
  t.is(apex.status, 201, apex.text);
  t.deepEqual(apex.body.map((d: { name: string; domainType: string }) => `${d.name}:${d.domainType}`), ['example.com:apex', 'www.example.com:subdomain']);
  const sub = await api.call('POST', `/services/${id}/custom-domains`, { name: 'app.example.org' });
  t.is(sub.status, 201);
  t.is((await api.call('POST', `/services/${id}/custom-domains`, { name: 'app.example.org' })).status, 409);
  t.is((await api.call('POST', `/services/${id}/custom-domains`, { name: 'not a domain' })).status, 400);
  // Wildcards: Render issues certificates for them (docs/render-api.md §13); only as the leftmost label.
  const wild = await api.call('POST', `/services/${id}/custom-domains`, { name: '*.wild.example.net' });
  t.is(wild.status, 201, JSON.stringify(wild.body));
  t.deepEqual(wild.body.map((d: { name: string; domainType: string }) => `${d.name}:${d.domainType}`), ['*.wild.example.net:subdomain']);
  for (const name of ['*', 'a.*.example.net', '**.example.net']) t.is((await api.call('POST', `/services/${id}/custom-domains`, { name })).status, 400, name);
  t.is((await api.call('DELETE', `/services/${id}/custom-domains/${wild.body[0].id}`)).status, 204);
  t.is((await api.call('POST', `/services/${worker.body.service.id}/custom-domains`, { name: 'w.example.org' })).status, 400);
  const subId: string = sub.body[0].id;
  t.is((await api.call('POST', `/services/${id}/custom-domains/${subId}/verify`)).status, 202);
  t.is((await api.get(`/services/${id}/custom-domains/${subId}`)).body.verificationStatus, 'unverified');
  sim.configureDns('app.example.org');
  t.is((await api.call('POST', `/services/${id}/custom-domains/app.example.org/verify`)).status, 202);
  t.is((await api.get(`/services/${id}/custom-domains/${subId}`)).body.verificationStatus, 'verified');
  t.is((await api.get(`/services/${id}/custom-domains?verificationStatus=verified`)).body.length, 1);
  t.is((await api.get(`/services/${id}/custom-domains?limit=2`)).body.length, 2);
  t.is((await api.call('DELETE', `/services/${id}/custom-domains/${subId}`)).status, 204);
  t.is((await api.get(`/services/${id}/custom-domains/${subId}`)).status, 404);

  // Scale: 202 empty; the service shows the count; out-of-range counts are 400.
  const scaled = await api.call('POST', `/services/${id}/scale`, { numInstances: 3 });
  t.is(scaled.status, 202);
  t.is(scaled.text, '');
  t.is((await api.get(`/services/${id}`)).body.serviceDetails.numInstances, 3);
  t.is((await api.call('POST', `/services/${id}/scale`, { numInstances: 0 })).status, 400);

  // Another account's key: 404 on every one of them.
  const other = { key: 'rnd_other_settings_key' };
  t.is((await api.call('GET', `/services/${id}/secret-files`, undefined, other)).status, 404);
  t.is((await api.call('GET', `/services/${id}/custom-domains`, undefined, other)).status, 404);
  t.is((await api.call('POST', `/services/${id}/scale`, { numInstances: 2 }, other)).status, 404);

  t.deepEqual(api.problems, []);
});

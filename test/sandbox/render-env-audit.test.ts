import test from 'ava';
import { startRenderSimulator } from '../../sandbox/render/index.js';
import { renderTestClient, webServiceBody } from './render-test-client.js';

// Env vars (replace semantics, per-key upsert, generateValue) and the audit log they feed.

async function setup() {
  const sim = await startRenderSimulator({ manualDeploys: true });
  const account = sim.addAccount({ apiKey: 'rnd_e', user: { name: 'Eve', email: 'eve@example.com' } });
  const api = renderTestClient(sim.url, 'rnd_e');
  const created = await api.call('POST', '/services', webServiceBody(account.ownerId, 'envy', {
    envVars: [{ key: 'A', value: '1' }, { key: 'B', value: '2' }, { key: 'C', value: '3' }, { key: 'TOKEN', generateValue: true }],
  }));
  return { sim, account, api, serviceId: created.body.service.id as string };
}

const keys = (body: Array<{ envVar: { key: string } }>) => body.map((e) => e.envVar.key);

test('env vars page by cursor and PUT replaces the whole set', async (t) => {
  const { sim, api, serviceId } = await setup();
  t.teardown(() => sim.close());
  const seen: string[] = [];
  let cursor = '';
  for (;;) {
    const page = await api.get(`/services/${serviceId}/env-vars?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
    if (page.body.length === 0) break;
    seen.push(...keys(page.body));
    cursor = encodeURIComponent(page.body.at(-1).cursor);
  }
  t.deepEqual(seen, ['A', 'B', 'C', 'TOKEN']);
  const token = (await api.get(`/services/${serviceId}/env-vars/TOKEN`)).body.value;
  t.regex(token, /^[A-Za-z0-9+/]{43}=$/, 'a generated 256-bit value');

  const replaced = await api.call('PUT', `/services/${serviceId}/env-vars`, [{ key: 'B', value: 'two' }, { key: 'D', generateValue: true }]);
  t.is(replaced.status, 200);
  t.deepEqual(keys(replaced.body), ['B', 'D']);
  t.deepEqual(keys((await api.get(`/services/${serviceId}/env-vars`)).body), ['B', 'D'], 'keys not sent are deleted');
  t.is((await api.get(`/services/${serviceId}/env-vars/A`)).status, 404);
  t.is((await api.get(`/services/${serviceId}/deploys`)).body.length, 1, 'env var changes do not deploy');

  t.is((await api.call('PUT', `/services/${serviceId}/env-vars`, { key: 'X', value: '1' })).status, 400);
  t.is((await api.call('PUT', `/services/${serviceId}/env-vars`, [{ key: 'X', value: '1' }, { key: 'X', value: '2' }])).status, 400);
  t.is((await api.call('PUT', `/services/${serviceId}/env-vars`, [{ key: 'X' }])).status, 400);
  t.deepEqual(keys((await api.get(`/services/${serviceId}/env-vars`)).body), ['B', 'D'], 'a rejected PUT changes nothing');
});

test('per-key PUT upserts, DELETE removes, generateValue differs each time', async (t) => {
  const { sim, api, serviceId } = await setup();
  t.teardown(() => sim.close());
  const put = await api.call('PUT', `/services/${serviceId}/env-vars/NEW`, { value: 'x' });
  t.deepEqual(put.body, { key: 'NEW', value: 'x' });
  t.is((await api.call('PUT', `/services/${serviceId}/env-vars/NEW`, { value: 'y' })).body.value, 'y');
  const g1 = (await api.call('PUT', `/services/${serviceId}/env-vars/GEN`, { generateValue: true })).body.value;
  const g2 = (await api.call('PUT', `/services/${serviceId}/env-vars/GEN`, { generateValue: true })).body.value;
  t.not(g1, g2);
  t.is((await api.call('PUT', `/services/${serviceId}/env-vars/BAD`, { nothing: true })).status, 400);
  t.is((await api.call('DELETE', `/services/${serviceId}/env-vars/NEW`)).status, 204);
  t.is((await api.call('DELETE', `/services/${serviceId}/env-vars/NEW`)).status, 404);
  t.deepEqual(keys((await api.get(`/services/${serviceId}/env-vars`)).body), ['A', 'B', 'C', 'TOKEN', 'GEN']);
});

test('audit log records env var reads and writes, pages by cursor, limit up to 1000', async (t) => {
  const { sim, account, api, serviceId } = await setup();
  t.teardown(() => sim.close());
  await api.get(`/services/${serviceId}/env-vars`);
  await api.call('PUT', `/services/${serviceId}/env-vars/Z`, { value: '1' });
  await api.call('PUT', `/services/${serviceId}/env-vars`, [{ key: 'Z', value: '2' }]);
  await api.call('DELETE', `/services/${serviceId}/env-vars/Z`);
  await api.call('POST', `/services/${serviceId}/suspend`);
  await api.call('POST', `/services/${serviceId}/resume`);
  for (const event of ['ViewConnectionInfoEvent', 'StartShellEvent', 'DownloadDatabaseBackupEvent']) {
    const res = await fetch(`${sim.controlUrl}/audit`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ ownerId: account.ownerId, event, metadata: { resource: 'dpg-aaaaaaaaaaaaaaaaaaaa' } }) });
    t.is(res.status, 204);
  }
  sim.addAuditEvent(account.ownerId, 'SomeFutureEvent');

  const base = `/owners/${account.ownerId}/audit-logs`;
  const forward: string[] = [];
  let cursor = '';
  for (;;) {
    const page = await api.get(`${base}?direction=forward&limit=4${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    t.is(page.status, 200);
    if (page.body.length === 0) break;
    forward.push(...page.body.map((a: { auditLog: { event: string } }) => a.auditLog.event));
    cursor = page.body.at(-1).cursor;
  }
  t.deepEqual(forward, [
    'CreateServerEvent', 'ViewEnvVarValuesEvent', 'CreateEnvVarsEvent', 'UpdateEnvVarsEvent', 'DeleteEnvVarsEvent',
    'SuspendServiceEvent', 'ResumeServiceEvent', 'ViewConnectionInfoEvent', 'StartShellEvent', 'DownloadDatabaseBackupEvent', 'SomeFutureEvent',
  ]);
  const newest = (await api.get(`${base}?limit=1000`)).body;
  t.is(newest[0].auditLog.event, 'SomeFutureEvent', 'newest first by default');
  const view = newest.find((a: { auditLog: { event: string } }) => a.auditLog.event === 'ViewEnvVarValuesEvent').auditLog;
  t.is(view.status, 'success');
  t.deepEqual(view.actor, { type: 'rest_api', email: 'eve@example.com', id: account.id });
  t.deepEqual(view.metadata, { service: serviceId, field: 'env_vars' });
  t.regex(view.id, /^aud-/);
  t.is((await api.get(`${base}?limit=1001`)).status, 400);
  t.is((await api.get(`${base}?limit=0`)).status, 400);
  const future = new Date(Date.now() + 60_000).toISOString();
  t.deepEqual((await api.get(`${base}?startTime=${future}`)).body, []);
});

import test from 'ava';
import { startRenderSimulator } from '../../sandbox/render/index.js';
import { createRenderClient } from '../../server/render/client.js';
import { startTestRedis } from '../helpers/redis.js';
import { roundsInProcess } from './rounds.js';

// A service's env groups hold secrets like its own env vars, and an app prints either alike: an app-log
// finding redacts the values of the groups linked to the service. Reading them is audited as an env
// var read is: the watch does not report its own reads, and still reports someone else's.

const GROUP_VALUE = 'postgres://app:group-secret-5f2a@db.internal/app';
const GROUP_FILE = 'group-file-content-9b7e41';
const UNLINKED_VALUE = 'unlinked-group-value-c3d8';

test('an app-log finding redacts the linked env groups\' values; the watch\'s own group reads are not findings, a colleague\'s is', async (t) => {
  const r = await startTestRedis();
  const render = await startRenderSimulator({ manualDeploys: true });
  t.teardown(async () => { await render.close(); await r.stop(); });
  const apiKey = `rnd_envgroups${'k'.repeat(20)}`;
  render.addAccount({ apiKey, workspaces: [{ name: 'envgroups ws', type: 'team' }] });
  const plain = createRenderClient({ baseUrl: render.url, apiKey });
  const [owner] = await plain.listOwners();
  const ownerId = owner!.id;
  const { service } = await plain.createService({
    type: 'web_service', name: 'api', ownerId, repo: 'https://github.com/envgroups/api', branch: 'main', autoDeploy: 'no',
    serviceDetails: { runtime: 'node', plan: 'starter', region: 'oregon', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'npm start' } },
  });
  const serviceId = service!.id;
  const createGroup = async (body: Record<string, unknown>) => {
    const res = await fetch(`${render.url}/env-groups`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ ownerId, ...body }) });
    t.is(res.status, 201);
    return ((await res.json()) as { id: string }).id;
  };
  const linked = await createGroup({ name: 'db', envVars: [{ key: 'DATABASE_URL', value: GROUP_VALUE }], secretFiles: [{ name: 'ca.pem', content: GROUP_FILE }], serviceIds: [serviceId] });
  await createGroup({ name: 'other', envVars: [{ key: 'OTHER', value: UNLINKED_VALUE }] });

  const rounds = await roundsInProcess(r, { baseUrl: render.url, apiKey }, [ownerId]);
  await rounds.round(); // where the log and the audit log stand
  const mark = render.calls.length;
  render.appendLog(serviceId, `TypeError: Cannot read properties of undefined (reading 'query') url=${GROUP_VALUE}`);
  render.appendLog(serviceId, `TypeError: Cannot read properties of undefined (reading 'query') ca=${GROUP_FILE}`);
  await rounds.round();
  const f = rounds.found.find((x) => x.rule === 'app_log_exception');
  t.truthy(f);
  t.regex(f!.firstLine!, /url=\[redacted\]/);
  t.regex(f!.lastLine!, /ca=\[redacted\]/);
  t.false(JSON.stringify(rounds.written).includes(GROUP_VALUE));
  t.false(JSON.stringify(rounds.written).includes(GROUP_FILE));
  // Only the linked group was read with its values.
  const groupReads = render.calls.slice(mark).filter((c) => c.path.startsWith('/env-groups/'));
  t.deepEqual(groupReads.map((c) => c.path), [`/env-groups/${linked}`]);

  // Render audited that read (naming the group); the next round reads it and knows it for its own.
  await rounds.round();
  t.deepEqual(rounds.found.map((x) => x.rule), ['app_log_exception']);

  // A colleague reads the group's values with their own key: reported.
  render.addAuditEvent(ownerId, 'ViewEnvVarValuesEvent', { envGroup: linked, envGroupName: 'db' }, { actorType: 'rest_api' });
  await rounds.round();
  t.deepEqual(rounds.found.map((x) => x.rule), ['app_log_exception', 'view_env_var_values']);
});

// The client against the Render simulator (sandbox/render): the same code path the workers use,
// end to end: key check, create service, deploy progresses to live, queueing, lifecycle.
import test, { type ExecutionContext } from 'ava';
import { RenderApiError } from '../../server/render/client.js';
import { createTestRenderClient, type TestRenderClient } from '../helpers/renderTestClient.js';
import type { Deploy } from '../../server/render/types.js';
import { startRenderSimulator, type RenderSimulator } from '../../sandbox/render/index.js';

const TERMINAL = new Set(['live', 'deactivated', 'build_failed', 'update_failed', 'pre_deploy_failed', 'canceled']);

async function setUp(t: ExecutionContext, apiKey: string, manualDeploys = false): Promise<{ sim: RenderSimulator; client: TestRenderClient; ownerId: string }> {
  const sim = await startRenderSimulator({ manualDeploys });
  t.teardown(() => sim.close());
  const account = sim.addAccount({ apiKey, user: { name: 'Ada', email: 'ada@example.com' } });
  return { sim, client: createTestRenderClient({ baseUrl: sim.url, apiKey }), ownerId: account.ownerId };
}

/** Polls until the deploy is terminal; bounded so a stuck simulator fails the test, not hangs it. */
async function waitForTerminal(client: TestRenderClient, serviceId: string, deployId: string): Promise<Deploy[]> {
  const seen: Deploy[] = [];
  for (let i = 0; i < 400; i += 1) {
    const deploy = await client.getDeploy(serviceId, deployId);
    if (seen.at(-1)?.status !== deploy.status) seen.push(deploy);
    if (deploy.status && TERMINAL.has(deploy.status)) return seen;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`deploy ${deployId} never finished: ${seen.map((d) => d.status).join(' → ')}`);
}

const webService = (ownerId: string, name: string) => ({
  type: 'web_service' as const,
  name,
  ownerId,
  repo: 'https://github.com/render-examples/express-hello-world',
  branch: 'main',
  autoDeploy: 'yes' as const,
  envVars: [{ key: 'NODE_ENV', value: 'production' }],
  serviceDetails: {
    runtime: 'node' as const,
    plan: 'starter' as const,
    region: 'oregon' as const,
    envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'npm start' },
  },
});

test('key check, create service, deploy progresses to live', async (t) => {
  const { client, ownerId } = await setUp(t, 'rnd_sim_key_one');
  const owners = await client.listOwners();
  t.true(owners.some((o) => o.id === ownerId));
  t.is((await client.getUser()).email, 'ada@example.com');

  const created = await client.createService(webService(ownerId, 'sim-app'));
  const serviceId = created.service?.id;
  t.truthy(serviceId);
  t.truthy(created.deployId);

  const timeline = await waitForTerminal(client, serviceId!, created.deployId!);
  t.is(timeline.at(-1)?.status, 'live', timeline.map((d) => d.status).join(' → '));
  t.true(timeline.length >= 2, 'the deploy was seen in progress before it was live');

  const listed = await client.listServices({ ownerId, name: 'sim-app' });
  t.deepEqual(listed.map((s) => s.id), [serviceId]);
  const deploys = await client.listDeploys(serviceId!);
  t.is(deploys[0]?.id, created.deployId);
});

test('a second deploy while one runs is queued (202, empty body) and can be found', async (t) => {
  // Manual deploys: the first one stays in progress until the test advances it.
  const { sim, client, ownerId } = await setUp(t, 'rnd_sim_key_two', true);
  const created = await client.createService(webService(ownerId, 'queue-app'));
  const serviceId = created.service!.id;
  const second = await client.triggerDeploy(serviceId, { clearCache: 'do_not_clear' });
  t.deepEqual(second, { kind: 'queued' });
  const [queued] = (await client.listDeploysPage(serviceId, { status: 'queued', limit: 1 })).items;
  t.is(queued?.status, 'queued');
  t.not(queued?.id, created.deployId);

  for (let i = 0; i < 10 && (await client.getDeploy(serviceId, created.deployId!)).status !== 'live'; i += 1) {
    sim.advanceDeploy(created.deployId!);
  }
  t.is((await client.getDeploy(serviceId, created.deployId!)).status, 'live');
});

test('env vars, lifecycle and errors through the simulator', async (t) => {
  const { sim, client, ownerId } = await setUp(t, 'rnd_sim_key_three');
  const created = await client.createService(webService(ownerId, 'life-app'));
  const serviceId = created.service!.id;
  await waitForTerminal(client, serviceId, created.deployId!);

  t.is((await client.putEnvVar(serviceId, 'FEATURE_FLAG', 'on')).key, 'FEATURE_FLAG');
  const keys = (await client.listEnvVars(serviceId)).map((e) => e.key);
  t.true(keys.includes('FEATURE_FLAG') && keys.includes('NODE_ENV'));

  await client.suspendService(serviceId);
  t.is((await client.getService(serviceId)).suspended, 'suspended');
  await client.resumeService(serviceId);
  t.is((await client.getService(serviceId)).suspended, 'not_suspended');

  const conflict = await t.throwsAsync(client.createService(webService(ownerId, 'life-app')), { instanceOf: RenderApiError });
  t.is(conflict.kind, 'conflict');

  await client.deleteService(serviceId);
  const gone = await t.throwsAsync(client.getService(serviceId), { instanceOf: RenderApiError });
  t.is(gone.kind, 'not_found');

  const stranger = createTestRenderClient({ baseUrl: sim.url, apiKey: 'rnd_unknown_key' });
  const unauthorized = await t.throwsAsync(stranger.listOwners(), { instanceOf: RenderApiError });
  t.is(unauthorized.kind, 'unauthorized');
  t.false(unauthorized.message.includes('rnd_unknown_key'));
});

test('blueprint validation and logs through the simulator', async (t) => {
  const { sim, client, ownerId } = await setUp(t, 'rnd_sim_key_four');
  const result = await client.validateBlueprint(ownerId, 'services:\n  - type: web\n    name: bp-app\n    runtime: node\n    buildCommand: npm ci\n    startCommand: npm start\n');
  t.is(typeof result.valid, 'boolean');

  const created = await client.createService(webService(ownerId, 'log-app'));
  const serviceId = created.service!.id;
  await waitForTerminal(client, serviceId, created.deployId!);
  sim.appendLog(serviceId, 'hello from the app', { type: 'app' });
  const { logs } = await client.collectLogs({ ownerId, resource: serviceId, direction: 'backward' }, { maxPages: 5 });
  t.true(logs.some((l) => l.message === 'hello from the app'));
});

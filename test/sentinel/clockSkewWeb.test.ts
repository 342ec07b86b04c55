import test from 'ava';
import { createRenderClient } from '../../server/render/client.js';
import { BUDGET_FOR_TESTS } from './limits.js';
import { enable, findings, startSentinelStack, tenant, waitFor, type SentinelStack } from './support.js';
import { addNodeRepo, waitFinished } from '../helpers/pipeline.js';
import { openSseAs } from '../helpers/sse.js';

// The web process notes the env-var reads it makes for a user (a value revealed in the settings, the values
// a log page or the live log tail redacts with) on Render's clock, by the Date of Render's answers: Render
// stamps their audit entries (ViewEnvVarValuesEvent) by its clock, and the watch matches a note within ±2
// minutes of that stamp. Noted by the web's clock, 5 minutes ahead here, each was reported as someone
// viewing the user's values. The simulator keeps the machine's clock (Render's); our processes, web and
// worker alike (one host's clock: the web schedules the watch's rounds by its own), run 5 minutes ahead.

const MIN = 60_000;
const ours = { now: () => Date.now() + 5 * MIN };
let s: SentinelStack;
test.before(async () => { s = await startSentinelStack({ renderLimits: BUDGET_FOR_TESTS, webClock: ours, workerClock: ours }); });
test.after.always(async () => { await s?.close(); });

/** Someone else with API access reads a service's env values: Render writes ViewEnvVarValuesEvent (actor rest_api). */
const foreignEnvRead = (ownerId: string, serviceId: string) => fetch(`${s.stack.render.controlUrl}/audit`, {
  method: 'POST', headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ ownerId, event: 'ViewEnvVarValuesEvent', actorType: 'rest_api', metadata: { service: serviceId, field: 'env_vars' } }),
});

type Tenant = Awaited<ReturnType<typeof tenant>>;

/**
 * After our own reads: a later read by someone else of the tenant's second service. Once Sentinel reports
 * it, it has judged every entry Render stamped before it (ours); the env-var findings are returned.
 */
async function judged(who: Tenant): Promise<Array<{ serviceId: string }>> {
  const other = who.services[1]!.id;
  await foreignEnvRead(who.ownerId, other);
  await waitFor('the foreign read reported', async () => ((await findings(who.agent)).some((f) => f.serviceId === other) ? true : null));
  return (await findings(who.agent)).filter((f) => f.rule === 'view_env_var_values');
}

/** Render's own audit entries of env-value reads in the tenant's workspace. */
async function envReadsAudited(who: Tenant): Promise<number> {
  const entries = (await createRenderClient({ baseUrl: s.stack.render.url, apiKey: who.apiKey }).listAuditLogs(who.ownerId, { limit: 100 })).items;
  return entries.filter((e) => e.event === 'ViewEnvVarValuesEvent').length;
}

test('a web process 5 minutes ahead of Render: the user\'s own reveal of a value is not reported', async (t) => {
  const ivy = await tenant(s.stack, 'ivy-webskew', ['api', 'other']);
  await enable(ivy.agent);
  const svc = ivy.services[0]!.id;
  const shown = await ivy.agent.get(`/api/render/services/${svc}/env-vars/DATABASE_PASSWORD`);
  t.is(shown.status, 200, shown.text);
  t.is(await envReadsAudited(ivy), 1, 'Render audited the reveal');
  const env = await judged(ivy);
  t.deepEqual(env.map((f) => f.serviceId), [ivy.services[1]!.id], 'only the foreign read, not the user\'s reveal');
});

test('a web process 5 minutes ahead of Render: the reads of a log page and of the live tail (to redact them) are not reported', async (t) => {
  const jon = await tenant(s.stack, 'jon-webskew', ['api', 'other']);
  addNodeRepo(s.stack, 'jon-webskew', 'app');
  await enable(jon.agent);
  const deploy = await jon.agent.post('/api/render/deploy', { github_repo: 'jon-webskew/app', project_name: 'jon-app' });
  t.is(deploy.status, 202, deploy.text);
  t.is((await waitFinished(jon.agent, deploy.json.id)).status, 'live');
  const before = await envReadsAudited(jon);
  // The deployment page's log panel: it reads the service's values to redact the page.
  const logs = await jon.agent.get(`/api/render/deployments/${deploy.json.id}/logs`);
  t.is(logs.status, 200, logs.text);
  // Its live tail, from the web process too: it reads them again (its own values, kept for 5 minutes).
  const tab = await openSseAs(jon.agent, `/api/events?logs=${deploy.json.id}`);
  t.teardown(() => tab.close());
  await tab.waitFor((text) => text.includes('event: logs'), 15_000);
  t.true(await envReadsAudited(jon) >= before + 2, 'Render audited the page\'s and the tail\'s reads');
  const env = await judged(jon);
  t.deepEqual(env.map((f) => f.serviceId), [jon.services[1]!.id], 'only the foreign read, not the log page\'s nor the tail\'s');
});

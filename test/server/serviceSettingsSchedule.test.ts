import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import type { Agent } from '../helpers/agent.js';
import { useScannedStack } from '../helpers/secretScan.js';
import { cronScheduleProblem } from '../../server/deployments/cron.js';
import { createService, tenant, type Tenant } from './support/renderTenants.js';

// A cron job's schedule on its settings page: set when the job was deployed, it could not be seen or changed
// afterwards, though Render's Update service takes `serviceDetails.schedule` for a cron job
// (spec/render-openapi.json cronJobDetailsPATCH). Read and changed through GET/PATCH …/settings, with the
// deploy form's rule and words (server/deployments/cron.ts); refused for any other type, and for another
// tenant's job, before Render is asked.

let stack: Stack;
useScannedStack(test, {
  renderOptions: { rateLimits: { createService: { limit: 10_000 }, write: { limit: 10_000 } } },
}, (s) => ({ stack } = s));

const patch = (a: Agent, path: string, json: unknown) => a.request('PATCH', path, { json });
const renderWrites = (tn: Tenant) => stack.render.calls.filter((c) => c.accountId === tn.account.id && c.method !== 'GET').length;
const scheduleOnRender = async (tn: Tenant, id: string) => (await tn.render.getService(id)).serviceDetails as { schedule?: unknown };
const settingsOf = (id: string) => `/api/render/services/${id}/settings`;

test('a cron job\'s schedule is shown in its settings and changed there; the page then shows what Render answers', async (t) => {
  const ada = await tenant(stack, 'sched-ada');
  const cron = await createService(ada, 'ada-nightly', 'cron_job');
  const web = await createService(ada, 'ada-web');

  const got = await ada.agent.get(settingsOf(cron.id));
  t.is(got.status, 200, got.text);
  t.like(got.json.settings, { type: 'cron_job', schedule: '*/5 * * * *', numInstances: null, previews: null });
  t.is((await ada.agent.get(settingsOf(web.id))).json.settings.schedule, null, 'a web service has no schedule');

  const patches = () => stack.render.calls.filter((c) => c.accountId === ada.account.id && c.method === 'PATCH' && c.route === '/services/{serviceId}').length;
  const before = patches();
  // Trimmed as the deploy form trims it; sent to Render as serviceDetails.schedule.
  const changed = await patch(ada.agent, settingsOf(cron.id), { schedule: '  0 3 * * 1-5 ' });
  t.is(changed.status, 200, changed.text);
  t.is(changed.json.settings.schedule, '0 3 * * 1-5');
  t.is(patches(), before + 1, 'one Update service call');
  t.is((await scheduleOnRender(ada, cron.id)).schedule, '0 3 * * 1-5', 'changed on Render');
  t.is((await ada.agent.get(settingsOf(cron.id))).json.settings.schedule, '0 3 * * 1-5');

  // With another setting in the same save (all or nothing, one PATCH).
  const both = await patch(ada.agent, settingsOf(cron.id), { schedule: '30 2 1 jan,jul *', plan: 'standard' });
  t.is(both.status, 200, both.text);
  t.like(both.json.settings, { schedule: '30 2 1 jan,jul *', plan: 'standard' });
  t.is(patches(), before + 2);

  // What the page shows is Render's value: changed on Render's side (its Dashboard), read as it is there.
  await ada.render.updateService(cron.id, { serviceDetails: { schedule: '15 4 * * *' } });
  t.is((await ada.agent.get(settingsOf(cron.id))).json.settings.schedule, '15 4 * * *');

  const trail = (await ada.agent.get('/api/audit?limit=50')).json.entries as Array<{ detail: { lifecycleAction?: string; serviceId?: string } }>;
  t.is(trail.filter((e) => e.detail.lifecycleAction === 'settings_update' && e.detail.serviceId === cron.id).length, 2, 'each save is in the audit trail');
});

test('a schedule Render cannot run is refused on its field in the deploy form\'s words, and nothing reaches Render', async (t) => {
  const bo = await tenant(stack, 'sched-bo');
  const cron = await createService(bo, 'bo-nightly', 'cron_job');
  const writes = renderWrites(bo);
  const cases: Array<[unknown, string]> = [
    ['0 3 * *', cronScheduleProblem('0 3 * *')!],
    ['61 * * * *', cronScheduleProblem('61 * * * *')!],
    ['*/0 * * * *', cronScheduleProblem('*/0 * * * *')!],
    ['0 3 * * 5-1', cronScheduleProblem('0 3 * * 5-1')!],
    ['@daily', cronScheduleProblem('@daily')!],
    // Letters that upper-case onto a weekday's (test/pipeline/cronScheduleNames.test.ts).
    ['0 9 * * mon-frı', cronScheduleProblem('0 9 * * mon-frı')!],
    ['', 'Enter a cron schedule, e.g. "0 3 * * *".'],
    ['   ', 'Enter a cron schedule, e.g. "0 3 * * *".'],
    [`0 3 * * *${' '.repeat(200)}1`, 'A schedule is at most 200 characters.'],
    [5, 'A schedule is text: five cron fields, e.g. "0 3 * * *".'],
  ];
  for (const [schedule, message] of cases) {
    const label = JSON.stringify(schedule).slice(0, 40);
    const res = await patch(bo.agent, settingsOf(cron.id), { schedule, auto_deploy: false });
    t.is(res.status, 400, `${label}: ${res.text.slice(0, 300)}`);
    t.is(res.json.error.code, 'validation_failed', label);
    t.is(res.json.error.field, 'schedule', label);
    t.is(res.json.error.message, message, label);
    // The deploy form's answer for the same schedule says the same (prefixed with its field there).
    const deploy = await bo.agent.post('/api/render/deploy', { github_repo: 'sched-bo/jobs', project_name: 'jobs', service_type: 'cron_job', schedule, start_command: 'node job.js' });
    t.is(deploy.status, 400, `deploy ${label}: ${deploy.text.slice(0, 300)}`);
    t.true(String(deploy.json.error.message).includes(message), `deploy ${label}: ${deploy.json.error.message}`);
  }
  t.is(renderWrites(bo), writes, 'no refused schedule reached Render');
  const onRender = await bo.render.getService(cron.id);
  t.is((onRender.serviceDetails as { schedule: string }).schedule, '*/5 * * * *');
  t.is(onRender.autoDeploy, 'yes', 'nothing else of the refused saves was made either');
});

test('a schedule for a service that is not a cron job is a clear 400 on its field, and nothing is sent to Render', async (t) => {
  const cy = await tenant(stack, 'sched-cy');
  const web = await createService(cy, 'cy-web');
  const writes = renderWrites(cy);
  for (const body of [{ schedule: '0 3 * * *' }, { schedule: '0 3 * * *', auto_deploy: false, plan: 'standard' }]) {
    const res = await patch(cy.agent, settingsOf(web.id), body);
    t.is(res.status, 400, res.text);
    t.is(res.json.error.code, 'validation_failed');
    t.is(res.json.error.field, 'schedule');
    t.is(res.json.error.message, 'Only cron jobs have a schedule.');
  }
  t.is(renderWrites(cy), writes, 'nothing reached Render');
  const onRender = await cy.render.getService(web.id);
  t.is(onRender.autoDeploy, 'yes');
  t.is((onRender.serviceDetails as { plan: string }).plan, 'starter');
  t.false('schedule' in (onRender.serviceDetails as object), 'the web service got no schedule');
});

test('cross-tenant: another tenant\'s cron job is the same 404 as a missing one, for reading and changing its schedule, and nothing reaches their account', async (t) => {
  const owner = await tenant(stack, 'sched-owner');
  const other = await tenant(stack, 'sched-other');
  const cron = await createService(owner, 'owner-nightly', 'cron_job');
  const calls = stack.render.calls.length;
  const missing = 'crn-00000000000000000000';
  for (const [method, json] of [['GET', undefined], ['PATCH', { schedule: '0 0 * * *' }], ['PATCH', { schedule: '0 0 * * *', plan: 'pro' }]] as const) {
    const theirs = await other.agent.request(method, settingsOf(cron.id), json === undefined ? {} : { json });
    const none = await other.agent.request(method, settingsOf(missing), json === undefined ? {} : { json });
    t.is(theirs.status, 404, `${method} ${JSON.stringify(json)}: ${theirs.text}`);
    t.deepEqual(theirs.json, none.json, `${method} ${JSON.stringify(json)}`);
    t.false(theirs.text.includes('*/5 * * * *'), 'their schedule is not shown');
  }
  t.is(stack.render.calls.slice(calls).filter((c) => c.accountId === owner.account.id).length, 0, 'no call with the owner\'s key');
  const onRender = await owner.render.getService(cron.id);
  t.is((onRender.serviceDetails as { schedule: string; plan: string }).schedule, '*/5 * * * *');
  t.is((onRender.serviceDetails as { plan: string }).plan, 'starter');
});

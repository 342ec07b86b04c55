import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, renderCalls, signedInWithKey, waitFinished } from '../helpers/pipeline.js';

// Issue 15: background workers, cron jobs, private services and static sites next to web services,
// chosen by detection or in the form, created with the right serviceDetails (the simulator checks every
// body against Render's spec) and deployed to live.

let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

/** The service as Render (the simulator) has it, read with the user's own key. */
async function renderService(apiKey: string, id: string) {
  const res = await fetch(`${stack.config.renderApiUrl}/services/${id}`, { headers: { authorization: `Bearer ${apiKey}`, accept: 'application/json' } });
  if (res.status !== 200) throw new Error(`GET /services/${id}: ${res.status}`);
  return res.json() as Promise<{ type: string; serviceDetails: Record<string, unknown> }>;
}

test('a Procfile worker: entry (no web:) deploys a background worker', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'wkr');
  addNodeRepo(stack, 'wkr', 'jobs', { Procfile: 'worker: node worker.js\n', 'worker.js': '' });
  const detect = await agent.get('/api/github/repos/wkr/jobs/detect');
  t.is(detect.status, 200, detect.text);
  t.is(detect.json.serviceType, 'background_worker');
  t.is(detect.json.startCommand, 'node worker.js');
  const res = await agent.post('/api/render/deploy', { github_repo: 'wkr/jobs', project_name: 'jobs' });
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  t.is(done.stack.serviceType, 'background_worker');
  t.is(done.serviceUrl, null, 'a worker has no URL');
  const svc = await renderService(apiKey, done.serviceId);
  t.is(svc.type, 'background_worker');
  t.like(svc.serviceDetails, { runtime: 'node', plan: 'starter', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'node worker.js' } });
});

test('a cron service in render.yaml deploys a cron job on its schedule (crn- id)', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'crn');
  addNodeRepo(stack, 'crn', 'nightly', {
    'render.yaml': 'services:\n  - type: cron\n    name: nightly\n    runtime: node\n    schedule: "0 3 * * *"\n    buildCommand: npm ci\n    startCommand: node job.js\n',
  });
  const detect = await agent.get('/api/github/repos/crn/nightly/detect');
  t.is(detect.json.serviceType, 'cron_job', detect.text);
  t.is(detect.json.schedule, '0 3 * * *');
  const res = await agent.post('/api/render/deploy', { github_repo: 'crn/nightly', project_name: 'nightly' });
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  t.regex(done.serviceId, /^crn-/);
  t.is(done.stack.schedule, '0 3 * * *');
  const svc = await renderService(apiKey, done.serviceId);
  t.is(svc.type, 'cron_job');
  t.like(svc.serviceDetails, { schedule: '0 3 * * *', envSpecificDetails: { startCommand: 'node job.js' } });
});

test('types chosen in the form: cron job with a schedule, private service, static site', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'pick');
  addNodeRepo(stack, 'pick', 'app');
  const cases = [
    { service_type: 'cron_job', schedule: '*/15 * * * 1-5', name: 'app-cron', expect: { schedule: '*/15 * * * 1-5' } },
    { service_type: 'private_service', name: 'app-internal', expect: { runtime: 'node', envSpecificDetails: { startCommand: 'npm start' } } },
    { service_type: 'static_site', name: 'app-site', expect: { publishPath: 'public' } },
  ] as const;
  for (const c of cases) {
    const res = await agent.post('/api/render/deploy', {
      github_repo: 'pick/app', project_name: c.name, service_type: c.service_type, ...('schedule' in c ? { schedule: c.schedule } : {}),
    });
    t.is(res.status, 202, res.text);
    t.is(res.json.request.serviceType, c.service_type);
    const done = await waitFinished(agent, res.json.id);
    t.is(done.status, 'live', `${c.service_type}: ${JSON.stringify(done.failure)}`);
    t.is(done.stack.serviceType, c.service_type);
    const svc = await renderService(apiKey, done.serviceId);
    t.is(svc.type, c.service_type);
    t.like(svc.serviceDetails, c.expect);
  }
});

test('bad service type input: field-level 400s and nothing written', async (t) => {
  const { agent, accountId } = await signedInWithKey(stack, 'badtype');
  addNodeRepo(stack, 'badtype', 'app');
  const base = { github_repo: 'badtype/app', project_name: 'app' };
  const bad: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ service_type: 'cron_job' }, 'schedule', /needs a schedule/],
    [{ service_type: 'cron_job', schedule: '61 * * * *' }, 'schedule', /minute/],
    [{ service_type: 'cron_job', schedule: '* * * *' }, 'schedule', /five fields/],
    [{ service_type: 'cron_job', schedule: '@daily' }, 'schedule', /five fields|Shortcuts/],
    [{ service_type: 'cron_job', schedule: '0 0 31 2-1 *' }, 'schedule', /backwards/],
    [{ schedule: '0 3 * * *' }, 'schedule', /Only cron jobs/],
    [{ service_type: 'web_service', schedule: '0 3 * * *' }, 'schedule', /Only cron jobs/],
    [{ service_type: 'background_worker', plan: 'free' }, 'plan', /no free instance type/],
    [{ service_type: 'mainframe' }, 'service_type', /service_type must be one of/],
    // Accepted and dropped without a word before (found by a probe): Render never got it.
    [{ service_type: 'static_site', start_command: 'node server.js' }, 'start_command', /static site has no start command/],
  ];
  for (const [extra, field, message] of bad) {
    const res = await agent.post('/api/render/deploy', { ...base, ...extra });
    t.is(res.status, 400, JSON.stringify(extra));
    t.is(res.json.error.code, 'validation_failed', res.text);
    t.is(res.json.error.field, field, `${JSON.stringify(extra)}: ${res.text}`);
    t.regex(res.json.error.message, message);
  }
  const list = await agent.get('/api/render/my-deployments');
  t.deepEqual(list.json.deployments, []);
  t.is(renderCalls(stack, accountId, 'POST', '/services').length, 0);
});

test('a detected worker on the free plan stops before any Render write, saying why', async (t) => {
  const { agent, accountId } = await signedInWithKey(stack, 'freewkr');
  addNodeRepo(stack, 'freewkr', 'bot', { Procfile: 'worker: node bot.js\n' });
  const res = await agent.post('/api/render/deploy', { github_repo: 'freewkr/bot', project_name: 'bot', plan: 'free' });
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id);
  t.is(done.status, 'failed');
  t.is(done.failure.code, 'plan_not_allowed');
  t.regex(done.failure.message, /background worker/);
  t.is(renderCalls(stack, accountId, 'POST', '/services').length, 0);
});

test('a start command with a repository detected as a static site stops before any Render write, saying why', async (t) => {
  // The form's static site with a start command is a 400 at the route; one the repository's render.yaml makes a
  // static site was created with the command dropped (Render serves a static site's files, it runs nothing).
  const { agent, accountId } = await signedInWithKey(stack, 'staticcmd');
  addNodeRepo(stack, 'staticcmd', 'site', {
    'render.yaml': 'services:\n  - type: web\n    name: site\n    runtime: static\n    buildCommand: npm run build\n    staticPublishPath: dist\n',
  });
  const detect = await agent.get('/api/github/repos/staticcmd/site/detect');
  t.is(detect.json.serviceType, 'static_site', detect.text);
  const res = await agent.post('/api/render/deploy', { github_repo: 'staticcmd/site', project_name: 'site', start_command: 'node server.js' });
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id);
  t.is(done.status, 'failed');
  t.is(done.failure.code, 'start_command_not_supported');
  t.regex(done.failure.message, /static site/);
  t.is(renderCalls(stack, accountId, 'POST', '/services').length, 0);
});

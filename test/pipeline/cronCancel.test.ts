import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, signedInWithKey, waitFinished, waitStatus } from '../helpers/pipeline.js';

// Render's Cancel deploy (POST /services/{id}/deploys/{deployId}/cancel) is "Not supported for cron
// jobs" (spec/render-openapi.json, as are Trigger deploy's commitId and Restart service, both of which the
// simulator refuses for a cron job). The simulator canceled a cron job's deploy all the same, so the app's
// cancel of a cron job's deployment was only ever tested against an answer Render does not give.

let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

async function sim(apiKey: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${stack.render.url}${path}`, {
    method, headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', accept: 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, text, json: text ? JSON.parse(text) : null };
}

test('the simulator refuses to cancel a cron job\'s deploy, as the spec says Render does', async (t) => {
  const { apiKey, ownerId } = await signedInWithKey(stack, 'simcron');
  const release = stack.render.holdPhase({ serviceName: 'sim-nightly' }, 'build_in_progress');
  t.teardown(release);
  const created = await sim(apiKey, 'POST', '/services', {
    type: 'cron_job', name: 'sim-nightly', ownerId, repo: 'https://github.com/simcron/jobs', branch: 'main',
    serviceDetails: { runtime: 'node', plan: 'starter', schedule: '0 3 * * *', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'node job.js' } },
  });
  t.is(created.status, 201, created.text);
  const { service, deployId } = created.json as { service: { id: string }; deployId: string };
  t.true(service.id.startsWith('crn-'));
  for (let i = 0; i < 200; i++) {
    const d = await sim(apiKey, 'GET', `/services/${service.id}/deploys/${deployId}`);
    if (d.json.status === 'build_in_progress') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const cancel = await sim(apiKey, 'POST', `/services/${service.id}/deploys/${deployId}/cancel`);
  t.is(cancel.status, 400, `a cron job's deploy was canceled: ${cancel.status} ${cancel.text}`);
  // And the web service's deploy is still cancelable (the rule is for cron jobs only).
  const webRelease = stack.render.holdPhase({ serviceName: 'sim-web' }, 'build_in_progress');
  t.teardown(webRelease);
  const web = await sim(apiKey, 'POST', '/services', {
    type: 'web_service', name: 'sim-web', ownerId, repo: 'https://github.com/simcron/jobs', branch: 'main',
    serviceDetails: { runtime: 'node', plan: 'starter', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'node index.js' } },
  });
  t.is(web.status, 201, web.text);
  for (let i = 0; i < 200; i++) {
    const d = await sim(apiKey, 'GET', `/services/${web.json.service.id}/deploys/${web.json.deployId}`);
    if (d.json.status === 'build_in_progress') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const webCancel = await sim(apiKey, 'POST', `/services/${web.json.service.id}/deploys/${web.json.deployId}/cancel`);
  t.is(webCancel.status, 200, webCancel.text);
});

test('canceling a cron job\'s deployment while Render builds it: a 4xx saying why, and the deployment goes on', async (t) => {
  const { agent } = await signedInWithKey(stack, 'appcron');
  addNodeRepo(stack, 'appcron', 'jobs');
  const release = stack.render.holdPhase({ serviceName: 'nightly' }, 'build_in_progress');
  t.teardown(release);
  const res = await agent.post('/api/render/deploy', {
    github_repo: 'appcron/jobs', project_name: 'nightly', service_type: 'cron_job', schedule: '0 3 * * *', start_command: 'node job.js',
  });
  t.is(res.status, 202, res.text);
  await waitStatus(agent, res.json.id, 'build_in_progress');
  const cancel = await agent.post(`/api/render/deployments/${res.json.id}/cancel`, {});
  t.log(cancel.status, cancel.text);
  t.is(cancel.status, 409, cancel.text);
  t.is(cancel.json?.error?.code, 'render_conflict');
  t.regex(cancel.json?.error?.message ?? '', /cannot cancel a cron job's deploy.*runs to its end.*suspend the cron job/, cancel.text);
  release();
  const done = await waitFinished(agent, res.json.id);
  t.is(done.status, 'live', 'Render built it: the record says what Render did');
});

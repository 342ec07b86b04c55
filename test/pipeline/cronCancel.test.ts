import test, { type ExecutionContext } from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, canceledWhileAskHeld, renderCalls, renderDeploysOf, signedInWithKey, until, waitFinished, waitStatus } from '../helpers/pipeline.js';

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

// A cron job's deployment canceled before Render named its deploy to us (while Render created the cron job,
// or `created` with its first deploy not yet found) was canceled here, and its job then asked Render to
// cancel that first deploy (the run that created it once, the follow-up at every look: canceledAsk.ts),
// which Render refuses for a cron job (400) each time, until the deploy ended or the follow-up gave up; the
// record said only "You canceled this deploy." meanwhile. Now no cancel is asked for: the record says at
// once that Render's deploy runs to its end, then how it ended. Canceled before its creation was sent,
// nothing is made on Render at all.

const CANCEL_ROUTE = '/services/{serviceId}/deploys/{deployId}/cancel';
const LIST_ROUTE = '/services/{serviceId}/deploys';

/** A signed-in user about to deploy `<login>/jobs` as a cron job, its builds held in build_in_progress until `releaseBuilds`. */
async function cronDeployer(t: ExecutionContext, login: string) {
  const user = await signedInWithKey(stack, login);
  addNodeRepo(stack, login, 'jobs');
  const releaseBuilds = stack.render.holdPhase({ serviceName: login }, 'build_in_progress');
  t.teardown(releaseBuilds);
  const deploy = () => user.agent.post('/api/render/deploy', {
    github_repo: `${login}/jobs`, project_name: login, service_type: 'cron_job', schedule: '0 3 * * *', start_command: 'node job.js',
  });
  return { ...user, login, releaseBuilds, deploy };
}

/** The cancels of a cron job's deploy asked of Render (each one a 400), as `status` strings. */
const cancelsAsked = (accountId: string) => renderCalls(stack, accountId, 'POST', CANCEL_ROUTE).map((c) => c.status);

/**
 * After the user's cancel of `id`: its record once it says Render's deploy was left to run, or once Render
 * has been asked three times to cancel it (what the follow-up did before).
 */
async function saidLeftOrAskedAgain(u: Awaited<ReturnType<typeof cronDeployer>>, id: string) {
  return until('the record says the cron job\'s deploy runs on, or Render was asked to cancel it again', async () => {
    const rec = (await u.agent.get(`/api/render/deployments/${id}`)).json;
    return /cron job/.test(rec.failure?.message ?? '') || cancelsAsked(u.accountId).length >= 3 ? rec : null;
  }, 15_000);
}

/** The rest of both tests: nothing asked of Render, the record honest while it builds and once it went live. */
async function leftToRunAndSaidSo(t: ExecutionContext, u: Awaited<ReturnType<typeof cronDeployer>>, id: string) {
  const said = await saidLeftOrAskedAgain(u, id);
  t.deepEqual(cancelsAsked(u.accountId), [], 'Render was asked to cancel a cron job\'s deploy (it refuses: 400)');
  t.is(said.status, 'canceled');
  t.regex(said.failure?.message ?? '', /^You canceled this deploy here, but its deploy on Render was not canceled there: Render cannot cancel a cron job's deploy \(its API does not support it\), so it runs to its end there and may go live\. To stop the job's runs, suspend the cron job on its page\.$/);
  t.truthy(said.serviceId, 'the record says where the cron job is');
  const [first] = await renderDeploysOf(stack, u.apiKey, said.serviceId);
  t.is(first?.status, 'build_in_progress', 'Render builds it on');

  u.releaseBuilds();
  const ended = await until('the record says the cron job\'s deploy went live', async () => {
    const rec = (await u.agent.get(`/api/render/deployments/${id}`)).json;
    return rec.failure?.code === 'went_live_after_cancel' ? rec : null;
  }, 15_000);
  t.is(ended.status, 'canceled');
  t.regex(ended.failure?.message ?? '', /^You canceled this deploy here, but its deploy on Render was not canceled there: Render cannot cancel a cron job's deploy \(its API does not support it\), and it went live\. It is the service's live deploy now/);
  t.is((await renderDeploysOf(stack, u.apiKey, said.serviceId))[0]?.status, 'live');
  t.deepEqual(cancelsAsked(u.accountId), [], 'no cancel asked of Render afterwards either');
}

test('a cron job\'s deployment canceled while Render creates it: no cancel asked of Render, and the record says its first deploy runs on, then that it went live', async (t) => {
  const u = await cronDeployer(t, 'croncreating');
  const creating = stack.render.holdRequest({ method: 'POST', route: '/services', apiKey: u.apiKey });
  t.teardown(creating.release);
  const res = await u.deploy();
  t.is(res.status, 202, res.text);
  await creating.arrived;
  // The cancel's answer waits for the run that holds the job (deployQueue.ts requeueDeployJob): the
  // creation is let through once the record says canceled.
  const canceling = u.agent.post(`/api/render/deployments/${res.json.id}/cancel`);
  await until('the cancel written', async () => (await u.agent.get(`/api/render/deployments/${res.json.id}`)).json.status === 'canceled', 10_000);
  creating.release();
  const canceled = await canceling;
  t.is(canceled.status, 200, canceled.text);
  t.is(canceled.json.status, 'canceled');
  await leftToRunAndSaidSo(t, u, res.json.id);
});

test('a cron job\'s deployment canceled while `created`, its first deploy not yet found: no cancel asked of Render, and the record says so', async (t) => {
  const u = await cronDeployer(t, 'croncreated');
  stack.render.setFault({ method: 'POST', route: '/services', apiKey: u.apiKey, kind: 'without', fields: ['deployId'], count: 1 });
  // Render does not list the new cron job's deploys yet: the watch looks again (a delayed job).
  const unlisted = stack.render.setFault({ method: 'GET', route: LIST_ROUTE, apiKey: u.apiKey, kind: 'body', body: [] });
  t.teardown(() => stack.render.clearFault(unlisted));
  const res = await u.deploy();
  t.is(res.status, 202, res.text);
  const created = await waitStatus(u.agent, res.json.id, 'created');
  t.is(created.deployId ?? null, null, 'the creation named no deploy');
  await until('the watch looked', async () => renderCalls(stack, u.accountId, 'GET', LIST_ROUTE).length > 0, 10_000);
  const canceled = await u.agent.post(`/api/render/deployments/${res.json.id}/cancel`);
  t.is(canceled.status, 200, canceled.text);
  t.is(canceled.json.status, 'canceled');
  stack.render.clearFault(unlisted);
  await leftToRunAndSaidSo(t, u, res.json.id);
});

test('a cron job\'s deployment canceled before its creation was sent: nothing is made on Render, and the record is a plain cancel', async (t) => {
  const u = await cronDeployer(t, 'cronearly');
  const verifying = stack.github.holdRequest(`/repos/${u.login}/jobs`);
  t.teardown(verifying.release);
  const res = await u.deploy();
  t.is(res.status, 202, res.text);
  await verifying.arrived;
  // Answered once the run that holds the job is over (deployQueue.ts requeueDeployJob): GitHub is let
  // through once the record says canceled, and the run stops at its next write.
  const canceling = u.agent.post(`/api/render/deployments/${res.json.id}/cancel`);
  await until('the cancel written', async () => (await u.agent.get(`/api/render/deployments/${res.json.id}`)).json.status === 'canceled', 10_000);
  verifying.release();
  const canceled = await canceling;
  t.is(canceled.status, 200, canceled.text);
  t.is(canceled.json.status, 'canceled');
  await new Promise((r) => setTimeout(r, 300));
  t.is(renderCalls(stack, u.accountId, 'POST', '/services').length, 0, 'no cron job created');
  t.deepEqual(cancelsAsked(u.accountId), []);
  const rec = (await u.agent.get(`/api/render/deployments/${res.json.id}`)).json;
  t.is(rec.status, 'canceled');
  t.is(rec.failure?.message, 'You canceled this deploy.');
  t.is(rec.serviceId ?? null, null);
});

test('a cron job\'s redeploy canceled while its ask is on its way: no cancel asked of Render, and the record says the deploy it made runs on', async (t) => {
  const u = await cronDeployer(t, 'cronredeploy');
  u.releaseBuilds();
  const first = await u.deploy();
  t.is(first.status, 202, first.text);
  const live = await waitFinished(u.agent, first.json.id);
  t.is(live.status, 'live');
  const release = stack.render.holdPhase({ serviceName: u.login }, 'build_in_progress');
  t.teardown(release);
  const id = await canceledWhileAskHeld(t, stack, u, { route: LIST_ROUTE, path: `/api/render/services/${live.serviceId}/redeploy` });
  const said = await saidLeftOrAskedAgain(u, id);
  t.deepEqual(cancelsAsked(u.accountId), [], 'Render was asked to cancel a cron job\'s deploy (it refuses: 400)');
  t.regex(said.failure?.message ?? '', /Render cannot cancel a cron job's deploy \(its API does not support it\), so it runs to its end there and may go live\./);
  release();
  const ended = await until('the record says the redeploy went live', async () => {
    const rec = (await u.agent.get(`/api/render/deployments/${id}`)).json;
    return rec.failure?.code === 'went_live_after_cancel' ? rec : null;
  }, 15_000);
  t.is(ended.status, 'canceled');
  t.deepEqual(cancelsAsked(u.accountId), []);
});

import test, { type ExecutionContext } from 'ava';
import type { Stack } from '../helpers/stack.js';
import type { Agent } from '../helpers/agent.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, signedInWithKey, until, waitFinished, waitStatus } from '../helpers/pipeline.js';

// A service deleted while a redeploy of ours builds on it. The worker watches at the production cadence
// (3 s first look, up to 15 s between looks), so its next look, which meets Render's 404 and ends the
// deployment service_deleted (workers/tasks/serviceGone.ts), is seconds away. Before:
// - a delete through the app only stamped the records (serviceDeleted), and the redeploy said "Building"
//   until that look, its commit's failure posted late, after a new service of the same name and commit
//   could be live already (the commit's latest status then said failure for a live service);
// - a cancel pressed on that "Building" deployment (deleted through the app, or on Render's dashboard)
//   answered Render's bare 404, "Resource not found.", for a deployment the user had open.
// Now the web ends them at once with the worker's end: failed / service_deleted, its job removed, the
// final commit status asked (server/deployments/serviceDeleted.ts).
let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES }, worker: { watch: { initialMs: 3_000, factor: 1.2, maxDelayMs: 15_000 } } }, (p) => ({ stack } = p));

const WORKER_MESSAGE = (serviceId: string) => `The service was deleted on Render (${serviceId}), so this deploy cannot go on. Deploy the repository again to create a new service.`;

async function liveService(login: string, name: string) {
  const { agent, apiKey } = await signedInWithKey(stack, login);
  addNodeRepo(stack, login, name);
  const first = await waitFinished(agent, (await agent.post('/api/render/deploy', { github_repo: `${login}/${name}`, project_name: name })).json.id);
  if (first.status !== 'live') throw new Error(JSON.stringify(first));
  return { agent, apiKey, first };
}

/** A redeploy of the service held building on Render (released at the test's end): the worker waits seconds between its looks. */
async function redeployBuilding(t: ExecutionContext, agent: Agent, name: string, serviceId: string) {
  const release = stack.render.holdPhase({ serviceName: name }, 'build_in_progress');
  t.teardown(release);
  const again = await agent.post(`/api/render/services/${serviceId}/redeploy`, {});
  t.is(again.status, 202, again.text);
  return { building: await waitStatus(agent, again.json.id, 'build_in_progress'), release };
}

/** The commit's statuses of `context` on the GitHub simulator, once one says `state`. */
const statusOnceThere = (login: string, repo: string, sha: string, state: string) =>
  until(`a ${state} status on ${sha.slice(0, 7)}`, async () => {
    const all = stack.github.statusesFor(login, repo, sha) as Array<{ context: string; state: string; description?: string }>;
    return all.some((s) => s.state === state) ? all : null;
  }, 10_000);

test('a delete through the app ends its in-flight redeploy at once, as the worker would: failed, service_deleted, its job gone, the commit told', async (t) => {
  const { agent, first } = await liveService('sdf-del', 'doomed');
  const { building } = await redeployBuilding(t, agent, 'doomed', first.serviceId);
  t.falsy(building.finished);

  t.is((await agent.delete(`/api/render/services/${first.serviceId}`)).status, 204);
  // No wait: the delete's answer came after the records were written.
  const after = (await agent.get(`/api/render/deployments/${building.id}`)).json;
  t.true(after.serviceDeleted);
  t.true(after.finished, `the delete answered 204, yet its deployment still says ${after.status}`);
  t.is(after.status, 'failed');
  t.deepEqual(after.failure, { code: 'service_deleted', message: WORKER_MESSAGE(first.serviceId) });
  t.is(after.timeline.at(-1).source, 'orchestrator');
  t.is(await stack.web.deps.queue.getJob(building.id), undefined, 'its job is removed');
  // The live deploy of the service is not ended: it says the service is gone, with its status as it was.
  const older = (await agent.get(`/api/render/deployments/${first.id}`)).json;
  t.is(older.status, 'live');
  t.true(older.serviceDeleted);

  // Its final commit status is asked by the delete, not left to the worker's next look.
  const statuses = await statusOnceThere('sdf-del', 'doomed', building.renderCommitId ?? building.commitSha, 'failure');
  t.regex(statuses.at(-1)!.description ?? '', /service_deleted/);
  // The worker's later look changes nothing.
  await new Promise((r) => setTimeout(r, 4_000));
  t.deepEqual((await agent.get(`/api/render/deployments/${building.id}`)).json.failure, after.failure);
});

test('a service deleted and made again under its name right away: the old redeploy\'s failure does not land after the new service went live', async (t) => {
  const login = 'sdf-rec';
  const { agent, first } = await liveService(login, 'app');
  const { building, release } = await redeployBuilding(t, agent, 'app', first.serviceId);
  t.is((await agent.delete(`/api/render/services/${first.serviceId}`)).status, 204);
  release(); // the new service's deploys build

  // The same name, repository and commit: a new service.
  const made = await waitFinished(agent, (await agent.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: 'app' })).json.id);
  t.is(made.status, 'live', JSON.stringify(made.failure));
  t.not(made.serviceId, first.serviceId);
  t.is(made.commitSha, first.commitSha);
  const old = (await agent.get(`/api/render/deployments/${building.id}`)).json;
  t.is(old.failure?.code, 'service_deleted');
  t.true(Date.parse(old.finishedAt) < Date.parse(made.createdAt), 'ended before the new deploy was asked for');

  // Past the old run's next look (3 s) and the status worker's pacing: the commit's latest status is the live service's.
  await new Promise((r) => setTimeout(r, 4_000));
  const ofName = (stack.github.statusesFor(login, 'app', made.commitSha) as Array<{ context: string; state: string; description?: string }>).filter((s) => s.context === `render-orchestrator/app (${made.request.ownerId})`);
  t.is(ofName.at(-1)?.state, 'success', ofName.map((s) => `${s.state} ${s.description ?? ''}`).join('\n'));
});

test('a cancel of a redeploy whose service was deleted on Render\'s side ends it service_deleted and says so (409), not a bare 404', async (t) => {
  const { agent, apiKey, first } = await liveService('sdf-cancel', 'gone');
  const { building } = await redeployBuilding(t, agent, 'gone', first.serviceId);
  // On Render's dashboard (another client of the key): the app is not told, and the worker looks seconds later.
  const deleted = await fetch(`${stack.render.url}/services/${first.serviceId}`, { method: 'DELETE', headers: { authorization: `Bearer ${apiKey}` } });
  t.is(deleted.status, 204);
  t.falsy((await agent.get(`/api/render/deployments/${building.id}`)).json.finished, 'nobody has looked yet');

  const cancel = await agent.post(`/api/render/deployments/${building.id}/cancel`);
  t.is(cancel.status, 409, cancel.text);
  t.is(cancel.json.error.code, 'deployment_finished', 'as a cancel that finds its deployment ended (the page shows the message)');
  t.regex(cancel.json.error.message, /service was deleted on Render/);
  const after = (await agent.get(`/api/render/deployments/${building.id}`)).json;
  t.is(after.status, 'failed');
  t.deepEqual(after.failure, { code: 'service_deleted', message: WORKER_MESSAGE(first.serviceId) }, 'the worker\'s end, word for word');
  t.true(after.serviceDeleted);
  t.true((await agent.get(`/api/render/deployments/${first.id}`)).json.serviceDeleted, 'every deployment of the service learns it');
  t.is(await stack.web.deps.queue.getJob(building.id), undefined, 'its job is removed');
  await statusOnceThere('sdf-cancel', 'gone', building.renderCommitId ?? building.commitSha, 'failure');

  // Pressed again: the same answer as any ended deployment's.
  const again = await agent.post(`/api/render/deployments/${building.id}/cancel`);
  t.is(again.status, 409);
  t.is(again.json.error.code, 'deployment_finished');
});

test('a redeploy ended by deleting its service through the app: its result goes to the user\'s Slack like any other end', async (t) => {
  // The web ends it and removes its job (waiting between looks): the worker's end, which posts the result,
  // never ran for it, and a user who asked for deploy results heard nothing of the failed redeploy.
  const { agent, first } = await liveService('sdf-slack', 'slacked');
  const put = await agent.request('PUT', '/api/sentinel', { json: { enabled: true, slackWebhookUrl: 'https://hooks.slack.com/services/TSDF/B000/XXXXXXXXXXXXXXXX', slackDeployResults: true } });
  t.is(put.status, 200, put.text);
  const { building } = await redeployBuilding(t, agent, 'slacked', first.serviceId);
  t.is((await agent.delete(`/api/render/services/${first.serviceId}`)).status, 204);
  const posted = await until('the result on Slack', async () => stack.slack.texts.find((x) => x.includes('slacked failed')) ?? null, 10_000);
  t.is(posted, `[Deploy] slacked failed: service_deleted · sdf-slack/slacked@main (${(building.renderCommitId ?? building.commitSha).slice(0, 7)}) · ${stack.config.baseUrl}/#/deployments/${building.id}`);
  t.is(stack.slack.texts.filter((x) => x.includes('slacked failed')).length, 1);
});

import test, { type ExecutionContext } from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, QUICK_PHASES, type PipelineStack } from '../helpers/pipelineStack.js';
import { canceledWhileAskHeld, liveService, recordWithDeployId, renderApi, renderCalls, renderDeploysOf, redeployQueuedBehindRollback, rollbackHeldInLastPhase, until, waitFinished, waitStatus, type TestWorker } from '../helpers/pipeline.js';

// A cancel while the deployment is `render_queued` (Render answered 202 and has not been seen to list
// the deploy it queued): the record has no deploy id, so the route had nothing to cancel on Render, and
// it removed the job, so nothing ever looked for that deploy again: it built and went live for a
// deployment that says canceled. The cancel now leaves a job that finds the deploy by what was asked
// (workers/tasks/ownDeploy.ts) and cancels it on Render; a deploy someone else queued after ours is
// never taken for it.
let pipeline: PipelineStack;
let stack: Stack;
let worker: TestWorker;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => {
  pipeline = p;
  ({ stack, worker } = p);
});

const CANCEL_ROUTE = '/services/{serviceId}/deploys/{deployId}/cancel';
const LIST_ROUTE = '/services/{serviceId}/deploys';

test.serial('a redeploy canceled while render_queued: its queued deploy ends canceled on Render, once, and the record canceled once', async (t) => {
  const u = await liveService(stack, 'queued-cancel');
  // Someone rolls the service back, held running; our redeploy is queued behind it (202).
  const { running, finishRunning } = await rollbackHeldInLastPhase(stack, u.apiKey, u.serviceId, u.firstDeployId);
  t.teardown(finishRunning);
  // Our deploy, once it leaves the queue, stays building until the test has seen how it ends.
  const releaseBuild = stack.render.holdPhase({ serviceId: u.serviceId }, 'build_in_progress');
  t.teardown(releaseBuild);
  // The deploy list answers nothing while the deployment is asked for: it stays render_queued, no deploy id.
  stack.render.setFault({ method: 'GET', route: LIST_ROUTE, apiKey: u.apiKey, kind: 'body', body: [] });
  t.teardown(() => stack.render.clearFaults());

  const asked = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`);
  t.is(asked.status, 202, asked.text);
  const queued = await waitStatus(u.agent, asked.json.id, 'render_queued');
  t.is(queued.deployId ?? null, null);

  const canceled = await u.agent.post(`/api/render/deployments/${asked.json.id}/cancel`);
  t.is(canceled.status, 200, canceled.text);
  t.is(canceled.json.status, 'canceled');
  stack.render.clearFaults();
  finishRunning(); // the running deploy ends: ours leaves the queue

  const ours = await until('the redeploy\'s deploy on Render', async () =>
    (await renderDeploysOf(stack, u.apiKey, u.serviceId)).find((d) => d.trigger === 'api'));
  const cancelCall = await until('the cancel of the queued deploy on Render', async () =>
    renderCalls(stack, u.accountId, 'POST', CANCEL_ROUTE).find((c) => c.path.includes(ours.id)), 15_000).catch(() => null);
  releaseBuild();
  const after = await renderDeploysOf(stack, u.apiKey, u.serviceId);
  t.truthy(cancelCall, `the queued deploy of a canceled deployment is canceled on Render (${after.find((d) => d.id === ours.id)?.status})`);
  t.is(after.find((d) => d.id === ours.id)?.status, 'canceled');
  t.is(after.find((d) => d.id === running)?.status, 'live', 'the running deploy, someone else\'s, went on');
  t.is(renderCalls(stack, u.accountId, 'POST', CANCEL_ROUTE).length, 1, 'one cancel on Render, of ours only');

  const rec = await waitFinished(u.agent, asked.json.id);
  t.is(rec.status, 'canceled');
  t.is(rec.timeline.filter((e: { status: string }) => e.status === 'canceled').length, 1, 'the record was canceled once');
  // The job that cancelled it is over.
  await until('the follow-up job\'s end', async () => (await stack.web.deps.queue.getJob(asked.json.id))?.finishedOn ?? null, 15_000);
});

test.serial('a redeploy canceled while its ask is on its way, which Render then queues (202) unlisted: its deploy is canceled on Render once found', async (t) => {
  const u = await liveService(stack, 'trigger-queued-cancel');
  const { running, finishRunning } = await rollbackHeldInLastPhase(stack, u.apiKey, u.serviceId, u.firstDeployId);
  t.teardown(finishRunning);
  const releaseBuild = stack.render.holdPhase({ serviceId: u.serviceId }, 'build_in_progress');
  t.teardown(releaseBuild);
  // The ask waits on Render until the cancel is answered; Render then queues it (202) and, for the look
  // right after, lists nothing: the run that asked cannot name the deploy before the record ends.
  stack.render.setFault({ method: 'GET', route: LIST_ROUTE, apiKey: u.apiKey, kind: 'body', body: [], count: 1 });
  t.teardown(() => stack.render.clearFaults());
  const askedId = await canceledWhileAskHeld(t, stack, u, { route: LIST_ROUTE, path: `/api/render/services/${u.serviceId}/redeploy` });
  // The run that asked has had its one look (nothing listed); Render lists the deploy from now on.
  await until('the asking run\'s look after the 202', async () =>
    renderCalls(stack, u.accountId, 'GET', LIST_ROUTE).find((c) => c.query.includes('status=queued')) ?? null);
  const ours = await until('the redeploy\'s deploy on Render', async () =>
    (await renderDeploysOf(stack, u.apiKey, u.serviceId)).find((d) => d.trigger === 'api'));
  t.is(ours.status, 'queued');
  finishRunning(); // the running deploy ends: ours leaves the queue (Render cancels a deploy only then)

  const cancelCall = await until('the cancel of the queued deploy on Render', async () =>
    renderCalls(stack, u.accountId, 'POST', CANCEL_ROUTE).find((c) => c.path.includes(ours.id) && c.status !== 0), 15_000).catch(() => null);
  releaseBuild();
  const after = await renderDeploysOf(stack, u.apiKey, u.serviceId);
  t.truthy(cancelCall, `the deploy of a deployment canceled while asking is canceled on Render (${after.find((d) => d.id === ours.id)?.status})`);
  t.is(after.find((d) => d.id === ours.id)?.status, 'canceled');
  t.is(after.find((d) => d.id === running)?.status, 'live', 'the running deploy, someone else\'s, went on');
  const rec = await waitFinished(u.agent, askedId);
  t.is(rec.status, 'canceled');
  t.is(rec.timeline.filter((e: { status: string }) => e.status === 'canceled').length, 1, 'the record was canceled once');
});

test.serial('a deploy someone else queued after ours is never canceled for a canceled render_queued deployment', async (t) => {
  const u = await liveService(stack, 'queued-cancel-foreign');
  // A worker that stops looking for an unlisted queued deploy two seconds after the ask.
  await worker.close(5_000);
  worker = await pipeline.startWorker({ watch: { queuedUnmatchedMs: 2_000 } });
  const { running, finishRunning } = await rollbackHeldInLastPhase(stack, u.apiKey, u.serviceId, u.firstDeployId);
  t.teardown(finishRunning);
  // Render says "queued" to our ask and makes no deploy.
  stack.render.setFault({ method: 'POST', route: LIST_ROUTE, kind: 'status', status: 202, count: 1, apiKey: u.apiKey });
  t.teardown(() => stack.render.clearFaults());
  const asked = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`);
  t.is(asked.status, 202, asked.text);
  await waitStatus(u.agent, asked.json.id, 'render_queued');
  // Another client of the key redeploys: trigger api, no commit, made after our ask, queued.
  t.is(await renderApi(stack, u.apiKey, 'POST', `/services/${u.serviceId}/deploys`, {}), null);
  const foreign = (await renderDeploysOf(stack, u.apiKey, u.serviceId)).find((d) => d.trigger === 'api' && d.status === 'queued')!;
  t.truthy(foreign);

  const canceled = await u.agent.post(`/api/render/deployments/${asked.json.id}/cancel`);
  t.is(canceled.status, 200, canceled.text);
  // The cancel's job looks until it gives up on an unlisted deploy, and ends.
  await until('the follow-up job\'s end', async () => {
    const job = await stack.web.deps.queue.getJob(asked.json.id);
    return !job || job.finishedOn ? true : null;
  }, 15_000);
  finishRunning();
  const done = await until('the foreign deploy\'s end', async () => {
    const d = (await renderDeploysOf(stack, u.apiKey, u.serviceId)).find((x) => x.id === foreign.id);
    return d && ['live', 'canceled', 'build_failed', 'update_failed'].includes(d.status) ? d : null;
  });
  t.is(done.status, 'live', 'the foreign deploy went live');
  t.deepEqual(renderCalls(stack, u.accountId, 'POST', CANCEL_ROUTE).map((c) => c.path), [], 'nothing was canceled on Render');
  const rec = await waitFinished(u.agent, asked.json.id);
  t.is(rec.status, 'canceled');
  t.is(rec.deployId ?? null, null, 'the foreign deploy was never taken as the deployment\'s');
  t.not(running, foreign.id);
});

test.serial('sign-out while render_queued: the record says its deploy is left to Render, and the key is not used after', async (t) => {
  const u = await liveService(stack, 'queued-signout');
  const { finishRunning } = await rollbackHeldInLastPhase(stack, u.apiKey, u.serviceId, u.firstDeployId);
  t.teardown(finishRunning);
  stack.render.setFault({ method: 'GET', route: LIST_ROUTE, apiKey: u.apiKey, kind: 'body', body: [] });
  t.teardown(() => stack.render.clearFaults());
  const asked = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`);
  t.is(asked.status, 202, asked.text);
  await waitStatus(u.agent, asked.json.id, 'render_queued');

  t.is((await u.agent.post('/api/auth/logout')).status, 200);
  const callsAtSignOut = stack.render.calls.filter((c) => c.accountId === u.accountId).length;
  stack.render.clearFaults();
  finishRunning();
  const again = stack.agent();
  await stack.signIn(again, 'queued-signout');
  const rec = (await again.get(`/api/render/deployments/${asked.json.id}`)).json;
  t.is(rec.status, 'credentials_revoked');
  // Canceling Render's deploy would need the key after the sign-out (SECURITY.md): the reason says it
  // may still run there and where to stop it, rather than that it stopped. Worded by whoever found the key
  // gone first: the sign-out itself, or the worker's watch of the deploy between two of its polls.
  t.regex(rec.failure.message, /^(Stopped because you signed out or cleared your Render key|Your session ended or the Render key was cleared, so this deploy was stopped), in this app only/);
  t.regex(rec.failure.message, /Render may still build it and make it live: check the service's deploys in the Render dashboard/);
  await new Promise((r) => setTimeout(r, 600));
  t.is(stack.render.calls.filter((c) => c.accountId === u.accountId).length, callsAtSignOut, 'nothing was asked of Render with the key after the sign-out');
});

test.serial('a redeploy canceled while its deploy, named to us, waits in Render\'s queue: the cancel is answered, and that deploy canceled once it starts', async (t) => {
  const { u, running, finishRunning, releaseBuild, id, deployId } = await redeployQueuedBehindRollback(t, stack, 'named-queued-cancel');

  // Render cancels a deploy only once it has left the queue: the cancel must not fail on that.
  const canceled = await u.agent.post(`/api/render/deployments/${id}/cancel`);
  t.is(canceled.status, 200, canceled.text);
  t.is(canceled.json.status, 'canceled');
  finishRunning();
  const cancelCall = await until('the cancel of the deploy once it started', async () =>
    renderCalls(stack, u.accountId, 'POST', CANCEL_ROUTE).find((c) => c.path.includes(deployId) && c.status === 200), 15_000).catch(() => null);
  releaseBuild();
  const after = await renderDeploysOf(stack, u.apiKey, u.serviceId);
  t.truthy(cancelCall, `the queued deploy of a canceled deployment is canceled on Render (${after.find((d) => d.id === deployId)?.status})`);
  t.is(after.find((d) => d.id === deployId)?.status, 'canceled');
  t.is(after.find((d) => d.id === running)?.status, 'live', 'the running deploy, someone else\'s, went on');
  const rec = await waitFinished(u.agent, id);
  t.is(rec.status, 'canceled');
  t.is(rec.timeline.filter((e: { status: string }) => e.status === 'canceled').length, 1, 'the record was canceled once');
});

test.serial('a follow-up whose cancel Render refuses (400) while the deploy still builds looks again, and cancels it', async (t) => {
  // A 400 to the cancel was read as "it ended between the look and the cancel": the follow-up stopped, and
  // a deploy still building went on to go live under a record that says "You canceled this deploy."
  const { u, finishRunning, releaseBuild, id, deployId } = await redeployQueuedBehindRollback(t, stack, 'cancel-refused-once');
  stack.render.setFault({ method: 'POST', route: CANCEL_ROUTE, apiKey: u.apiKey, kind: 'status', status: 400, count: 1 });
  t.teardown(() => stack.render.clearFaults());
  const canceled = await u.agent.post(`/api/render/deployments/${id}/cancel`);
  t.is(canceled.status, 200, canceled.text);
  finishRunning(); // ours leaves the queue and builds (held)
  const cancels = () => renderCalls(stack, u.accountId, 'POST', CANCEL_ROUTE).filter((c) => c.path.includes(deployId));
  const done = await until('a cancel Render answered 200', async () => cancels().find((c) => c.status === 200), 20_000).catch(() => null);
  t.deepEqual(cancels().map((c) => c.status), [400, 200], 'refused once, then canceled');
  t.truthy(done);
  releaseBuild();
  t.is((await renderDeploysOf(stack, u.apiKey, u.serviceId)).find((d) => d.id === deployId)?.status, 'canceled');
  const rec = (await u.agent.get(`/api/render/deployments/${id}`)).json;
  t.is(rec.status, 'canceled');
  t.is(rec.failure?.message, 'You canceled this deploy.');
});

test.serial('a cancel whose deploy still waits in Render\'s queue when the user signs out: the record says that deploy may still run', async (t) => {
  const u = await liveService(stack, 'cancel-then-signout');
  const { finishRunning } = await rollbackHeldInLastPhase(stack, u.apiKey, u.serviceId, u.firstDeployId);
  t.teardown(finishRunning);
  const asked = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`);
  t.is(asked.status, 202, asked.text);
  const queued = await recordWithDeployId(u.agent, asked.json.id);
  const canceled = await u.agent.post(`/api/render/deployments/${asked.json.id}/cancel`);
  t.is(canceled.status, 200, canceled.text);
  t.is(canceled.json.failure.message, 'You canceled this deploy.');
  // Its job waits for the deploy to leave Render's queue; the user signs out meanwhile.
  t.is((await u.agent.post('/api/auth/logout')).status, 200);
  await until('the follow-up job\'s end', async () => (await stack.web.deps.queue.getJob(asked.json.id))?.finishedOn ?? null, 15_000);
  const again = stack.agent();
  await stack.signIn(again, 'cancel-then-signout');
  const rec = (await again.get(`/api/render/deployments/${asked.json.id}`)).json;
  t.is(rec.status, 'canceled');
  t.regex(rec.failure.message, /^You canceled this deploy here, but its deploy on Render was not canceled there: you signed out/);
  t.regex(rec.failure.message, /check the service's deploys in the Render dashboard/);
  finishRunning();
  t.deepEqual(renderCalls(stack, u.accountId, 'POST', CANCEL_ROUTE).filter((c) => c.path.includes(queued.deployId)), [], 'the key was not used after the sign-out');
});

test.serial('a cancel whose deploy still waits in Render\'s queue when the user connects another Render key: the record says so, and that deploy may still run', async (t) => {
  const u = await liveService(stack, 'cancel-then-rekey');
  const { finishRunning } = await rollbackHeldInLastPhase(stack, u.apiKey, u.serviceId, u.firstDeployId);
  t.teardown(finishRunning);
  const asked = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`);
  t.is(asked.status, 202, asked.text);
  const queued = await recordWithDeployId(u.agent, asked.json.id);
  t.is((await u.agent.post(`/api/render/deployments/${asked.json.id}/cancel`)).status, 200);
  // Its job waits for the deploy to leave Render's queue; the user connects another account's key meanwhile.
  const otherKey = `rnd_cancelrekeyother${'x'.repeat(16)}`;
  const other = stack.render.addAccount({ apiKey: otherKey, workspaces: [{ name: 'other workspace' }] });
  t.is((await u.agent.post('/api/render/setup', { api_key: otherKey })).status, 200);
  await until('the follow-up job\'s end', async () => (await stack.web.deps.queue.getJob(asked.json.id))?.finishedOn ?? null, 15_000);
  const rec = (await u.agent.get(`/api/render/deployments/${asked.json.id}`)).json;
  t.is(rec.status, 'canceled');
  t.regex(rec.failure.message, /^You canceled this deploy here, but its deploy on Render was not canceled there: you connected another Render key/);
  finishRunning();
  t.deepEqual(renderCalls(stack, u.accountId, 'POST', CANCEL_ROUTE).filter((c) => c.path.includes(queued.deployId)), [], 'the old key was not used after it was replaced');
  t.deepEqual(stack.render.calls.filter((c) => c.accountId === other.id).map((c) => `${c.method} ${c.route}`), ['GET /owners'], 'nor the new one for it');
});

test.serial('a redeploy canceled while its deploy, named to us, waits in Render\'s queue past the watch\'s bound: the record says that deploy may still run', async (t) => {
  // Its follow-up stopped looking once the watch would have (maxMs) and wrote nothing: the record said
  // "You canceled this deploy." while that deploy, still in Render's queue, built and went live once it started.
  const u = await liveService(stack, 'queued-past-bound');
  const { running, finishRunning } = await rollbackHeldInLastPhase(stack, u.apiKey, u.serviceId, u.firstDeployId);
  t.teardown(finishRunning);
  // The only worker for this test gives up on a deploy after 3 s.
  await worker.close(5_000);
  const bounded = await pipeline.startWorker({ watch: { maxMs: 3_000 } });
  try {
    const asked = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`);
    t.is(asked.status, 202, asked.text);
    const queued = await recordWithDeployId(u.agent, asked.json.id);
    t.is(queued.status, 'render_queued');
    const canceled = await u.agent.post(`/api/render/deployments/${asked.json.id}/cancel`);
    t.is(canceled.status, 200, canceled.text);
    const ended = await until('the follow-up job\'s end', async () => (await stack.web.deps.queue.getJob(asked.json.id))?.finishedOn ?? null, 15_000).catch(() => null);
    t.truthy(ended, 'the follow-up gave up at the watch\'s bound');
    const rec = (await u.agent.get(`/api/render/deployments/${asked.json.id}`)).json;
    t.is(rec.status, 'canceled');
    t.regex(rec.failure?.message ?? '', /^You canceled this deploy here, but its deploy on Render was not canceled there: it was still waiting in Render's queue when this app stopped looking \(Render cancels a deploy only once it starts\)\. Render may still build it and make it live: check the service's deploys in the Render dashboard, and cancel it there if it should not run\.$/);
    // As the record says: once the deploy ahead of it ends, it runs.
    finishRunning();
    const after = await until('the queued deploy\'s end', async () => {
      const d = (await renderDeploysOf(stack, u.apiKey, u.serviceId)).find((x) => x.id === queued.deployId);
      return d && !['created', 'queued', 'build_in_progress', 'pre_deploy_in_progress', 'update_in_progress'].includes(d.status) ? d : null;
    }, 15_000);
    t.is(after.status, 'live', 'Render built it and made it live');
    t.not(after.id, running);
    t.deepEqual(renderCalls(stack, u.accountId, 'POST', CANCEL_ROUTE), [], 'nothing was canceled on Render');
  } finally {
    await bounded.close(5_000);
    worker = await pipeline.startWorker();
  }
});

test.serial('a redeploy canceled while its deploy, named to us, waits in Render\'s queue, and Render fails the looks for a while: the follow-up keeps looking as long as the watch would, and cancels that deploy once it starts', async (t) => {
  // A failing look gave up once an unlisted deploy's would have (queuedUnmatchedMs), though this deploy
  // was named to us and known to be on Render: one 5xx past that left it to build and go live.
  await canceledDeployOutlastsFailingLooks(t, 'named-queued-failing', async (u) => {
    const asked = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`);
    t.is(asked.status, 202, asked.text);
    const queued = await recordWithDeployId(u.agent, asked.json.id);
    t.is(queued.status, 'render_queued');
    const askedAt = Date.now();
    const canceled = await u.agent.post(`/api/render/deployments/${asked.json.id}/cancel`);
    t.is(canceled.status, 200, canceled.text);
    return { id: asked.json.id, deployId: queued.deployId, askedAt, lookRoute: '/services/{serviceId}/deploys/{deployId}' };
  });
});

test.serial('a redeploy canceled while render_queued with no deploy id, whose deploy its follow-up then finds queued, and Render fails the looks for a while: the follow-up keeps looking as the watch would, and cancels that deploy once it starts', async (t) => {
  // Found by what was asked (never named on the record), the deploy is as surely on Render as one named
  // to us; a failing look past the unlisted bound (queuedUnmatchedMs) gave it up all the same.
  await canceledDeployOutlastsFailingLooks(t, 'found-queued-failing', async (u) => {
    // The deploy list answers nothing while the deployment is asked for: it stays render_queued, no deploy id.
    const empty = stack.render.setFault({ method: 'GET', route: LIST_ROUTE, apiKey: u.apiKey, kind: 'body', body: [] });
    t.teardown(() => stack.render.clearFaults());
    const asked = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`);
    t.is(asked.status, 202, asked.text);
    const queued = await waitStatus(u.agent, asked.json.id, 'render_queued');
    t.is(queued.deployId ?? null, null);
    const askedAt = Date.now();
    const canceled = await u.agent.post(`/api/render/deployments/${asked.json.id}/cancel`);
    t.is(canceled.status, 200, canceled.text);
    stack.render.clearFault(empty);
    const ours = await until('the redeploy\'s deploy on Render', async () =>
      (await renderDeploysOf(stack, u.apiKey, u.serviceId)).find((d) => d.trigger === 'api'));
    t.is(ours.status, 'queued');
    const listedBefore = renderCalls(stack, u.accountId, 'GET', LIST_ROUTE).length;
    // The follow-up has seen its deploy listed before Render starts failing its looks.
    await until('the follow-up\'s look that lists the deploy', async () =>
      renderCalls(stack, u.accountId, 'GET', LIST_ROUTE).slice(listedBefore).some((c) => c.status === 200) ? true : null, 10_000);
    return { id: asked.json.id, deployId: ours.id, askedAt, lookRoute: LIST_ROUTE };
  });
});

/**
 * A redeploy whose deploy waits in Render's queue behind a running rollback, on the only worker, which gives
 * up on an unlisted deploy after 1 s and a listed one after 30 s. `askAndCancel` asks for it and cancels it,
 * and says by which route the follow-up looks at that deploy; Render then answers 503 to those looks until
 * well past the unlisted bound, and the rollback ends, so the deploy starts. The follow-up must have kept
 * looking and canceled it on Render, the rollback going on and the record saying a plain cancel.
 */
async function canceledDeployOutlastsFailingLooks(
  t: ExecutionContext, login: string,
  askAndCancel: (u: Awaited<ReturnType<typeof liveService>>) => Promise<{ id: string; deployId: string; askedAt: number; lookRoute: string }>,
): Promise<void> {
  const u = await liveService(stack, login);
  const { running, finishRunning } = await rollbackHeldInLastPhase(stack, u.apiKey, u.serviceId, u.firstDeployId);
  t.teardown(finishRunning);
  const releaseBuild = stack.render.holdPhase({ serviceId: u.serviceId }, 'build_in_progress');
  t.teardown(releaseBuild);
  await worker.close(5_000);
  const bounded = await pipeline.startWorker({ watch: { initialMs: 200, factor: 1.2, maxDelayMs: 300, maxMs: 30_000, queuedUnmatchedMs: 1_000 } });
  try {
    const { id, deployId, askedAt, lookRoute } = await askAndCancel(u);
    const failing = stack.render.setFault({ method: 'GET', route: lookRoute, apiKey: u.apiKey, kind: 'status', status: 503 });
    await until('three failed looks past the unlisted bound', async () =>
      Date.now() - askedAt > 2_000 && renderCalls(stack, u.accountId, 'GET', lookRoute).filter((c) => c.status === 503).length >= 3 ? true : null, 15_000).catch(() => null);
    stack.render.clearFault(failing);
    finishRunning(); // the running deploy ends: ours leaves the queue
    const cancelCall = await until('the cancel of the deploy once it started', async () =>
      renderCalls(stack, u.accountId, 'POST', CANCEL_ROUTE).find((c) => c.path.includes(deployId) && c.status === 200), 15_000).catch(() => null);
    releaseBuild();
    const after = await renderDeploysOf(stack, u.apiKey, u.serviceId);
    t.truthy(cancelCall, `the deploy is canceled on Render once it starts (${after.find((d) => d.id === deployId)?.status})`);
    t.is(after.find((d) => d.id === deployId)?.status, 'canceled');
    t.is(after.find((d) => d.id === running)?.status, 'live', 'the running deploy, someone else\'s, went on');
    const rec = (await u.agent.get(`/api/render/deployments/${id}`)).json;
    t.is(rec.status, 'canceled');
    t.is(rec.failure?.message, 'You canceled this deploy.');
  } finally {
    await bounded.close(5_000);
    worker = await pipeline.startWorker();
  }
}

test.serial('a redeploy canceled while its deploy waits in Render\'s queue, which then goes live before the follow-up looks again: the record says it went live', async (t) => {
  // The follow-up found the deploy ended (live) and stopped, writing nothing: the record said "You canceled
  // this deploy." while that deploy had built and gone live on Render (a deploy that, once out of the
  // queue, takes less than the follow-up's wait between looks: up to 15 s).
  const u = await liveService(stack, 'queued-went-live');
  const { running, finishRunning } = await rollbackHeldInLastPhase(stack, u.apiKey, u.serviceId, u.firstDeployId);
  t.teardown(finishRunning);
  const asked = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`);
  t.is(asked.status, 202, asked.text);
  const queued = await recordWithDeployId(u.agent, asked.json.id);
  t.is(queued.status, 'render_queued');
  const canceled = await u.agent.post(`/api/render/deployments/${asked.json.id}/cancel`);
  t.is(canceled.status, 200, canceled.text);
  t.is(canceled.json.failure.message, 'You canceled this deploy.');
  // The follow-up's looks fail while the deploy ahead ends and ours builds and goes live.
  const failing = stack.render.setFault({ method: 'GET', route: '/services/{serviceId}/deploys/{deployId}', apiKey: u.apiKey, kind: 'status', status: 503 });
  t.teardown(() => stack.render.clearFaults());
  finishRunning();
  const ours = await until('the queued deploy live on Render', async () =>
    (await renderDeploysOf(stack, u.apiKey, u.serviceId)).find((d) => d.id === queued.deployId && d.status === 'live'), 15_000);
  stack.render.clearFault(failing);
  await until('the follow-up job\'s end', async () => (await stack.web.deps.queue.getJob(asked.json.id))?.finishedOn ?? null, 15_000);
  t.deepEqual(renderCalls(stack, u.accountId, 'POST', CANCEL_ROUTE).filter((c) => c.path.includes(ours.id) && c.status === 200), [], 'nothing was canceled on Render');
  t.is((await renderDeploysOf(stack, u.apiKey, u.serviceId)).find((d) => d.id === running)?.status, 'deactivated');
  const rec = (await u.agent.get(`/api/render/deployments/${asked.json.id}`)).json;
  t.is(rec.status, 'canceled');
  t.regex(rec.failure?.message ?? '', /^You canceled this deploy here, but its deploy on Render was not canceled there: it left Render's queue and went live before it could be canceled\./);
  t.regex(rec.failure?.message ?? '', /roll back/);
  // Its commit status, asked once the follow-up knew how the deploy ended: the commit runs, not a failure
  // (nor a status left pending: the one asked once Render queued the redeploy is superseded).
  const statusesOfCommit = () => stack.github.statusesFor('queued-went-live', 'app', queued.renderCommitId);
  const said = await until('the redeploy\'s final commit status', async () => statusesOfCommit().find((s) => /canceled/.test(s.description ?? '')) ?? null, 15_000).catch(() => null);
  t.is(said?.state, 'success');
  t.is(said?.description, 'app went live on Render: canceled here too late to stop it');
  t.is(statusesOfCommit().at(-1) ?? null, said, 'the newest on the commit');
});

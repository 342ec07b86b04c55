import test, { type ExecutionContext } from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, type PipelineStack } from '../helpers/pipelineStack.js';
import { Agent } from '../helpers/agent.js';
import { isInProgressOnRender } from '../../server/deployments/renderStatus.js';
import { addNodeRepo, canceledWhileAskHeld, liveService, renderCalls, renderDeploysOf, signedInWithKey, until } from '../helpers/pipeline.js';

// A user's cancel that leaves the worker's run, mid-step, to cancel a deploy on Render (the route cannot
// take a job a run holds: deployQueue.ts requeueDeployJob), followed by a sign-out before that run's
// step comes back. The sign-out ends the consent to use the key (SECURITY.md): the run must make no call
// with it afterwards, the cancel on Render included, and the canceled record says its deploy on Render
// was not canceled. The run's steps each checked only that the record was canceled (createService.ts
// recordCreated, renderDeploy.ts recordAskedDeploy), and deployTask.ts runEnded handed the run's own
// client to canceledAsk.ts, which then never looked at the session again.

let stack: Stack;
let pipeline: PipelineStack;
usePipelineStack(test, {}, (p) => {
  pipeline = p;
  ({ stack } = p);
});

const callsOf = (accountId: string) => stack.render.calls.filter((c) => c.accountId === accountId).map((c) => `${c.method} ${c.route}`);

/** Cancel (200), sign out, then let Render answer the held call: no call with the key after the sign-out. */
async function cancelSignOutRelease(t: ExecutionContext, u: { agent: any; accountId: string }, id: string, held: { release(): void }) {
  const canceled = await u.agent.post(`/api/render/deployments/${id}/cancel`);
  t.is(canceled.status, 200, canceled.text);
  t.is((await u.agent.post('/api/auth/logout')).status, 200);
  const atSignOut = callsOf(u.accountId);
  held.release();
  await new Promise((r) => setTimeout(r, 1_500));
  t.deepEqual(callsOf(u.accountId).slice(atSignOut.length), [], 'no call with the key after the sign-out');
}

/** The record as a new session of the same user reads it, once its reason says Render's deploy was left. */
async function leftReason(login: string, id: string) {
  const again = stack.agent();
  await stack.signIn(again, login);
  return until('the reason that Render\'s deploy was not canceled', async () => {
    const rec = (await again.get(`/api/render/deployments/${id}`)).json;
    return /was not canceled there/.test(rec.failure?.message ?? '') ? rec : null;
  }, 10_000).catch(async () => (await again.get(`/api/render/deployments/${id}`)).json);
}

test.serial('cancel, then sign-out, while a `created` deploy\'s watch looks for its first deploy: the look\'s answer is not followed by a cancel with the key', async (t) => {
  const login = 'cso-created';
  const u = await signedInWithKey(stack, login);
  addNodeRepo(stack, login, 'app');
  t.teardown(stack.render.holdPhase({ serviceName: login }, 'build_in_progress'));
  stack.render.setFault({ method: 'POST', route: '/services', apiKey: u.apiKey, kind: 'without', fields: ['deployId'], count: 1 });
  const look = stack.render.holdRequest({ method: 'GET', route: '/services/{serviceId}/deploys', apiKey: u.apiKey });
  t.teardown(look.release);
  const res = await u.agent.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: login });
  t.is(res.status, 202, res.text);
  await look.arrived;
  await cancelSignOutRelease(t, u, res.json.id, look);
  const rec = await leftReason(login, res.json.id);
  t.is(rec.status, 'canceled');
  t.regex(rec.failure?.message ?? '', /was not canceled there/, 'the record says Render may still build it');
});

test.serial('cancel, then sign-out, while Render creates the service: its first deploy is not canceled with the key', async (t) => {
  const login = 'cso-creating';
  const u = await signedInWithKey(stack, login);
  addNodeRepo(stack, login, 'app');
  t.teardown(stack.render.holdPhase({ serviceName: login }, 'build_in_progress'));
  const creation = stack.render.holdRequest({ method: 'POST', route: '/services', apiKey: u.apiKey });
  t.teardown(creation.release);
  const res = await u.agent.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: login });
  t.is(res.status, 202, res.text);
  await creation.arrived;
  await cancelSignOutRelease(t, u, res.json.id, creation);
  const rec = await leftReason(login, res.json.id);
  t.is(rec.status, 'canceled');
  t.truthy(rec.serviceId, 'the record names the service');
  t.regex(rec.failure?.message ?? '', /was not canceled there/, 'the record says Render may still build it');
});

test.serial('cancel, then sign-out, while a redeploy\'s ask is on its way: the deploy it made is not canceled with the key', async (t) => {
  const u = await liveService(stack, 'cso-asking');
  const ask = stack.render.holdRequest({ method: 'POST', route: '/services/{serviceId}/deploys', apiKey: u.apiKey });
  t.teardown(ask.release);
  t.teardown(stack.render.holdPhase({ serviceId: u.serviceId }, 'build_in_progress'));
  const res = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`);
  t.is(res.status, 202, res.text);
  await ask.arrived;
  await cancelSignOutRelease(t, u, res.json.id, ask);
  const rec = await leftReason('cso-asking', res.json.id);
  t.is(rec.status, 'canceled');
  t.regex(rec.failure?.message ?? '', /was not canceled there/, 'the record says Render may still build it');
});

test.serial('a cancel whose run, mid-step, ends just after it: one follow-up, not a second that finds the X-Render-Api-Key session gone and says the deploy was left on Render', async (t) => {
  // The route waits up to 5 s for a run holding the job (deployQueue.ts requeueDeployJob). A run that
  // ended within that wait had already followed the cancel up (deployTask.ts runEnded: canceled the
  // service's first deploy, then ended the per-request key session); the route then removed its
  // completed job and added it again, and that second run, with no key session left, wrote on the
  // record that the deploy on Render was not canceled because the user signed out.
  const login = 'cfu-keysess';
  stack.github.addUser({ id: 9301, login });
  const token = stack.github.issueToken(login);
  const apiKey = `rnd_cfukeysess${'k'.repeat(24)}`;
  const accountId = stack.render.addAccount({ apiKey, workspaces: [{ name: `${login} ws` }] }).id;
  addNodeRepo(stack, login, 'app');
  t.teardown(stack.render.holdPhase({ serviceName: login }, 'build_in_progress'));
  const plain = new Agent(stack.url, { authorization: `Bearer ${token}` });
  const ci = new Agent(stack.url, { authorization: `Bearer ${token}`, 'x-render-api-key': apiKey });
  stack.render.setFault({ method: 'POST', route: '/services', apiKey, kind: 'without', fields: ['deployId'], count: 1 });
  const look = stack.render.holdRequest({ method: 'GET', route: '/services/{serviceId}/deploys', apiKey });
  t.teardown(look.release);
  const res = await ci.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: login });
  t.is(res.status, 202, res.text);
  await look.arrived;
  const canceling = plain.post(`/api/render/deployments/${res.json.id}/cancel`);
  await until('the record canceled', async () => (await plain.get(`/api/render/deployments/${res.json.id}`)).json.status === 'canceled', 10_000);
  look.release();
  const canceled = await canceling;
  t.is(canceled.status, 200, canceled.text);
  const stopped = await until('the first deploy canceled on Render', async () => renderCalls(stack, accountId, 'POST', '/services/{serviceId}/deploys/{deployId}/cancel').find((c) => c.status === 200), 10_000).catch(() => null);
  t.truthy(stopped, 'the run that held the job canceled the first deploy');
  await new Promise((r) => setTimeout(r, 2_000));
  const rec = (await plain.get(`/api/render/deployments/${res.json.id}`)).json;
  t.is(rec.status, 'canceled');
  t.is(rec.failure?.message, 'You canceled this deploy.', 'the record says what happened: the deploy on Render was canceled');
  t.is((await renderDeploysOf(stack, apiKey, rec.serviceId))[0]?.status, 'canceled');
});

/**
 * A canceled redeploy's follow-up whose every look Render answers 429 with `retryAfterMs`, under a worker
 * whose watch gives up after `boundMs`: given up at that bound, the record saying its deploy may still run.
 */
async function givenUpUnder429(t: ExecutionContext, login: string, retryAfterMs: number, boundMs = 3_000) {
  const u = await liveService(stack, login);
  // The only worker for this test gives up on an unmatched ask (and on anything else) after boundMs.
  await pipeline.worker.close(5_000);
  const bounded = await pipeline.startWorker({ watch: { maxMs: boundMs, queuedUnmatchedMs: boundMs } });
  try {
    const ask = stack.render.holdRequest({ method: 'POST', route: '/services/{serviceId}/deploys', apiKey: u.apiKey });
    t.teardown(ask.release);
    t.teardown(stack.render.holdPhase({ serviceId: u.serviceId }, 'build_in_progress'));
    const res = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`);
    t.is(res.status, 202, res.text);
    await ask.arrived;
    const canceled = await u.agent.post(`/api/render/deployments/${res.json.id}/cancel`);
    t.is(canceled.status, 200, canceled.text);
    // Every look for the deploy the ask made is a 429.
    const limited = stack.render.setFault({ method: 'GET', route: '/services/{serviceId}/deploys', apiKey: u.apiKey, kind: 'status', status: 429, ms: retryAfterMs });
    t.teardown(() => stack.render.clearFault(limited));
    ask.release();
    const said = await until('the record saying the deploy may still run', async () => {
      const rec = (await u.agent.get(`/api/render/deployments/${res.json.id}`)).json;
      return /was not canceled there/.test(rec.failure?.message ?? '') ? rec : null;
    }, boundMs + 12_000).catch(() => null);
    const looks = () => renderCalls(stack, u.accountId, 'GET', '/services/{serviceId}/deploys').filter((c) => c.status === 429).length;
    t.truthy(said, `the follow-up gave up and said so (looks refused so far: ${looks()})`);
    t.is(said?.status, 'canceled');
    t.regex(said?.failure?.message ?? '', /^You canceled this deploy here, but its deploy on Render was not canceled there: Render kept refusing requests \(rate limited\) while it was being canceled\. /);
    const before = looks();
    await new Promise((r) => setTimeout(r, 2_500));
    t.is(looks(), before, 'no look after giving up');
  } finally {
    await bounded.close(5_000);
    pipeline.worker = await pipeline.startWorker();
  }
}

test.serial('a canceled redeploy\'s follow-up that Render keeps answering 429: given up at the watch\'s bound, the record says its deploy may still run', async (t) => {
  // followCanceledAsk delayed itself on every 429 (and on every exhausted key budget) without looking at
  // the time: the other failures give up once the watch would have and say so on the record; this one
  // looked again for as long as Render kept refusing.
  await givenUpUnder429(t, 'cfu-ratelimited', 1_000);
});

test.serial('a canceled redeploy\'s follow-up answered 429 with a day\'s Retry-After: still given up at the watch\'s bound', async (t) => {
  // The bound is checked only when a run starts, and the follow-up waited out Render's Retry-After as is:
  // a day's kept the record from saying its deploy may still run for that day. A bound long enough that
  // the first look is refused within it.
  await givenUpUnder429(t, 'cfu-ratelimited-day', 86_400_000, 12_000);
});

/**
 * A redeploy canceled while its ask is on its way: the ask's deploy builds on Render (held there), and
 * every cancel of it the follow-up makes meets `fault` (a 503, or the connection cut). Returns the record
 * as its owner reads it over the API once the follow-up job has ended, Render's deploy, and the cancels tried.
 */
async function followUpGivenUpOnCancel(t: ExecutionContext, login: string, fault: { kind: 'status'; status: number } | { kind: 'reset' }) {
  const u = await liveService(stack, login);
  // The only worker for this test gives up on the ask's deploy (and on a failing Render) after 3 s.
  await pipeline.worker.close(5_000);
  const bounded = await pipeline.startWorker({ watch: { maxMs: 3_000, queuedUnmatchedMs: 3_000 } });
  try {
    t.teardown(stack.render.holdPhase({ serviceId: u.serviceId }, 'build_in_progress'));
    const failing = stack.render.setFault({ method: 'POST', route: '/services/{serviceId}/deploys/{deployId}/cancel', apiKey: u.apiKey, ...fault });
    t.teardown(() => stack.render.clearFault(failing));
    const id = await canceledWhileAskHeld(t, stack, u, { route: '/services/{serviceId}/deploys', path: `/api/render/services/${u.serviceId}/redeploy` });
    const ended = await until('the follow-up job\'s end', async () => (await stack.web.deps.queue.getJob(id))?.finishedOn ?? null, 20_000).catch(() => null);
    t.truthy(ended, 'the follow-up gave up within the watch\'s bound');
    const tried = renderCalls(stack, u.accountId, 'POST', '/services/{serviceId}/deploys/{deployId}/cancel');
    t.true(tried.length > 0 && tried.every((c) => c.status === (fault.kind === 'status' ? fault.status : 0)), `every cancel on Render failed (${tried.map((c) => c.status).join(', ')})`);
    const rec = (await u.agent.get(`/api/render/deployments/${id}`)).json;
    const ours = (await renderDeploysOf(stack, u.apiKey, u.serviceId)).find((d) => d.id !== u.firstDeployId);
    return { rec, ours, tried: tried.length, accountId: u.accountId, apiKey: u.apiKey };
  } finally {
    await bounded.close(5_000);
    pipeline.worker = await pipeline.startWorker();
  }
}

test.serial('a canceled redeploy\'s follow-up that Render answers 503 on every cancel: given up at the watch\'s bound, the record says its deploy may still run', async (t) => {
  // A failing Render (5xx, or unreachable) was noted on giving up only for a new service's first deploy:
  // the deploy an ask made, found building and never canceled, was left with "You canceled this deploy."
  const { rec, ours, apiKey } = await followUpGivenUpOnCancel(t, 'cfu-cancel503', { kind: 'status', status: 503 });
  t.true(isInProgressOnRender(ours?.status), `the ask's deploy still runs on Render (${ours?.status})`);
  t.is(rec.status, 'canceled');
  t.regex(rec.failure?.message ?? '', /^You canceled this deploy here, but its deploy on Render was not canceled there: Render kept failing while it was being canceled\. Render may still build it and make it live: check the service's deploys in the Render dashboard, and cancel it there if it should not run\.$/);
  t.false(JSON.stringify(rec).includes(apiKey), 'the record never holds the key');
});

test.serial('a canceled redeploy\'s follow-up whose every cancel loses its connection to Render: given up at the watch\'s bound, the record says its deploy may still run', async (t) => {
  const { rec, ours, apiKey } = await followUpGivenUpOnCancel(t, 'cfu-cancelreset', { kind: 'reset' });
  t.true(isInProgressOnRender(ours?.status), `the ask's deploy still runs on Render (${ours?.status})`);
  t.is(rec.status, 'canceled');
  t.regex(rec.failure?.message ?? '', /^You canceled this deploy here, but its deploy on Render was not canceled there: Render could not be reached while it was being canceled\. Render may still build it and make it live: /);
  t.false(JSON.stringify(rec).includes(apiKey), 'the record never holds the key');
});

import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, renderCalls, renderDeploysOf, signedInWithKey, until, waitFinished, waitStatus, type TestWorker } from '../helpers/pipeline.js';
import { supersededDeploy } from '../helpers/attackTenants.js';
import { createRenderClient } from '../../server/render/client.js';

let stack: Stack;
let worker: TestWorker;
usePipelineStack(test, { renderOptions: { phaseMs: { created: 20, build_in_progress: 4_000, pre_deploy_in_progress: 0, update_in_progress: 50 } } }, (p) => ({ stack, worker } = p));

/**
 * Render keeps this service's build going until the test is over: what a test does "mid-build" happens
 * mid-build however slow the machine (a 4 s build once bet that the worker saw it and the test acted in time).
 */
const holdBuild = (serviceName: string) => { stack.render.holdPhase({ serviceName }, 'build_in_progress'); };

test('clear-credentials while a deploy is being watched stops it with credentials_revoked', async (t) => {
  const { agent, accountId } = await signedInWithKey(stack, 'clearer');
  addNodeRepo(stack, 'clearer', 'watched');
  holdBuild('watched');
  const res = await agent.post('/api/render/deploy', { github_repo: 'clearer/watched', project_name: 'watched' });
  await waitStatus(agent, res.json.id, 'build_in_progress');
  const cleared = await agent.post('/api/render/clear-credentials');
  t.is(cleared.status, 200);
  const rec = (await agent.get(`/api/render/deployments/${res.json.id}`)).json;
  t.is(rec.status, 'credentials_revoked', 'stopped at once, not at the next check');
  // Either side may write the revocation first: the clear (requests.ts) or a worker's check that found
  // the key gone a moment earlier (deployTask.ts); both say why, in their own words.
  t.regex(rec.failure.message, /cleared your Render key|signed out|the Render key was cleared/);
  // The clear removes the jobs of the deploys it finds unfinished, waiting out a run in progress. One a
  // worker's run ended before the clear looked is not among them (no longer active): its job is that
  // run's, which may still be finishing as the clear answers, and ends completed, with nothing left to
  // run (if the clear looked before the run's write, it removed the job once the run ended: gone).
  const job = await until('the watch job is not running', async () => {
    const found = await stack.web.deps.queue.getJob(res.json.id);
    const state = found ? await found.getState() : 'gone';
    return state === 'active' ? null : { state };
  });
  if (rec.failure.message.startsWith('Stopped because')) t.is(job.state, 'gone', 'the delayed watch job is gone');
  else t.true(job.state === 'gone' || job.state === 'completed', `the run that wrote the revocation was the job's last (${job.state})`);
  t.deepEqual((await agent.get(`/api/render/deployments/${res.json.id}`)).json.timeline, rec.timeline, 'nothing was written after the revocation');
  const checksAtRevoke = renderCalls(stack, accountId, 'GET', '/services/{serviceId}/deploys/{deployId}').length;
  await new Promise((r) => setTimeout(r, 600));
  t.true(renderCalls(stack, accountId, 'GET', '/services/{serviceId}/deploys/{deployId}').length <= checksAtRevoke + 1, 'no more watching with that key');
  t.is((await agent.get(`/api/render/deployments/${res.json.id}`)).json.status, 'credentials_revoked', 'a late worker write cannot resurrect it');
});

test('a clear whose key a due watch run found gone first: that run ends the deploy and is its job\'s last', async (t) => {
  const { agent } = await signedInWithKey(stack, 'clearlate');
  addNodeRepo(stack, 'clearlate', 'watched');
  holdBuild('watched-cl');
  const res = await agent.post('/api/render/deploy', { github_repo: 'clearlate/watched', project_name: 'watched-cl' });
  await waitStatus(agent, res.json.id, 'build_in_progress');
  const stored = (await stack.web.deps.deployments.get(res.json.id))!;
  // The clear's two steps (endSession.ts clearKey) with a watch run between them, as a loaded machine
  // may order them: the key goes, the worker's next check finds it gone and writes the revocation,
  // then the clear stops the session's unfinished deploys (none left: this one is over).
  await stack.web.deps.sessions.clearCredentials(stored.sessionRef);
  const rec = await until('the worker wrote the revocation', async () => {
    const r = (await agent.get(`/api/render/deployments/${res.json.id}`)).json;
    return r.status === 'credentials_revoked' ? r : null;
  });
  t.regex(rec.failure.message, /the Render key was cleared/);
  // Its build runs on Render, which the worker cannot cancel without the key: the reason says so.
  t.regex(rec.failure.message, /Render may still build it and make it live: check the service's deploys in the Render dashboard/);
  t.is(await stack.web.deps.deployRequests.revokeForSession(stored.userId, stored.sessionRef), 0);
  const job = await until('the watch job is not running', async () => {
    const found = await stack.web.deps.queue.getJob(res.json.id);
    const state = found ? await found.getState() : 'gone';
    return state === 'active' ? null : { state };
  });
  t.is(job.state, 'completed', 'nothing is left to run for it');
  t.deepEqual((await agent.get(`/api/render/deployments/${res.json.id}`)).json.timeline, rec.timeline, 'nothing was written after the revocation');
});

test.serial('logout stops the session\'s queued deploys before any Render call', async (t) => {
  // pause(), not pause(true): a worker paused without waiting for its runs leaves its blocking wait for a
  // job open (BullMQ 6), and takes the next job that comes, the deploy below (it was active 300 ms later).
  await worker.worker.pause();
  try {
    const { agent, accountId } = await signedInWithKey(stack, 'leaver');
    addNodeRepo(stack, 'leaver', 'never');
    const before = stack.render.calls.filter((c) => c.accountId === accountId).length;
    const res = await agent.post('/api/render/deploy', { github_repo: 'leaver/never', project_name: 'never' });
    t.is(res.status, 202);
    t.is((await agent.post('/api/auth/logout')).status, 200);
    await worker.worker.resume();
    await new Promise((r) => setTimeout(r, 500));
    t.is(stack.render.calls.filter((c) => c.accountId === accountId).length, before, 'the worker never used the key');
    const b = stack.agent();
    await stack.signIn(b, 'leaver');
    const rec = (await b.get(`/api/render/deployments/${res.json.id}`)).json;
    t.is(rec.status, 'credentials_revoked');
    t.is(rec.failure.message, 'Stopped because you signed out or cleared your Render key.', 'nothing reached Render: it stopped');
  } finally {
    await worker.worker.resume();
  }
});

test('clear-credentials while the worker is in the middle of a check: its job is gone too, once the check ends', async (t) => {
  const { agent, apiKey, accountId } = await signedInWithKey(stack, 'midcheck');
  addNodeRepo(stack, 'midcheck', 'busy');
  holdBuild('busy');
  const res = await agent.post('/api/render/deploy', { github_repo: 'midcheck/busy', project_name: 'busy' });
  await waitStatus(agent, res.json.id, 'build_in_progress');
  // Render answers this key's status checks slowly: the watch job is active (locked) while one is pending.
  stack.render.setFault({ kind: 'latency', ms: 3_000, method: 'GET', route: '/services/{serviceId}/deploys/{deployId}', apiKey });
  const checks = () => renderCalls(stack, accountId, 'GET', '/services/{serviceId}/deploys/{deployId}');
  for (let i = 0; i < 400 && !checks().some((c) => c.status === 0); i++) await new Promise((r) => setTimeout(r, 25));
  t.true(checks().some((c) => c.status === 0), 'a status check is pending on Render');
  t.is((await stack.web.deps.queue.getJob(res.json.id))?.id, res.json.id);
  t.is(await (await stack.web.deps.queue.getJob(res.json.id))!.getState(), 'active', 'the worker holds the job');

  const cleared = await agent.post('/api/render/clear-credentials');
  t.is(cleared.status, 200);
  t.is((await agent.get(`/api/render/deployments/${res.json.id}`)).json.status, 'credentials_revoked');
  t.is(await stack.web.deps.queue.getJob(res.json.id), undefined, 'no job is left to act for the revoked deploy later');
  // The web asked for the final commit status as it ended the deployment, and so did the run holding the
  // job when its check came back: one final status is posted all the same.
  const { commitSha } = (await agent.get(`/api/render/deployments/${res.json.id}`)).json;
  const finals = () => stack.github.statusesFor('midcheck', 'busy', commitSha).filter((s) => s.state !== 'pending');
  await until('the final commit status', async () => finals().length > 0 || null, 15_000);
  await new Promise((r) => setTimeout(r, 3_500)); // past the held check's answer, and the run's own ask after it
  t.deepEqual(finals().map((s) => [s.state, s.description]), [['failure', 'Deploy of busy ended: credentials_revoked']]);
});

test('a key revoked at Render mid-deploy ends the deploy as credentials_revoked with the reason', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'revokedkey');
  addNodeRepo(stack, 'revokedkey', 'app');
  holdBuild('app-rk');
  const res = await agent.post('/api/render/deploy', { github_repo: 'revokedkey/app', project_name: 'app-rk' });
  await waitStatus(agent, res.json.id, 'build_in_progress');
  stack.render.revokeKey(apiKey);
  const done = await waitFinished(agent, res.json.id, 20_000);
  t.is(done.status, 'credentials_revoked');
  t.is(done.failure.code, 'render_key_rejected');
});

test('a second session of the same user keeps its own deploys when the first signs out', async (t) => {
  const { agent: laptop, apiKey } = await signedInWithKey(stack, 'twodevices');
  const phone = stack.agent();
  await stack.signIn(phone, 'twodevices');
  t.is((await phone.post('/api/render/setup', { api_key: apiKey })).status, 200);
  addNodeRepo(stack, 'twodevices', 'site');
  const fromPhone = await phone.post('/api/render/deploy', { github_repo: 'twodevices/site', project_name: 'site-2d' });
  t.is((await laptop.post('/api/auth/logout')).status, 200);
  const done = await waitFinished(phone, fromPhone.json.id, 20_000);
  t.is(done.status, 'live', 'consent given on the phone still stands');
});

test('connecting another account\'s key while a deploy builds stops it, saying the key was replaced; the other account is never used for it', async (t) => {
  const { agent } = await signedInWithKey(stack, 'keyswitch');
  addNodeRepo(stack, 'keyswitch', 'app');
  holdBuild('ks-app');
  const res = await agent.post('/api/render/deploy', { github_repo: 'keyswitch/app', project_name: 'ks-app' });
  await waitStatus(agent, res.json.id, 'build_in_progress');
  const otherKey = `rnd_keyswitchother${'z'.repeat(18)}`;
  const other = stack.render.addAccount({ apiKey: otherKey, workspaces: [{ name: 'other workspace' }] });
  t.is((await agent.post('/api/render/setup', { api_key: otherKey })).status, 200);
  const rec = (await agent.get(`/api/render/deployments/${res.json.id}`)).json;
  t.is(rec.status, 'credentials_revoked', 'stopped at once');
  // Either the key route (requests.ts) or a worker's check that found the session's key changed writes it first.
  t.regex(rec.failure.message, /you connected another Render key|the session's Render key was replaced/i);
  t.notRegex(rec.failure.message, /signed out|cleared/, 'the user did neither');
  t.regex(rec.failure.message, /Render may still build it/);
  await new Promise((r) => setTimeout(r, 300));
  t.deepEqual(stack.render.calls.filter((c) => c.accountId === other.id).map((c) => `${c.method} ${c.route}`), ['GET /owners'], 'the other key only checked at setup');
  t.deepEqual((await agent.get('/api/render/services')).json.services, [], 'nothing of it in the other account');
});

test.serial('sign-out while Render creates the service: the key is not used after it (its first deploy is left to Render, as the record says), and the record names the service', async (t) => {
  const { agent, apiKey, accountId } = await signedInWithKey(stack, 'outcreating');
  addNodeRepo(stack, 'outcreating', 'app');
  const held = stack.render.holdRequest({ method: 'POST', route: '/services', apiKey });
  t.teardown(held.release);
  const res = await agent.post('/api/render/deploy', { github_repo: 'outcreating/app', project_name: 'oc-app' });
  await held.arrived;
  // The sign-out waits for the running step (at most 5 s: removeDeployJob), which Render holds: it answers first.
  t.is((await agent.post('/api/auth/logout')).status, 200);
  const callsAtSignOut = stack.render.calls.filter((c) => c.accountId === accountId).map((c) => `${c.method} ${c.route}`);
  t.is(callsAtSignOut.at(-1), 'POST /services', 'the creation was on its way');
  held.release();
  const again = stack.agent();
  await stack.signIn(again, 'outcreating');
  const rec = await until('the creation noted on the revoked record', async () => {
    const r = (await again.get(`/api/render/deployments/${res.json.id}`)).json;
    return r.status === 'credentials_revoked' && r.serviceId ? r : null;
  });
  t.regex(rec.failure.message, /did not cancel the deploy Render already has/);
  await new Promise((r) => setTimeout(r, 500));
  t.deepEqual(stack.render.calls.filter((c) => c.accountId === accountId).map((c) => `${c.method} ${c.route}`), callsAtSignOut, 'no call with the key after the sign-out');
  t.not((await renderDeploysOf(stack, apiKey, rec.serviceId))[0]?.status, 'canceled', 'what the record says: Render still has its first deploy');
});

test.serial('sign-out while a redeploy\'s or a rollback\'s ask is on its way to Render: the deploy it made is left to Render, no call with the key after the sign-out', async (t) => {
  const { agent, apiKey, accountId } = await signedInWithKey(stack, 'outasking');
  addNodeRepo(stack, 'outasking', 'app');
  const first = await waitFinished(agent, (await agent.post('/api/render/deploy', { github_repo: 'outasking/app', project_name: 'oa-app' })).json.id, 20_000);
  t.is(first.status, 'live');
  // The rollback's target: a deploy that went live before the one live now (which a rollback may not name).
  const earlierDeployId = await supersededDeploy(createRenderClient({ baseUrl: stack.render.url, apiKey }), first.serviceId);
  for (const [route, path, body] of [
    ['/services/{serviceId}/deploys', `/api/render/services/${first.serviceId}/redeploy`, undefined],
    ['/services/{serviceId}/rollback', `/api/render/services/${first.serviceId}/rollback`, { deploy_id: earlierDeployId }],
  ] as const) {
    let session = agent;
    if (route !== '/services/{serviceId}/deploys') {
      session = stack.agent();
      await stack.signIn(session, 'outasking');
      t.is((await session.post('/api/render/setup', { api_key: apiKey })).status, 200);
    }
    const held = stack.render.holdRequest({ method: 'POST', route, apiKey });
    t.teardown(held.release);
    const asked = await session.post(path, body);
    t.is(asked.status, 202, asked.text);
    await held.arrived;
    t.is((await session.post('/api/auth/logout')).status, 200);
    const callsAtSignOut = stack.render.calls.filter((c) => c.accountId === accountId).map((c) => `${c.method} ${c.route}`);
    held.release();
    const again = stack.agent();
    await stack.signIn(again, 'outasking');
    const rec = (await again.get(`/api/render/deployments/${asked.json.id}`)).json;
    t.is(rec.status, 'credentials_revoked', route);
    t.regex(rec.failure.message, /Render may still build it/);
    await new Promise((r) => setTimeout(r, 500));
    const after = stack.render.calls.filter((c) => c.accountId === accountId).map((c) => `${c.method} ${c.route}`).slice(callsAtSignOut.length);
    t.deepEqual(after, [], `${route}: no call with the key after the sign-out`);
    t.not((await renderDeploysOf(stack, apiKey, first.serviceId))[0]?.status, 'canceled', `${route}: what the record says: Render still has the deploy`);
  }
});

test.serial('sign-out while a new service\'s first deploy (the branch\'s head, not the commit asked for) is being read: it is not stopped with the key after the sign-out', async (t) => {
  const { agent, apiKey, accountId } = await signedInWithKey(stack, 'outpinned');
  addNodeRepo(stack, 'outpinned', 'app');
  const asked = stack.github.branchHead('outpinned', 'app', 'main')!;
  stack.github.push('outpinned', 'app', 'main', { 'later.js': '' });
  const held = stack.render.holdRequest({ method: 'GET', route: '/services/{serviceId}/deploys/{deployId}', apiKey });
  t.teardown(held.release);
  const res = await agent.post('/api/render/deploy', { github_repo: 'outpinned/app', project_name: 'op-app', commit_sha: asked });
  t.is(res.status, 202, res.text);
  await held.arrived;
  t.is((await agent.post('/api/auth/logout')).status, 200);
  const callsAtSignOut = stack.render.calls.filter((c) => c.accountId === accountId).map((c) => `${c.method} ${c.route}`);
  held.release();
  const again = stack.agent();
  await stack.signIn(again, 'outpinned');
  const rec = (await again.get(`/api/render/deployments/${res.json.id}`)).json;
  t.is(rec.status, 'credentials_revoked');
  t.regex(rec.failure.message, /Render may still build it/);
  await new Promise((r) => setTimeout(r, 500));
  const after = stack.render.calls.filter((c) => c.accountId === accountId).map((c) => `${c.method} ${c.route}`).slice(callsAtSignOut.length);
  t.deepEqual(after, [], 'no call with the key after the sign-out');
});

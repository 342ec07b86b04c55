import test, { type ExecutionContext } from 'ava';
import type { Stack } from '../helpers/stack.js';
import { useGitHubLinkedPipelineStack, type PipelineStack } from '../helpers/pipelineStack.js';
import { renderCalls, renderDeploysOf, signedInWithKey, until, waitFinished } from '../helpers/pipeline.js';

// A deploy request may name the commit to deploy (commit_sha: CI's pushed commit). Pushes that land
// before the worker starts (two close together, or one while the deploy waits in the queue) must not
// make it deploy, or detect the stack of, the branch's newer head instead.

let stack: Stack;
let pipeline: PipelineStack;
useGitHubLinkedPipelineStack(test, (p) => {
  pipeline = p;
  ({ stack } = p);
});

const NODE_APP = { 'package.json': JSON.stringify({ name: 'pinned', scripts: { start: 'node index.js' } }), 'index.js': '' };
const STATIC_SITE = { 'index.html': '<h1>B</h1>' };

const myDeployments = async (agent: Awaited<ReturnType<typeof signedInWithKey>>['agent']) =>
  (await agent.get('/api/render/my-deployments?limit=100')).json.deployments as Array<{ id: string }>;

test('a deploy of commit A, requested after B was pushed, detects and deploys A', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'pinned');
  stack.github.addRepo({ owner: 'pinned', name: 'app', branches: { main: NODE_APP } });
  const a = stack.github.branchHead('pinned', 'app', 'main')!;
  const b = stack.github.push('pinned', 'app', 'main', STATIC_SITE);
  t.not(a, b);
  const before = stack.github.calls.length;
  const res = await agent.post('/api/render/deploy', { github_repo: 'pinned/app', branch: 'main', project_name: 'pinned-a', commit_sha: a });
  t.is(res.status, 202, res.text);
  t.is(res.json.request.commitSha, a);
  const done = await waitFinished(agent, res.json.id, 60_000);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  t.is(done.commitSha, a);
  t.is(done.renderCommitId, a, 'Render built commit A');
  // Detection read A's files (a Node app: package.json), not the branch's head (a static site).
  t.like(done.stack, { stack: 'node', serviceType: 'web_service' });
  t.true(stack.github.calls.slice(before).some((c) => c.path === '/api/v3/repos/pinned/app/contents/package.json' && c.status === 200));
  // The deploy that went live on Render is of A; the service's first deploy (the branch's head) was stopped.
  const deploys = await renderDeploysOf(stack, apiKey, done.serviceId);
  const live = deploys.find((d) => d.id === done.deployId)!;
  t.like(live, { status: 'live', trigger: 'api' });
  t.is(live.commit?.id, a);
  t.false(deploys.some((d) => d.commit?.id === b && d.status === 'live'), 'B never went live');
});

test('a deploy of the commit that is the branch\'s head keeps the new service\'s first deploy: nothing canceled, nothing built twice', async (t) => {
  // The first deploy of a new service builds the branch's head; it was canceled and the named commit
  // built again even when the head was that commit (CI's usual case: the push's own run).
  const { agent, apiKey, accountId } = await signedInWithKey(stack, 'pinhead');
  stack.github.addRepo({ owner: 'pinhead', name: 'app', branches: { main: NODE_APP } });
  const a = stack.github.branchHead('pinhead', 'app', 'main')!;
  const res = await agent.post('/api/render/deploy', { github_repo: 'pinhead/app', branch: 'main', project_name: 'pinhead', commit_sha: a });
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id, 60_000);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  t.like(done, { commitSha: a, renderCommitId: a });
  const deploys = await renderDeploysOf(stack, apiKey, done.serviceId);
  t.is(deploys.length, 1, 'only the first deploy');
  t.like(deploys[0], { id: done.deployId, status: 'live', commit: { id: a } });
  t.is(renderCalls(stack, accountId, 'POST', '/services/{serviceId}/deploys/{deployId}/cancel').length, 0, 'nothing canceled');
  t.is(renderCalls(stack, accountId, 'POST', '/services/{serviceId}/deploys').length, 0, 'no second deploy asked');
});

const CANCEL_ROUTE = '/services/{serviceId}/deploys/{deployId}/cancel';
const timelineNotes = (rec: { timeline: Array<{ note: string | null }> }) => rec.timeline.map((e) => e.note ?? '');

/**
 * A deploy of `a` (not the branch's head, `b`) on a new service, with Render's builds of it held in
 * build_in_progress: waits until the deployment has asked Render for its deploy of `a`, or ended, or
 * `releaseOn` says so of the record, then lets the builds go and returns the finished deployment and
 * the service's deploys.
 */
async function pinnedWithBuildsHeld(t: ExecutionContext, login: string, beforeDeploy: (apiKey: string) => void, releaseOn: (rec: { timeline: Array<{ note: string | null }> }) => boolean = () => false) {
  const { agent, apiKey, accountId } = await signedInWithKey(stack, login);
  stack.github.addRepo({ owner: login, name: 'app', branches: { main: NODE_APP } });
  const a = stack.github.branchHead(login, 'app', 'main')!;
  const b = stack.github.push(login, 'app', 'main', { ...NODE_APP, 'b.js': '' });
  const releaseBuilds = stack.render.holdPhase({ serviceName: login }, 'build_in_progress');
  t.teardown(releaseBuilds);
  beforeDeploy(apiKey);
  const res = await agent.post('/api/render/deploy', { github_repo: `${login}/app`, branch: 'main', project_name: login, commit_sha: a });
  t.is(res.status, 202, res.text);
  // The deploy of A asked of Render (queued behind the head's build, or started once it stopped), or the deployment over.
  await until('the deploy of A asked for', async () => {
    const rec = (await agent.get(`/api/render/deployments/${res.json.id}`)).json;
    if (rec.finished || releaseOn(rec)) return rec;
    return rec.serviceId && (await renderDeploysOf(stack, apiKey, rec.serviceId)).some((d) => d.commit?.id === a) ? rec : null;
  }, 60_000);
  releaseBuilds();
  const done = await waitFinished(agent, res.json.id, 60_000);
  const deploys = done.serviceId ? await renderDeploysOf(stack, apiKey, done.serviceId) : [];
  return { a, b, done, deploys, cancels: () => renderCalls(stack, accountId, 'POST', CANCEL_ROUTE) };
}

test('a new service\'s first deploy (the branch\'s head) whose cancel fails is stopped on a second try, before the commit asked for is deployed', async (t) => {
  // The cancel's failure was ignored: the head's build went on, the commit asked for queued behind it,
  // and the head went live for a while before it.
  const { a, b, done, deploys, cancels } = await pinnedWithBuildsHeld(t, 'pincancel', (apiKey) => {
    stack.render.setFault({ method: 'POST', route: CANCEL_ROUTE, apiKey, kind: 'status', status: 503, count: 1 });
  });
  t.is(done.status, 'live', JSON.stringify(done.failure));
  t.like(done, { commitSha: a, renderCommitId: a });
  const head = deploys.find((d) => d.commit?.id === b)!;
  t.is(head.status, 'canceled', 'the head never went live');
  t.is(cancels().filter((c) => c.status === 200).length, 1);
  t.true(timelineNotes(done).some((n) => n.includes(`did not stop the new service's first deploy (branch head ${b.slice(0, 7)})`)), JSON.stringify(done.timeline));
  t.true(timelineNotes(done).some((n) => n.includes(`first deploy (branch head ${b.slice(0, 7)}) is stopped`)), JSON.stringify(done.timeline));
});

test('a new service\'s first deploy that cannot be stopped at all: the commit asked for is deployed once it has ended, and the timeline says the head went live', async (t) => {
  const { a, b, done, deploys } = await pinnedWithBuildsHeld(t, 'pinstuck', (apiKey) => {
    // For good (this key's cancels only: the key is this test's).
    stack.render.setFault({ method: 'POST', route: CANCEL_ROUTE, apiKey, kind: 'status', status: 503 });
  }, (rec) => timelineNotes(rec).some((n) => n.includes('did not stop')));
  t.is(done.status, 'live', JSON.stringify(done.failure));
  t.like(done, { commitSha: a, renderCommitId: a });
  t.is(deploys.find((d) => d.commit?.id === b)?.status, 'deactivated');
  t.is(deploys.find((d) => d.status === 'live')?.commit?.id, a);
  t.true(timelineNotes(done).some((n) => n.includes(`branch head ${b.slice(0, 7)}) went live before it could be stopped`)), JSON.stringify(done.timeline));
});

test('a user\'s cancel while the new service\'s first deploy (the branch\'s head) is being stopped: that deploy is stopped too, and the deployment ends canceled', async (t) => {
  // The stop of the head had failed and was being retried (a delayed job); the user's cancel removed
  // that job and had no deploy id to cancel on Render itself: the head built on, and went live, for a
  // deployment that said canceled.
  const login = 'pinabort';
  const { agent, apiKey, accountId } = await signedInWithKey(stack, login);
  stack.github.addRepo({ owner: login, name: 'app', branches: { main: NODE_APP } });
  const a = stack.github.branchHead(login, 'app', 'main')!;
  const b = stack.github.push(login, 'app', 'main', { ...NODE_APP, 'b.js': '' });
  const releaseBuilds = stack.render.holdPhase({ serviceName: login }, 'build_in_progress');
  t.teardown(releaseBuilds);
  // Render fails this key's cancels until the user's cancel is in.
  const refused = stack.render.setFault({ method: 'POST', route: CANCEL_ROUTE, apiKey, kind: 'status', status: 503 });
  t.teardown(() => stack.render.clearFault(refused));
  const res = await agent.post('/api/render/deploy', { github_repo: `${login}/app`, branch: 'main', project_name: login, commit_sha: a });
  t.is(res.status, 202, res.text);
  const stopping = await until('the failed stop of the head noted', async () => {
    const rec = (await agent.get(`/api/render/deployments/${res.json.id}`)).json;
    return timelineNotes(rec).some((n) => n.includes('did not stop')) ? rec : null;
  }, 60_000);
  t.is(stopping.status, 'triggering_deploy');
  const canceled = await agent.post(`/api/render/deployments/${res.json.id}/cancel`);
  t.is(canceled.status, 200, canceled.text);
  t.is(canceled.json.status, 'canceled');
  // Render takes cancels again: the head is stopped (read from the simulator's call log: polling
  // Render's API would spend the key's rate limit).
  stack.render.clearFault(refused);
  const stopped = await until('a cancel of the head that Render took', async () => renderCalls(stack, accountId, 'POST', CANCEL_ROUTE).find((c) => c.status === 200), 10_000).catch(() => null);
  releaseBuilds();
  const deploys = await renderDeploysOf(stack, apiKey, stopping.serviceId);
  const head = deploys.find((d) => d.commit?.id === b);
  t.truthy(stopped, `the head is stopped after the user's cancel, not left building (${head?.status})`);
  t.is(head?.status, 'canceled');
  t.false(deploys.some((d) => d.status === 'live'), 'nothing went live');
  t.is(renderCalls(stack, accountId, 'POST', '/services/{serviceId}/deploys').length, 0, 'commit A never asked for');
  const done = await waitFinished(agent, res.json.id);
  t.is(done.status, 'canceled');
});

test.serial('a user\'s cancel while Render keeps refusing to stop the new service\'s first deploy: given up at the watch\'s bound, the canceled record says that deploy may still run', async (t) => {
  const login = 'pinabortstuck';
  const { agent, apiKey, accountId } = await signedInWithKey(stack, login);
  stack.github.addRepo({ owner: login, name: 'app', branches: { main: NODE_APP } });
  const a = stack.github.branchHead(login, 'app', 'main')!;
  const b = stack.github.push(login, 'app', 'main', { ...NODE_APP, 'b.js': '' });
  const releaseBuilds = stack.render.holdPhase({ serviceName: login }, 'build_in_progress');
  t.teardown(releaseBuilds);
  const refused = stack.render.setFault({ method: 'POST', route: CANCEL_ROUTE, apiKey, kind: 'status', status: 503 });
  t.teardown(() => stack.render.clearFault(refused));
  // The only worker for this test gives up on a deploy (and on a stop Render keeps failing) after 4 s.
  await pipeline.worker.close(5_000);
  const bounded = await pipeline.startWorker({ watch: { maxMs: 4_000 } });
  try {
    const res = await agent.post('/api/render/deploy', { github_repo: `${login}/app`, branch: 'main', project_name: login, commit_sha: a });
    t.is(res.status, 202, res.text);
    const stopping = await until('the failed stop of the head noted', async () => {
      const rec = (await agent.get(`/api/render/deployments/${res.json.id}`)).json;
      return timelineNotes(rec).some((n) => n.includes('did not stop')) ? rec : null;
    }, 60_000);
    const canceled = await agent.post(`/api/render/deployments/${res.json.id}/cancel`);
    t.is(canceled.status, 200, canceled.text);
    const triedBefore = renderCalls(stack, accountId, 'POST', CANCEL_ROUTE).length;
    const said = await until('the record saying the head may still run', async () => {
      const rec = (await agent.get(`/api/render/deployments/${res.json.id}`)).json;
      return rec.failure?.message?.includes('was not canceled there') ? rec : null;
    }, 20_000);
    t.is(said.status, 'canceled');
    t.regex(said.failure.message, /^You canceled this deploy here, but its deploy on Render was not canceled there: Render kept failing while it was being canceled\. /);
    t.true(renderCalls(stack, accountId, 'POST', CANCEL_ROUTE).length > triedBefore, 'the stop was tried again after the user\'s cancel');
    const head = (await renderDeploysOf(stack, apiKey, stopping.serviceId)).find((d) => d.commit?.id === b);
    t.is(head?.status, 'build_in_progress', 'left running, as the record says');
    t.is(renderCalls(stack, accountId, 'POST', '/services/{serviceId}/deploys').length, 0, 'commit A never asked for');
  } finally {
    await bounded.close(5_000);
    pipeline.worker = await pipeline.startWorker();
  }
});

test('a commit_sha that is not a full SHA is a 400 and queues nothing', async (t) => {
  const { agent, accountId } = await signedInWithKey(stack, 'badsha');
  stack.github.addRepo({ owner: 'badsha', name: 'app', branches: { main: NODE_APP } });
  const head = stack.github.branchHead('badsha', 'app', 'main')!;
  for (const commit_sha of [head.slice(0, 7), `${head}0`, 'g'.repeat(40), 'main', '', 42]) {
    const res = await agent.post('/api/render/deploy', { github_repo: 'badsha/app', branch: 'main', project_name: 'badsha', commit_sha });
    t.is(res.status, 400, `${JSON.stringify(commit_sha)}: ${res.text}`);
    t.regex(res.json.error.message, /commit_sha must be a full commit SHA: 40 hexadecimal characters|commit_sha: Invalid input: expected string/, res.text);
  }
  t.deepEqual(await myDeployments(agent), []);
  t.is(renderCalls(stack, accountId, 'POST', '/services').length, 0);
});

test('a commit the repository\'s branch does not have fails early, saying so, with nothing on Render', async (t) => {
  const { agent, accountId } = await signedInWithKey(stack, 'nosha');
  stack.github.addRepo({ owner: 'nosha', name: 'app', branches: { main: NODE_APP, other: STATIC_SITE } });
  const unknown = 'ab'.repeat(20);
  const res = await agent.post('/api/render/deploy', { github_repo: 'nosha/app', branch: 'main', project_name: 'nosha', commit_sha: unknown });
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id, 60_000);
  t.is(done.status, 'failed');
  t.is(done.failure.code, 'commit_not_found');
  t.true(done.failure.message.includes(unknown) && done.failure.message.includes('does not exist in nosha/app'), done.failure.message);
  // A commit of the repository, but of another branch.
  const elsewhere = stack.github.branchHead('nosha', 'app', 'other')!;
  const res2 = await agent.post('/api/render/deploy', { github_repo: 'nosha/app', branch: 'main', project_name: 'nosha', commit_sha: elsewhere });
  const done2 = await waitFinished(agent, res2.json.id, 60_000);
  t.is(done2.status, 'failed');
  t.is(done2.failure.code, 'commit_not_on_branch');
  t.regex(done2.failure.message, /is not on branch "main" of nosha\/app/);
  for (const d of [done, done2]) t.is(d.serviceId, null);
  t.is(renderCalls(stack, accountId, 'POST', '/services').length, 0);
  t.is(renderCalls(stack, accountId, 'POST', '/services/{serviceId}/deploys').length, 0);
});

test.serial('a worker lost the creation\'s answer: its retry still deploys the commit asked for, on the one service', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'pinlost');
  stack.github.addRepo({ owner: 'pinlost', name: 'app', branches: { main: NODE_APP } });
  const a = stack.github.branchHead('pinlost', 'app', 'main')!;
  stack.github.push('pinlost', 'app', 'main', STATIC_SITE);
  // The only worker for this test throws the first time Render answers a create, before the service id is recorded.
  await pipeline.worker.close(5_000);
  let lost = 0;
  const crashy = await pipeline.startWorker({ crashPoint: (at) => { if (at === 'service_created' && lost++ === 0) throw new Error('simulated loss of the creation\'s answer'); } });
  try {
    const res = await agent.post('/api/render/deploy', { github_repo: 'pinlost/app', branch: 'main', project_name: 'pinlost', commit_sha: a });
    t.is(res.status, 202, res.text);
    const done = await waitFinished(agent, res.json.id, 60_000);
    t.true(lost >= 1, 'the crash point was hit');
    t.is(done.status, 'live', JSON.stringify(done.failure));
    t.is(done.renderCommitId, a);
    const services = (await (await fetch(`${stack.render.url}/services?name=pinlost`, { headers: { authorization: `Bearer ${apiKey}` } })).json()) as unknown[];
    t.is(services.length, 1, 'one service');
    const deploys = await renderDeploysOf(stack, apiKey, done.serviceId);
    t.is(deploys[0]!.commit?.id, a, 'the newest deploy, live, is of A');
    t.is(deploys[0]!.status, 'live');
  } finally {
    await crashy.close(5_000);
    pipeline.worker = await pipeline.startWorker();
  }
});

// Verifying records the branch's head as the deployment's commit, and a deploy Render is asked for takes it as
// commitId: Render refuses commitId for a cron job (400 "commitId is not supported for cron jobs"). A cron job's
// deploy reaches that ask when its first deploy is not found to follow (a retry after a lost creation answer
// adopts the service, and asks for a deploy when the service lists none): it failed render_bad_request (seen
// in CI under load, in pipeline/serviceTypes).
test.serial('a cron job whose worker lost the creation\'s answer: its retry deploys it (no commitId asked of Render)', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'cronlost');
  stack.github.addRepo({ owner: 'cronlost', name: 'app', branches: { main: NODE_APP } });
  // The retry's first look at the service's deploys finds none listed yet (a list that lags the creation):
  // it asks Render for a deploy, as it would for a service whose first deploy never started.
  stack.render.setFault({ method: 'GET', route: '/services/{serviceId}/deploys', apiKey, kind: 'body', body: [], count: 1 });
  await pipeline.worker.close(5_000);
  let lost = 0;
  const crashy = await pipeline.startWorker({ crashPoint: (at) => { if (at === 'service_created' && lost++ === 0) throw new Error('simulated loss of the creation\'s answer'); } });
  try {
    const res = await agent.post('/api/render/deploy', { github_repo: 'cronlost/app', branch: 'main', project_name: 'cronlost', service_type: 'cron_job', schedule: '0 3 * * *' });
    t.is(res.status, 202, res.text);
    const done = await waitFinished(agent, res.json.id, 60_000);
    t.true(lost >= 1, 'the crash point was hit');
    t.is(done.status, 'live', JSON.stringify(done.failure));
    t.regex(done.serviceId, /^crn-/);
    const services = (await (await fetch(`${stack.render.url}/services?name=cronlost`, { headers: { authorization: `Bearer ${apiKey}` } })).json()) as unknown[];
    t.is(services.length, 1, 'one service');
  } finally {
    await crashy.close(5_000);
    pipeline.worker = await pipeline.startWorker();
  }
});

test('a cron job asked at a named commit (Render takes no commitId for them) is a 400 on commit_sha: nothing is queued', async (t) => {
  const { agent, accountId } = await signedInWithKey(stack, 'pincron');
  stack.github.addRepo({ owner: 'pincron', name: 'app', branches: { main: NODE_APP } });
  const a = stack.github.branchHead('pincron', 'app', 'main')!;
  const before = (await myDeployments(agent)).length;
  const res = await agent.post('/api/render/deploy', { github_repo: 'pincron/app', branch: 'main', project_name: 'pincron', commit_sha: a, service_type: 'cron_job', schedule: '0 3 * * *' });
  t.is(res.status, 400, res.text);
  t.regex(res.json.error.message, /^commit_sha: .*cron job/);
  t.is((await myDeployments(agent)).length, before, 'no deployment recorded');
  t.is(renderCalls(stack, accountId, 'POST', '/services').length, 0);
});

test('a repository its render.yaml makes a cron job, asked at a named commit, fails before anything is created', async (t) => {
  const { agent, accountId } = await signedInWithKey(stack, 'pincron2');
  stack.github.addRepo({ owner: 'pincron2', name: 'app', branches: { main: { ...NODE_APP, 'render.yaml': 'services:\n  - type: cron\n    name: nightly\n    runtime: node\n    schedule: "0 3 * * *"\n    buildCommand: npm ci\n    startCommand: node job.js\n' } } });
  const a = stack.github.branchHead('pincron2', 'app', 'main')!;
  const res = await agent.post('/api/render/deploy', { github_repo: 'pincron2/app', branch: 'main', project_name: 'pincron2', commit_sha: a });
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id, 60_000);
  t.is(done.status, 'failed');
  t.is(done.failure.code, 'commit_not_supported');
  t.regex(done.failure.message, /cron job/);
  t.is(renderCalls(stack, accountId, 'POST', '/services').length, 0);
});

test.serial('sign-out while the stop of the new service\'s first deploy (the branch\'s head) is retried and its look is on its way: the head is not stopped with the key after the sign-out', async (t) => {
  // branchHead.ts retried the stop after the look at the service's deploys whatever had happened to
  // the record meanwhile: a sign-out (it waits for the run at most 5 s) was followed by POST …/cancel.
  const login = 'pinsignout';
  const { agent, apiKey, accountId } = await signedInWithKey(stack, login);
  stack.github.addRepo({ owner: login, name: 'app', branches: { main: NODE_APP } });
  const a = stack.github.branchHead(login, 'app', 'main')!;
  stack.github.push(login, 'app', 'main', { ...NODE_APP, 'b.js': '' });
  t.teardown(stack.render.holdPhase({ serviceName: login }, 'build_in_progress'));
  const refused = stack.render.setFault({ method: 'POST', route: CANCEL_ROUTE, apiKey, kind: 'status', status: 503 });
  t.teardown(() => stack.render.clearFault(refused));
  const res = await agent.post('/api/render/deploy', { github_repo: `${login}/app`, branch: 'main', project_name: login, commit_sha: a });
  t.is(res.status, 202, res.text);
  await until('the failed stop of the head noted', async () => {
    const rec = (await agent.get(`/api/render/deployments/${res.json.id}`)).json;
    return timelineNotes(rec).some((n) => n.includes('did not stop')) ? rec : null;
  }, 60_000);
  const look = stack.render.holdRequest({ method: 'GET', route: '/services/{serviceId}/deploys', apiKey });
  t.teardown(look.release);
  await look.arrived;
  stack.render.clearFault(refused);
  t.is((await agent.post('/api/auth/logout')).status, 200);
  const calls = () => stack.render.calls.filter((c) => c.accountId === accountId).map((c) => `${c.method} ${c.route}`);
  const atSignOut = calls();
  look.release();
  await new Promise((r) => setTimeout(r, 1_500));
  t.deepEqual(calls().slice(atSignOut.length), [], 'no call with the key after the sign-out');
});

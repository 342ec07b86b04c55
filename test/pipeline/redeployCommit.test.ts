import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { useGitHubLinkedPipelineStack } from '../helpers/pipelineStack.js';
import { liveService, renderApi, renderCalls, renderDeploysOf, signedInWithKey, until, waitFinished, waitStatus } from '../helpers/pipeline.js';

// A redeploy may name the commit to deploy (commit_sha), as a deploy may: CI redeploying its service on
// every push deploys the pushed commit, checked to be on the service's branch before Render is asked.

const NODE_APP = { 'package.json': JSON.stringify({ name: 'rd', scripts: { start: 'node index.js' } }), 'index.js': '' };
let stack: Stack;
useGitHubLinkedPipelineStack(test, (p) => {
  ({ stack } = p);
});

const triggers = (accountId: string, serviceId: string) =>
  renderCalls(stack, accountId, 'POST', '/services/{serviceId}/deploys').filter((c) => c.path.includes(serviceId)).length;
const myDeployments = async (agent: Awaited<ReturnType<typeof signedInWithKey>>['agent']) =>
  (await agent.get('/api/render/my-deployments?limit=100')).json.deployments as Array<{ id: string; kind: string }>;

test('a redeploy with commit_sha deploys that commit, not the branch\'s later head; the same key with another commit is refused', async (t) => {
  const u = await liveService(stack, 'rdcommit');
  const b = stack.github.push('rdcommit', 'app', 'main', { 'b.txt': 'B' });
  const c = stack.github.push('rdcommit', 'app', 'main', { 'c.txt': 'C' });
  const headers = { 'idempotency-key': `ci-${b}` };
  const res = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`, { commit_sha: b.toUpperCase() }, { headers });
  t.is(res.status, 202, res.text);
  t.like(res.json, { kind: 'redeploy', request: { commitSha: b } });
  const done = await waitFinished(u.agent, res.json.id, 60_000);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  t.is(done.commitSha, b);
  t.is(done.renderCommitId, b, 'Render built commit B');
  t.true(done.timeline.some((e: { note?: string }) => e.note?.includes(`Commit ${b.slice(0, 7)} of branch main as asked`)), JSON.stringify(done.timeline));
  const live = (await renderDeploysOf(stack, u.apiKey, u.serviceId)).find((d) => d.id === done.deployId)!;
  t.like(live, { status: 'live', commit: { id: b } });
  t.not(live.commit?.id, c);

  // The same key again: the same deployment. With another commit: 409, nothing started.
  const again = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`, { commit_sha: b }, { headers });
  t.is(again.status, 202, again.text);
  t.is(again.json.id, res.json.id);
  const other = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`, { commit_sha: c }, { headers });
  t.is(other.status, 409, other.text);
  t.is(other.json.error.code, 'idempotency_key_reused');
  const plain = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`, undefined, { headers });
  t.is(plain.status, 409, plain.text);
  t.is(triggers(u.accountId, u.serviceId), 1, 'one deploy asked of Render');
  t.is((await myDeployments(u.agent)).length, 2);
});

/**
 * A commit's final statuses (not `pending`: a redeploy that deploys asks for one once Render answered its trigger,
 * posted only if it is still building a spacing later, so their number depends on how fast the deploy went).
 */
const finalStatuses = (owner: string, sha: string) => stack.github.statusesFor(owner, 'app', sha).filter((s) => s.state !== 'pending');

/** The last final commit status on `sha` once `n` are posted (polled, bounded). */
async function finalStatusOn(owner: string, sha: string, n = 1) {
  for (let i = 0; i < 200 && finalStatuses(owner, sha).length < n; i++) await new Promise((r) => setTimeout(r, 50));
  return finalStatuses(owner, sha).at(-1);
}

test('a redeploy naming a commit older than the live one, or the live one, deploys nothing and says so; a newer one deploys', async (t) => {
  // CI runs finishing out of order (push B, push C; C's job deploys first, then B's redeploys B), or a
  // re-run of an old job, put older code live over newer.
  const u = await liveService(stack, 'rdorder');
  const b = stack.github.push('rdorder', 'app', 'main', { 'b.txt': 'B' });
  const c = stack.github.push('rdorder', 'app', 'main', { 'c.txt': 'C' });
  const redeploy = async (sha: string, key: string) =>
    waitFinished(u.agent, (await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`, { commit_sha: sha }, { headers: { 'idempotency-key': key } })).json.id, 60_000);
  const liveC = await redeploy(c, 'order-c');
  t.like(liveC, { status: 'live', renderCommitId: c });
  const triggersBefore = triggers(u.accountId, u.serviceId);

  const older = await redeploy(b, 'order-b');
  t.is(older.status, 'canceled', JSON.stringify(older.failure));
  t.is(older.failure.code, 'newer_commit_live');
  t.true(older.failure.message.includes(c), older.failure.message);
  t.regex(older.failure.message, /Nothing was deployed/);
  t.like(older, { commitSha: b, deployId: null });
  t.like(older.timeline.at(-1), { status: 'canceled', source: 'orchestrator' }, 'decided here, not by Render');
  const same = await redeploy(c, 'order-c-again');
  t.is(same.status, 'canceled', JSON.stringify(same.failure));
  t.is(same.failure.code, 'commit_already_live');
  t.regex(same.failure.message, new RegExp(`Commit ${c.slice(0, 7)} is already live`));
  t.is(triggers(u.accountId, u.serviceId), triggersBefore, 'no deploy asked of Render');
  t.is((await renderDeploysOf(stack, u.apiKey, u.serviceId)).find((d) => d.status === 'live')?.commit?.id, c, 'C is still live');
  // Not a failure of B: its commit status on GitHub says nothing was deployed, not a red cross.
  const statusB = await finalStatusOn('rdorder', b);
  t.like(statusB, { state: 'success' });
  t.is(statusB?.description, 'app: not deployed, a newer commit is live on Render');
  // Nor on C, which is live: the already-live redeploy's status (the second on C) stays a success.
  t.like(await finalStatusOn('rdorder', c, 2), { state: 'success', description: 'app is live on Render' });
  t.is(finalStatuses('rdorder', c).length, 2);

  // A plain redeploy (no commit) and a newer commit still deploy.
  const plain = await waitFinished(u.agent, (await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`)).json.id, 60_000);
  t.is(plain.status, 'live', JSON.stringify(plain.failure));
  const d = stack.github.push('rdorder', 'app', 'main', { 'd.txt': 'D' });
  t.like(await redeploy(d, 'order-d'), { status: 'live', renderCommitId: d });
});

test('a redeploy commit_sha that is not a full SHA is a 400 and queues nothing', async (t) => {
  const u = await liveService(stack, 'rdbadsha');
  const head = stack.github.branchHead('rdbadsha', 'app', 'main')!;
  for (const commit_sha of [head.slice(0, 7), `${head}0`, 'g'.repeat(40), 'main', '', 42, null]) {
    const res = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`, { commit_sha }, { headers: { 'idempotency-key': `bad-${String(commit_sha)}` } });
    t.is(res.status, 400, `${JSON.stringify(commit_sha)}: ${res.text}`);
    t.is(res.json.error.code, 'validation_failed');
    t.regex(res.json.error.message, /commit_sha/, res.text);
  }
  const unknownField = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`, { commit: head });
  t.is(unknownField.status, 400, unknownField.text);
  t.is((await myDeployments(u.agent)).length, 1, 'only the first deploy');
  t.is(triggers(u.accountId, u.serviceId), 0);
});

test('a redeploy of a commit the service\'s branch lacks fails early, saying so, with no deploy asked of Render', async (t) => {
  const u = await signedInWithKey(stack, 'rdnosha');
  stack.github.addRepo({ owner: 'rdnosha', name: 'app', branches: { main: NODE_APP, other: { 'index.html': '<h1>elsewhere</h1>' } } });
  const first = await waitFinished(u.agent, (await u.agent.post('/api/render/deploy', { github_repo: 'rdnosha/app', branch: 'main', project_name: 'app' })).json.id, 60_000);
  t.is(first.status, 'live');
  const serviceId = first.serviceId as string;
  const elsewhere = stack.github.branchHead('rdnosha', 'app', 'other')!;
  const unknown = 'ab'.repeat(20);
  const triggersBefore = triggers(u.accountId, serviceId);
  const notOnBranch = await waitFinished(u.agent, (await u.agent.post(`/api/render/services/${serviceId}/redeploy`, { commit_sha: elsewhere })).json.id, 60_000);
  t.is(notOnBranch.status, 'failed');
  t.is(notOnBranch.failure.code, 'commit_not_on_branch');
  t.regex(notOnBranch.failure.message, /is not on branch "main" of rdnosha\/app/);
  const missing = await waitFinished(u.agent, (await u.agent.post(`/api/render/services/${serviceId}/redeploy`, { commit_sha: unknown })).json.id, 60_000);
  t.is(missing.status, 'failed');
  t.is(missing.failure.code, 'commit_not_found');
  t.true(missing.failure.message.includes(unknown), missing.failure.message);
  for (const d of [notOnBranch, missing]) t.is(d.deployId, null);
  t.is(triggers(u.accountId, serviceId), triggersBefore, 'no deploy asked of Render');
});

test('another user\'s service: a redeploy with commit_sha is a 404 and starts nothing', async (t) => {
  const owner = await liveService(stack, 'rdowner');
  const head = stack.github.branchHead('rdowner', 'app', 'main')!;
  const intruder = await signedInWithKey(stack, 'rdintruder');
  const res = await intruder.agent.post(`/api/render/services/${owner.serviceId}/redeploy`, { commit_sha: head }, { headers: { 'idempotency-key': `ci-${head}` } });
  t.is(res.status, 404, res.text);
  t.is(res.json.error.code, 'not_found');
  t.deepEqual(await myDeployments(intruder.agent), []);
  t.is((await myDeployments(owner.agent)).length, 1);
  t.is(triggers(owner.accountId, owner.serviceId), 0);
});

/** A web service of `u`'s workspace made with the key outside the app, built from `repo` (any Git host's URL form). */
async function serviceFromRepo(u: Awaited<ReturnType<typeof signedInWithKey>>, name: string, repo: string): Promise<string> {
  const made = await renderApi(stack, u.apiKey, 'POST', '/services', {
    type: 'web_service', name, ownerId: u.ownerId, repo, branch: 'main', autoDeploy: 'yes',
    serviceDetails: { runtime: 'node', plan: 'starter', region: 'oregon', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'npm start' } },
  });
  // Its first deploy (Render's own, on creation) ends before the test asks for more.
  await until('the first deploy live', async () => (await renderDeploysOf(stack, u.apiKey, made.service.id)).find((d) => d.status === 'live'));
  return made.service.id as string;
}

test('a service built from another Git host: a redeploy with commit_sha is a 400 naming why, and starts nothing; without it, it redeploys', async (t) => {
  // The route's check took any service with a repository for a GitHub one: a GitLab service's redeploy
  // with commit_sha was accepted (202) and failed in the worker as 'GitHub repository
  // https://gitlab.com/… was not found, or your GitHub account cannot see it'.
  const u = await signedInWithKey(stack, 'rdgitlab');
  const serviceId = await serviceFromRepo(u, 'from-gitlab', 'https://gitlab.com/rdgitlab/app');
  const before = triggers(u.accountId, serviceId);
  const res = await u.agent.post(`/api/render/services/${serviceId}/redeploy`, { commit_sha: 'c'.repeat(40) }, { headers: { 'idempotency-key': 'gitlab-1' } });
  t.is(res.status, 400, res.text);
  t.is(res.json.error.code, 'validation_failed');
  t.regex(res.json.error.message, /GitHub repository/);
  t.deepEqual(await myDeployments(u.agent), [], 'nothing queued');
  // The key was not spent on the refused request.
  const plain = await u.agent.post(`/api/render/services/${serviceId}/redeploy`, undefined, { headers: { 'idempotency-key': 'gitlab-1' } });
  t.is(plain.status, 202, plain.text);
  t.is(plain.headers.get('idempotent-replayed'), null);
  t.is((await waitFinished(u.agent, plain.json.id, 60_000)).status, 'live');
  t.is(triggers(u.accountId, serviceId), before + 1, 'only the plain redeploy asked Render');
});

test('a service whose repository URL is another form of a GitHub one (.git, www, http, a trailing slash): a redeploy with commit_sha checks that repository', async (t) => {
  // The repository was taken as the URL less 'https://github.com/': 'owner/app.git' was looked up on
  // GitHub and the redeploy failed repo_not_found, and www.github.com or http:// kept the whole URL.
  const u = await signedInWithKey(stack, 'rdurlform');
  stack.github.addRepo({ owner: 'rdurlform', name: 'app', branches: { main: NODE_APP } });
  const first = stack.github.branchHead('rdurlform', 'app', 'main')!;
  const forms = ['https://github.com/rdurlform/app.git', 'https://www.github.com/rdurlform/app', 'http://github.com/rdurlform/app', 'https://github.com/rdurlform/app/'];
  for (const [i, repo] of forms.entries()) {
    const serviceId = await serviceFromRepo(u, `form-${i}`, repo);
    const res = await u.agent.post(`/api/render/services/${serviceId}/redeploy`, { commit_sha: first });
    t.is(res.status, 202, `${repo}: ${res.text}`);
    t.is(res.json.request.githubRepo, 'rdurlform/app', repo);
    const done = await waitFinished(u.agent, res.json.id, 60_000);
    t.not(done.failure?.code, 'repo_not_found', `${repo}: ${done.failure?.message}`);
    t.is(done.commitSha, first, repo);
  }
});

/** A deployment's record once the worker has decided about it: ended, or handed to Render (any status Render reports). */
const decided = (agent: Awaited<ReturnType<typeof signedInWithKey>>['agent'], id: string) =>
  until(`deployment ${id} decided`, async () => {
    const rec = (await agent.get(`/api/render/deployments/${id}`)).json;
    return rec.finished || !['queued', 'verifying', 'triggering_deploy'].includes(rec.status) ? rec : null;
  }, 60_000);

test('a redeploy naming a commit older than one being deployed (building on Render) deploys nothing: it would go live after the newer one', async (t) => {
  // A live, C building, then B (between A and C) asked: B was compared with A only, deployed, queued
  // behind C on Render, and went live after C.
  const u = await liveService(stack, 'rdflight');
  const b = stack.github.push('rdflight', 'app', 'main', { 'b.txt': 'B' });
  const c = stack.github.push('rdflight', 'app', 'main', { 'c.txt': 'C' });
  const releaseBuild = stack.render.holdPhase({ serviceId: u.serviceId }, 'build_in_progress');
  t.teardown(releaseBuild);
  const ask = async (sha: string) => (await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`, { commit_sha: sha }, { headers: { 'idempotency-key': `flight-${sha}` } })).json.id as string;
  const idC = await ask(c);
  await waitStatus(u.agent, idC, 'build_in_progress', 60_000);
  const triggersBefore = triggers(u.accountId, u.serviceId);

  const older = await decided(u.agent, await ask(b));
  t.is(older.status, 'canceled', `${older.status} ${JSON.stringify(older.failure)}`);
  t.is(older.failure?.code, 'newer_commit_deploying');
  t.true(older.failure.message.includes(c), older.failure.message);
  t.regex(older.failure.message, /Nothing was deployed/);
  t.like(older, { commitSha: b, deployId: null, nothingToDeploy: true });
  t.is(triggers(u.accountId, u.serviceId), triggersBefore, 'no deploy asked of Render');
  const statusB = await finalStatusOn('rdflight', b);
  t.like(statusB, { state: 'success', description: 'app: not deployed, a newer commit is being deployed on Render' });

  releaseBuild();
  t.like(await waitFinished(u.agent, idC, 60_000), { status: 'live', renderCommitId: c });
  const deploys = await renderDeploysOf(stack, u.apiKey, u.serviceId);
  t.false(deploys.some((d) => d.commit?.id === b), 'B was never deployed');
  t.is(deploys.find((d) => d.status === 'live')?.commit?.id, c, 'C is live');
});

test('a redeploy naming a commit older than one of ours about to be deployed (asked of Render, not answered yet) deploys nothing', async (t) => {
  // Render does not list C's deploy yet (the trigger is on its way): our record of C says it is coming.
  // B's check waits for Render's answer to C's trigger (the service's redeploy check is C's until then),
  // and then finds C on its way, not live yet (its build held).
  const u = await liveService(stack, 'rdasking');
  const b = stack.github.push('rdasking', 'app', 'main', { 'b.txt': 'B' });
  const c = stack.github.push('rdasking', 'app', 'main', { 'c.txt': 'C' });
  const held = stack.render.holdRequest({ method: 'POST', route: '/services/{serviceId}/deploys', apiKey: u.apiKey });
  t.teardown(held.release);
  const releaseBuild = stack.render.holdPhase({ serviceId: u.serviceId }, 'build_in_progress');
  t.teardown(releaseBuild);
  const ask = async (sha: string) => (await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`, { commit_sha: sha }, { headers: { 'idempotency-key': `asking-${sha}` } })).json.id as string;
  const idC = await ask(c);
  await held.arrived;
  const idB = await ask(b);
  await until('B waiting its turn', async () => await (await stack.web.deps.queue.getJob(idB))?.getState() === 'delayed', 30_000);
  t.like((await u.agent.get(`/api/render/deployments/${idB}`)).json, { status: 'triggering_deploy', commitSha: null }, 'B not checked while C\'s ask is unanswered');
  held.release();
  const older = await decided(u.agent, idB);
  t.is(older.status, 'canceled', `${older.status} ${JSON.stringify(older.failure)}`);
  t.is(older.failure?.code, 'newer_commit_deploying');
  t.true(older.failure.message.includes(c), older.failure.message);
  releaseBuild();
  t.like(await waitFinished(u.agent, idC, 60_000), { status: 'live', renderCommitId: c });
  t.false((await renderDeploysOf(stack, u.apiKey, u.serviceId)).some((d) => d.commit?.id === b), 'B was never deployed');
});

test('a redeploy naming a commit newer than the one being deployed still deploys, after it', async (t) => {
  const u = await liveService(stack, 'rdahead');
  const b = stack.github.push('rdahead', 'app', 'main', { 'b.txt': 'B' });
  const c = stack.github.push('rdahead', 'app', 'main', { 'c.txt': 'C' });
  const releaseBuild = stack.render.holdPhase({ serviceId: u.serviceId }, 'build_in_progress');
  t.teardown(releaseBuild);
  const ask = async (sha: string) => (await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`, { commit_sha: sha }, { headers: { 'idempotency-key': `ahead-${sha}` } })).json.id as string;
  const idB = await ask(b);
  await waitStatus(u.agent, idB, 'build_in_progress', 60_000);
  const idC = await ask(c);
  t.like(await decided(u.agent, idC), { status: 'render_queued' });
  releaseBuild();
  const doneB = await waitFinished(u.agent, idB, 60_000);
  t.true(['live', 'deactivated'].includes(doneB.status), doneB.status);
  t.like(await waitFinished(u.agent, idC, 60_000), { status: 'live', renderCommitId: c });
});

test('a redeploy naming the very commit being deployed deploys nothing and leaves that commit\'s status to the deploy in flight', async (t) => {
  // A CI job re-run (or two workflows on one push) while the first run's deploy of C still builds: the
  // second was queued behind the first on Render and built C again, and its commit status could say
  // success before the first's build had passed.
  const u = await liveService(stack, 'rdsame');
  const c = stack.github.push('rdsame', 'app', 'main', { 'c.txt': 'C' });
  const releaseBuild = stack.render.holdPhase({ serviceId: u.serviceId }, 'build_in_progress');
  t.teardown(releaseBuild);
  const ask = async (key: string) => (await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`, { commit_sha: c }, { headers: { 'idempotency-key': key } })).json.id as string;
  const first = await ask('same-1');
  await waitStatus(u.agent, first, 'build_in_progress', 60_000);
  const triggersBefore = triggers(u.accountId, u.serviceId);

  const again = await decided(u.agent, await ask('same-2'));
  t.is(again.status, 'canceled', `${again.status} ${JSON.stringify(again.failure)}`);
  t.is(again.failure?.code, 'commit_already_deploying');
  t.regex(again.failure.message, /Nothing was deployed/);
  t.like(again, { commitSha: c, deployId: null, nothingToDeploy: true });
  t.is(triggers(u.accountId, u.serviceId), triggersBefore, 'no deploy asked of Render');

  releaseBuild();
  t.like(await waitFinished(u.agent, first, 60_000), { status: 'live', renderCommitId: c });
  t.like(await finalStatusOn('rdsame', c, 2), { state: 'success', description: 'app is live on Render' });
  t.false(stack.github.statusesFor('rdsame', 'app', c).some((s) => /not deployed/.test(s.description ?? '')), 'the canceled run posted nothing on C');
  t.is((await renderDeploysOf(stack, u.apiKey, u.serviceId)).filter((d) => d.commit?.id === c).length, 1, 'C built once');
});

/**
 * Two redeploys of `u`'s service asked one after the other, each with its check held inside the window
 * between reading the deployments in flight and recording its commit: the first's answer of Render's
 * deploys list is held until the second is either there too (its own list asked: both read "ours"
 * before either recorded its commit) or waiting its turn (its job delayed, no worker slot held). Then
 * both go on. Returns the two deployment ids and what the second did.
 */
async function checkedTogether(u: Awaited<ReturnType<typeof liveService>>, first: string, second: string, keyPrefix: string) {
  const rule = { method: 'GET', route: '/services/{serviceId}/deploys', apiKey: u.apiKey };
  const heldFirst = stack.render.holdRequest(rule);
  const heldSecond = stack.render.holdRequest(rule);
  const release = () => { heldFirst.release(); heldSecond.release(); };
  let secondInCheck = false;
  void heldSecond.arrived.then(() => { secondInCheck = true; });
  try {
    const ask = async (sha: string, key: string) => {
      const res = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`, { commit_sha: sha }, { headers: { 'idempotency-key': key } });
      if (res.status !== 202) throw new Error(`redeploy: ${res.status} ${res.text}`);
      return res.json.id as string;
    };
    const idFirst = await ask(first, `${keyPrefix}-1`);
    await heldFirst.arrived;
    const idSecond = await ask(second, `${keyPrefix}-2`);
    const lockTtl = await stack.redis.client.pttl(`${stack.redis.prefix}:redeploy-check:${u.serviceId}`);
    const secondDid = await until('the second redeploy in its check, or waiting its turn', async () => {
      if (secondInCheck) return 'checked at once';
      const job = await stack.web.deps.queue.getJob(idSecond);
      return job && await job.getState() === 'delayed' ? 'waited' : null;
    }, 30_000);
    return { idFirst, idSecond, secondDid, lockTtl };
  } finally {
    release();
  }
}

test('two redeploys of the same commit checked at the same moment: one deploys it, the other deploys nothing (the commit is built once)', async (t) => {
  // A CI job and its re-run (or two workflows on one push) asking at once: each read our deployments in
  // flight before the other recorded its commit, and both asked Render, which built the commit twice.
  const u = await liveService(stack, 'rdtwin');
  const c = stack.github.push('rdtwin', 'app', 'main', { 'c.txt': 'C' });
  const triggersBefore = triggers(u.accountId, u.serviceId);
  // The first's deploy stays in flight until the second has ended (else the second finds it live).
  const releaseBuild = stack.render.holdPhase({ serviceId: u.serviceId }, 'build_in_progress');
  t.teardown(releaseBuild);
  const { idFirst, idSecond, secondDid, lockTtl } = await checkedTogether(u, c, c, 'twin');
  const two = await decided(u.agent, idSecond);
  releaseBuild();
  const one = await waitFinished(u.agent, idFirst, 60_000);
  t.like(one, { status: 'live', renderCommitId: c }, JSON.stringify(one.failure));
  t.is(two.status, 'canceled', `${secondDid}: ${two.status} ${JSON.stringify(two.failure)}`);
  t.is(two.failure?.code, 'commit_already_deploying');
  t.like(two, { commitSha: c, deployId: null });
  t.is(triggers(u.accountId, u.serviceId), triggersBefore + 1, 'one deploy asked of Render');
  t.is((await renderDeploysOf(stack, u.apiKey, u.serviceId)).filter((d) => d.commit?.id === c).length, 1, 'C built once');
  t.is(secondDid, 'waited', 'the second waited for the first\'s check as a delayed job');
  // The first's hold on the check would end by itself, were its worker killed holding it.
  t.true(lockTtl > 0 && lockTtl <= 5 * 60_000, `the check's lock expires: pttl ${lockTtl}`);
  t.is(await stack.redis.client.exists(`${stack.redis.prefix}:redeploy-check:${u.serviceId}`), 0, 'released once the commit was recorded');
});

test('an older commit\'s redeploy checked at the same moment as a newer one\'s deploys nothing: it would have gone live over the newer', async (t) => {
  // CI runs of two pushes, B then C, whose redeploys arrive together (C's first): B's check read our
  // deployments before C's recorded its commit, and B was triggered too, after C, and went live over it.
  const u = await liveService(stack, 'rdrace');
  const b = stack.github.push('rdrace', 'app', 'main', { 'b.txt': 'B' });
  const c = stack.github.push('rdrace', 'app', 'main', { 'c.txt': 'C' });
  const releaseBuild = stack.render.holdPhase({ serviceId: u.serviceId }, 'build_in_progress');
  t.teardown(releaseBuild);
  const { idFirst: idC, idSecond: idB, secondDid } = await checkedTogether(u, c, b, 'race');
  const doneB = await decided(u.agent, idB);
  releaseBuild();
  const doneC = await waitFinished(u.agent, idC, 60_000);
  t.is(doneB.status, 'canceled', `${secondDid}: ${doneB.status} ${JSON.stringify(doneB.failure)}`);
  t.is(doneB.failure?.code, 'newer_commit_deploying');
  t.true(doneB.failure.message.includes(c), doneB.failure.message);
  t.like(doneC, { status: 'live', renderCommitId: c });
  const deploys = await renderDeploysOf(stack, u.apiKey, u.serviceId);
  t.false(deploys.some((d) => d.commit?.id === b), 'B was never deployed');
  t.is(deploys.find((d) => d.status === 'live')?.commit?.id, c, 'C is live');
});

test('a newer commit\'s redeploy that waited for an older one\'s check still deploys, after it', async (t) => {
  const u = await liveService(stack, 'rdnext');
  const b = stack.github.push('rdnext', 'app', 'main', { 'b.txt': 'B' });
  const c = stack.github.push('rdnext', 'app', 'main', { 'c.txt': 'C' });
  const releaseBuild = stack.render.holdPhase({ serviceId: u.serviceId }, 'build_in_progress');
  t.teardown(releaseBuild);
  const { idFirst: idB, idSecond: idC, secondDid } = await checkedTogether(u, b, c, 'next');
  t.is(secondDid, 'waited');
  t.like(await decided(u.agent, idC), { status: 'render_queued', commitSha: c });
  releaseBuild();
  const doneB = await waitFinished(u.agent, idB, 60_000);
  t.true(['live', 'deactivated'].includes(doneB.status), doneB.status);
  t.like(await waitFinished(u.agent, idC, 60_000), { status: 'live', renderCommitId: c });
  t.is((await renderDeploysOf(stack, u.apiKey, u.serviceId)).find((d) => d.status === 'live')?.commit?.id, c, 'C is live');
});

test('a redeploy check left behind by a deployment done with its check (its worker died before giving it back) does not hold the next one up', async (t) => {
  // Else every redeploy of the service would wait for the lock to expire (minutes).
  const u = await liveService(stack, 'rdleft');
  const [firstDeploy] = await myDeployments(u.agent);
  const key = `${stack.redis.prefix}:redeploy-check:${u.serviceId}`;
  const b = stack.github.push('rdleft', 'app', 'main', { 'b.txt': 'B' });
  const c = stack.github.push('rdleft', 'app', 'main', { 'c.txt': 'C' });
  for (const [holder, sha] of [[firstDeploy!.id, b], ['dpl-gone00000000000000000', c]] as const) {
    await stack.redis.client.set(key, holder, 'PX', 3 * 60_000);
    const res = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`, { commit_sha: sha }, { headers: { 'idempotency-key': `left-${sha}` } });
    t.like(await waitFinished(u.agent, res.json.id, 15_000), { status: 'live', renderCommitId: sha }, holder);
    t.is(await stack.redis.client.exists(key), 0, 'given back');
  }
});

test('an older commit\'s redeploy whose trigger Render answers 429 reaches Render before a newer one asked meanwhile: the newer one ends live', async (t) => {
  // CI runs of two pushes, B then C: B checked and its commit recorded, its trigger answered 429 (or held
  // by the key's budget), its job delayed for Retry-After. C asked meanwhile was checked at once (B in
  // flight, C ahead of it: go on) and triggered, reaching Render first; B's trigger came after and B went
  // live over C.
  const u = await liveService(stack, 'rdlate');
  const b = stack.github.push('rdlate', 'app', 'main', { 'b.txt': 'B' });
  const c = stack.github.push('rdlate', 'app', 'main', { 'c.txt': 'C' });
  const key = `${stack.redis.prefix}:redeploy-check:${u.serviceId}`;
  const route = '/services/{serviceId}/deploys';
  const fault = stack.render.setFault({ method: 'POST', route, apiKey: u.apiKey, kind: 'status', status: 429, ms: 3_000, count: 1 });
  t.teardown(() => stack.render.clearFault(fault));
  const refused = () => renderCalls(stack, u.accountId, 'POST', route).filter((call) => call.path.includes(u.serviceId) && call.status === 429).length;
  const ask = async (sha: string) => {
    const res = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`, { commit_sha: sha }, { headers: { 'idempotency-key': `late-${sha}` } });
    t.is(res.status, 202, res.text);
    return res.json.id as string;
  };
  const idB = await ask(b);
  await until('B\'s trigger answered 429', async () => refused() === 1, 30_000);
  // B waits for Retry-After as a delayed job, still holding the service's redeploy check, its lock alive.
  t.is(await stack.redis.client.get(key), idB, 'B holds the check while its trigger waits');
  t.true(await stack.redis.client.pttl(key) > 0);
  const idC = await ask(c);
  const [doneB, doneC] = [await waitFinished(u.agent, idB, 60_000), await waitFinished(u.agent, idC, 60_000)];
  t.like(doneC, { status: 'live', renderCommitId: c }, JSON.stringify(doneC.failure));
  t.true(['live', 'deactivated'].includes(doneB.status), `${doneB.status} ${JSON.stringify(doneB.failure)}`);
  t.is(doneB.renderCommitId, b);
  const deploys = await renderDeploysOf(stack, u.apiKey, u.serviceId); // newest first
  const at = (sha: string) => deploys.findIndex((d) => d.commit?.id === sha);
  t.true(at(b) >= 0 && at(c) >= 0, JSON.stringify(deploys));
  t.true(at(b) > at(c), 'Render received B\'s deploy before C\'s');
  t.is(deploys.find((d) => d.status === 'live')?.commit?.id, c, 'C is live, not B');
  t.is(refused(), 1);
  t.is(await stack.redis.client.exists(key), 0, 'given back');
});

test('an older commit\'s redeploy whose hold on the check lapsed while its trigger waited is checked again: a newer one asked meanwhile ends live', async (t) => {
  // CI runs of two pushes, B then C: B checked, its ask marked and answered 429, its job delayed for a
  // Retry-After longer than the lock's life (Render's Retry-After is not capped): B's hold lapsed. C asked
  // then took the check, found B in flight but older (go on), and reached Render. B's next run took the
  // lapsed lock again and, its ask marked, was not checked again: its trigger went to Render after C's,
  // and B went live over C.
  const u = await liveService(stack, 'rdlapse');
  const b = stack.github.push('rdlapse', 'app', 'main', { 'b.txt': 'B' });
  const c = stack.github.push('rdlapse', 'app', 'main', { 'c.txt': 'C' });
  const key = `${stack.redis.prefix}:redeploy-check:${u.serviceId}`;
  const route = '/services/{serviceId}/deploys';
  const fault = stack.render.setFault({ method: 'POST', route, apiKey: u.apiKey, kind: 'status', status: 429, ms: 6_000, count: 1 });
  t.teardown(() => stack.render.clearFault(fault));
  const releaseBuild = stack.render.holdPhase({ serviceId: u.serviceId }, 'build_in_progress');
  t.teardown(releaseBuild);
  const asks = () => renderCalls(stack, u.accountId, 'POST', route).filter((call) => call.path.includes(u.serviceId));
  const ask = async (sha: string) => {
    const res = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`, { commit_sha: sha }, { headers: { 'idempotency-key': `lapse-${sha}` } });
    t.is(res.status, 202, res.text);
    return res.json.id as string;
  };
  const idB = await ask(b);
  await until('B\'s trigger answered 429', async () => asks().some((call) => call.status === 429), 30_000);
  t.like((await u.agent.get(`/api/render/deployments/${idB}`)).json, { status: 'triggering_deploy', commitSha: b });
  t.is(await stack.redis.client.get(key), idB, 'B holds the check while its trigger waits');
  await stack.redis.client.del(key); // as if B's wait had outlasted the lock's life (REDEPLOY_CHECK_MS)
  const idC = await ask(c);
  const askedC = await decided(u.agent, idC);
  t.true(['created', 'build_in_progress'].includes(askedC.status) && !!askedC.deployId, `C reached Render: ${askedC.status} ${JSON.stringify(askedC.failure)}`);
  t.is(await (await stack.web.deps.queue.getJob(idB))?.getState(), 'delayed', 'B still waits for Retry-After: C reached Render first');

  const doneB = await decided(u.agent, idB);
  t.is(doneB.status, 'canceled', `${doneB.status} ${JSON.stringify(doneB.failure)}`);
  t.is(doneB.failure?.code, 'newer_commit_deploying');
  t.true(doneB.failure.message.includes(c), doneB.failure.message);
  t.like(doneB, { commitSha: b, deployId: null });
  await until('the check given back', async () => await stack.redis.client.exists(key) === 0, 5_000);
  releaseBuild();
  t.like(await waitFinished(u.agent, idC, 60_000), { status: 'live', renderCommitId: c });
  const deploys = await renderDeploysOf(stack, u.apiKey, u.serviceId);
  t.false(deploys.some((d) => d.commit?.id === b), 'B was never deployed');
  t.is(deploys.find((d) => d.status === 'live')?.commit?.id, c, 'C is live');
  t.is(asks().length, 2, 'B\'s refused ask and C\'s');
});

test('a redeploy whose ask reached Render and whose hold on the check lapsed before the answer was taken adopts its deploy: not checked again, not asked twice', async (t) => {
  // The check after a lapse is for an ask that made no deploy: one Render has (its answer lost) is queued
  // before any asked since, and checked again it would be taken for a deploy of the same commit in flight.
  const u = await liveService(stack, 'rdlapseout');
  const b = stack.github.push('rdlapseout', 'app', 'main', { 'b.txt': 'B' });
  const key = `${stack.redis.prefix}:redeploy-check:${u.serviceId}`;
  const route = '/services/{serviceId}/deploys';
  const fault = stack.render.setFault({ method: 'POST', route, apiKey: u.apiKey, kind: 'without', fields: ['id'], count: 1 });
  t.teardown(() => stack.render.clearFault(fault));
  const res = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`, { commit_sha: b }, { headers: { 'idempotency-key': `lapseout-${b}` } });
  t.is(res.status, 202, res.text);
  const id = res.json.id as string;
  await until('B\'s deploy made on Render, its answer unusable, its job waiting to retry', async () =>
    triggers(u.accountId, u.serviceId) === 1 && await (await stack.web.deps.queue.getJob(id))?.getState() === 'delayed', 30_000);
  t.like((await u.agent.get(`/api/render/deployments/${id}`)).json, { status: 'triggering_deploy', commitSha: b, deployId: null });
  t.is(await stack.redis.client.get(key), id);
  await stack.redis.client.del(key); // as if the retry had come after the lock's life (REDEPLOY_CHECK_MS)
  const done = await waitFinished(u.agent, id, 60_000);
  t.like(done, { status: 'live', renderCommitId: b }, JSON.stringify(done.failure));
  const deploys = (await renderDeploysOf(stack, u.apiKey, u.serviceId)).filter((d) => d.commit?.id === b);
  t.is(deploys.length, 1, 'B built once');
  t.is(done.deployId, deploys[0]?.id, 'the deploy its first ask made');
  t.is(triggers(u.accountId, u.serviceId), 1, 'asked of Render once');
  t.is(await stack.redis.client.exists(key), 0, 'given back');
});

test('a redeploy whose trigger Render refuses ends failed and gives the service\'s redeploy check back', async (t) => {
  // Held from the check to Render's answer: a refusal (not a wait) must not leave it held until it expires.
  const u = await liveService(stack, 'rdrefused');
  const key = `${stack.redis.prefix}:redeploy-check:${u.serviceId}`;
  const b = stack.github.push('rdrefused', 'app', 'main', { 'b.txt': 'B' });
  const c = stack.github.push('rdrefused', 'app', 'main', { 'c.txt': 'C' });
  const fault = stack.render.setFault({ method: 'POST', route: '/services/{serviceId}/deploys', apiKey: u.apiKey, kind: 'status', status: 400, count: 1 });
  t.teardown(() => stack.render.clearFault(fault));
  const ask = async (sha: string) => (await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`, { commit_sha: sha }, { headers: { 'idempotency-key': `refused-${sha}` } })).json.id as string;
  const refused = await waitFinished(u.agent, await ask(b), 30_000);
  t.like(refused, { status: 'failed', commitSha: b, deployId: null }, JSON.stringify(refused.failure));
  await until('the check given back', async () => await stack.redis.client.exists(key) === 0, 2_000);
  t.like(await waitFinished(u.agent, await ask(c), 15_000), { status: 'live', renderCommitId: c });
  t.is(await stack.redis.client.exists(key), 0, 'given back');
});

test('a redeploy whose trigger waits again and again renews its hold on the service\'s redeploy check at each run', async (t) => {
  // Each wait (a Retry-After, the key's budget) is shorter than the lock's life, but all of them together
  // need not be: a hold left to lapse lets a newer commit be checked and triggered ahead of this one.
  const u = await liveService(stack, 'rdrenew');
  const key = `${stack.redis.prefix}:redeploy-check:${u.serviceId}`;
  const b = stack.github.push('rdrenew', 'app', 'main', { 'b.txt': 'B' });
  const route = '/services/{serviceId}/deploys';
  const fault = stack.render.setFault({ method: 'POST', route, apiKey: u.apiKey, kind: 'status', status: 429, ms: 1_000, count: 2 });
  t.teardown(() => stack.render.clearFault(fault));
  const refused = () => renderCalls(stack, u.accountId, 'POST', route).filter((call) => call.path.includes(u.serviceId) && call.status === 429).length;
  const id = (await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`, { commit_sha: b }, { headers: { 'idempotency-key': `renew-${b}` } })).json.id as string;
  await until('B\'s first trigger answered 429', async () => refused() === 1, 30_000);
  t.is(await stack.redis.client.get(key), id);
  await stack.redis.client.pexpire(key, 30_000); // as if held a while already
  await until('B\'s second trigger answered 429', async () => refused() === 2, 30_000);
  t.is(await stack.redis.client.get(key), id, 'still B\'s');
  const ttl = await stack.redis.client.pttl(key);
  t.true(ttl > 60_000, `renewed by B's later run: pttl ${ttl}`);
  t.like(await waitFinished(u.agent, id, 30_000), { status: 'live', renderCommitId: b });
  t.is(await stack.redis.client.exists(key), 0, 'given back');
});

test('a redeploy of the commit a canceled redeploy was asking Render for waits until that deploy is canceled on Render, then deploys it', async (t) => {
  // B (commit C) canceled while its trigger was on its way to Render: its record ended, so its hold on the
  // service's redeploy check was taken over at once, while its deploy reached Render and was not canceled
  // there yet. A redeploy of C asked right then saw B's deploy building on Render and deployed nothing
  // (commit_already_deploying); B's run then canceled that deploy: C deployed by no one.
  const u = await liveService(stack, 'rdcanceling');
  const c = stack.github.push('rdcanceling', 'app', 'main', { 'c.txt': 'C' });
  const key = `${stack.redis.prefix}:redeploy-check:${u.serviceId}`;
  const releaseBuild = stack.render.holdPhase({ serviceId: u.serviceId }, 'build_in_progress');
  t.teardown(releaseBuild);
  const trigger = stack.render.holdRequest({ method: 'POST', route: '/services/{serviceId}/deploys', apiKey: u.apiKey });
  t.teardown(trigger.release);
  const ask = async (k: string) => {
    const res = await u.agent.post(`/api/render/services/${u.serviceId}/redeploy`, { commit_sha: c }, { headers: { 'idempotency-key': k } });
    t.is(res.status, 202, res.text);
    return res.json.id as string;
  };
  const idB = await ask('canceling-b');
  await trigger.arrived;
  t.is(await stack.redis.client.get(key), idB, 'B holds the check while its trigger is on its way');
  const canceled = await u.agent.post(`/api/render/deployments/${idB}/cancel`);
  t.is(canceled.status, 200, canceled.text);
  // B's run, answered, cancels the deploy its trigger made: that cancel is held, the deploy builds on Render.
  const stop = stack.render.holdRequest({ method: 'POST', route: '/services/{serviceId}/deploys/{deployId}/cancel', apiKey: u.apiKey });
  t.teardown(stop.release);
  trigger.release();
  await stop.arrived;
  const deployB = (await renderDeploysOf(stack, u.apiKey, u.serviceId)).find((d) => d.commit?.id === c);
  t.true(['created', 'build_in_progress'].includes(deployB?.status ?? ''), `B's deploy is on Render, not canceled yet: ${deployB?.status}`);
  const idC = await ask('canceling-c');
  const waited = await until('C waiting its turn, or decided', async () => {
    const rec = (await u.agent.get(`/api/render/deployments/${idC}`)).json;
    if (rec.finished || !['queued', 'verifying', 'triggering_deploy'].includes(rec.status)) return `decided: ${rec.status} ${rec.failure?.code ?? ''}`;
    const job = await stack.web.deps.queue.getJob(idC);
    return job && await job.getState() === 'delayed' && rec.status === 'triggering_deploy' ? 'waited' : null;
  }, 30_000);
  t.is(waited, 'waited', 'C waits while B\'s deploy on Render is still to be canceled');
  stop.release();
  await until('B\'s deploy canceled on Render', async () => (await renderDeploysOf(stack, u.apiKey, u.serviceId)).find((d) => d.id === deployB?.id)?.status === 'canceled', 15_000);
  const decidedC = await decided(u.agent, idC);
  t.not(decidedC.status, 'canceled', `C deployed: ${decidedC.status} ${JSON.stringify(decidedC.failure)}`);
  releaseBuild();
  t.like(await waitFinished(u.agent, idC, 60_000), { status: 'live', renderCommitId: c });
  t.like((await u.agent.get(`/api/render/deployments/${idB}`)).json, { status: 'canceled' });
  t.is(await stack.redis.client.exists(key), 0, 'given back');
});

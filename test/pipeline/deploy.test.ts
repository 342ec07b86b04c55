import test from 'ava';
import { dumpRedis, type Stack } from '../helpers/stack.js';
import { usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, renderCalls, signedInWithKey, waitFinished, waitStatus, type TestWorker } from '../helpers/pipeline.js';
import { assertNoSecrets, witnessSecrets, type SecretWitness } from '../helpers/secretScan.js';
import { MAX_RESPONSE_BYTES } from '../../server/github/http.js';
import { MAX_FILE_BYTES } from '../../server/github/client.js';

/** An env value Render's refusal quotes back (a test below). */
const QUOTED_SECRET = 'sk_live_quoted-by-render-4e1f';

let stack: Stack;
let seen: SecretWitness;
let worker: TestWorker;
usePipelineStack(test, { renderOptions: { phaseMs: { created: 20, build_in_progress: 600, pre_deploy_in_progress: 20, update_in_progress: 40 } } }, (p) => {
  ({ stack, worker } = p);
  seen = witnessSecrets(stack);
});
// End state of every test above: no Render key, GitHub token or env value in Redis, logs, answers or Render calls.
test.after('no secret anywhere after all the flows', async (t) => {
  await assertNoSecrets(t, { stack, agents: seen.agents, extraLogs: [worker.logs], secrets: [...seen.secrets(), 'hunter2-very-secret', 'tok_live_abcdef123456', QUOTED_SECRET] });
});

test('repo → live for a new service, then a redeploy of the same service', async (t) => {
  const { agent, ownerId, apiKey, accountId } = await signedInWithKey(stack, 'alice');
  addNodeRepo(stack, 'alice', 'shop');
  // Render's build lasts until the record shows it: under load the worker's looks can be further apart
  // than any fixed build time, and a phase between two looks is rightly never recorded.
  const release = stack.render.holdPhase({ serviceName: 'shop' }, 'build_in_progress');
  t.teardown(release);
  const res = await agent.post('/api/render/deploy', {
    github_repo: 'alice/shop', project_name: 'shop', env_vars: [{ key: 'DATABASE_PASSWORD', value: 'hunter2-very-secret' }],
  });
  t.is(res.status, 202, res.text);
  t.is(res.json.status, 'queued');
  t.is(res.json.request.ownerId, ownerId);
  t.deepEqual(res.json.request.envVarKeys, ['DATABASE_PASSWORD']);
  t.false(res.text.includes('hunter2'), 'env values never come back');
  await waitStatus(agent, res.json.id, 'build_in_progress');
  release();
  const done = await waitFinished(agent, res.json.id);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  t.regex(done.serviceId, /^srv-/);
  t.regex(done.deployId, /^dep-/);
  t.truthy(done.dashboardUrl);
  t.is(done.stack.stack, 'node');
  const statuses = done.timeline.map((e: { status: string }) => e.status);
  for (const s of ['queued', 'verifying', 'detecting', 'creating_service', 'created', 'live']) t.true(statuses.includes(s), `timeline has ${s}: ${statuses}`);
  t.true(statuses.includes('build_in_progress'), `the timeline mirrors Render's build phase: ${statuses}`);
  t.is(renderCalls(stack, accountId, 'POST', '/services').length, 1);

  // Deploying the same project again through the form is a name clash (issue 12): the existing
  // service is deployed only through its own action, by id — no second service.
  const again = await agent.post(`/api/render/services/${done.serviceId}/redeploy`);
  t.is(again.status, 202, again.text);
  const redeployed = await waitFinished(agent, again.json.id);
  t.is(redeployed.status, 'live');
  t.is(redeployed.serviceId, done.serviceId);
  t.is(renderCalls(stack, accountId, 'POST', '/services').length, 1, 'no second service');
  t.true(redeployed.timeline.some((e: { status: string }) => e.status === 'triggering_deploy'));

  const list = await agent.get('/api/render/my-deployments?limit=1');
  t.is(list.json.deployments[0].id, again.json.id, 'newest first');
  t.truthy(list.json.nextCursor);
  const next = await agent.get(`/api/render/my-deployments?limit=1&cursor=${encodeURIComponent(list.json.nextCursor)}`);
  t.is(next.json.deployments[0].id, res.json.id);
  t.is(next.json.nextCursor, null);

  const redis = await dumpRedis(stack.redis.client);
  for (const secret of [apiKey, 'hunter2-very-secret', ...stack.github.tokensFor('alice')]) {
    t.false(redis.includes(secret), 'secret found in Redis (records, jobs, sessions)');
    t.false(stack.logs.join('').includes(secret), 'secret in web logs');
    t.false(worker.logs.join('').includes(secret), 'secret in worker logs');
  }
});

test('Idempotency-Key: same key → same deployment, no second job', async (t) => {
  const { agent, accountId } = await signedInWithKey(stack, 'idem');
  addNodeRepo(stack, 'idem', 'api');
  const body = { github_repo: 'idem/api', project_name: 'idem-api' };
  const [a, b] = await Promise.all([
    agent.post('/api/render/deploy', body, { headers: { 'idempotency-key': 'req-1' } }),
    agent.post('/api/render/deploy', body, { headers: { 'idempotency-key': 'req-1' } }),
  ]);
  t.is(a.status, 202);
  t.is(b.status, 202);
  t.is(a.json.id, b.json.id);
  const other = await agent.post('/api/render/deploy', { ...body, branch: 'dev' }, { headers: { 'idempotency-key': 'req-1' } });
  t.is(other.status, 409);
  t.is(other.json.error.code, 'idempotency_key_reused');
  await waitFinished(agent, a.json.id);
  const list = await agent.get('/api/render/my-deployments');
  t.is(list.json.deployments.length, 1);
  t.is(renderCalls(stack, accountId, 'POST', '/services').length, 1, 'one job, one service');
});

test('failures end in a clear failed state', async (t) => {
  const { agent } = await signedInWithKey(stack, 'bob');
  addNodeRepo(stack, 'bob', 'breaks');
  stack.render.failBuilds({ serviceName: 'breaks' }, 'build_failed');
  stack.github.addRepo({ owner: 'carol', name: 'private-thing', private: true, branches: { main: { 'index.html': '' } } });
  stack.github.addRepo({ owner: 'bob', name: 'bad-blueprint', branches: { main: { 'render.yaml': 'services:\n  - type: web\n    name: x\n    runtime: nodejs-nope\n    plan: 12\n', 'package.json': '{"scripts":{"start":"node ."}}' } } });
  stack.github.addRepo({ owner: 'bob', name: 'mystery', branches: { main: { 'README.md': 'hi' } } });

  const cases = [
    { body: { github_repo: 'bob/breaks', project_name: 'breaks' }, status: 'build_failed', code: 'build_failed' },
    { body: { github_repo: 'carol/private-thing', project_name: 'private-thing' }, status: 'failed', code: 'repo_not_found' },
    { body: { github_repo: 'bob/breaks', project_name: 'breaks-2', branch: 'nope' }, status: 'failed', code: 'branch_not_found' },
    // A branch named for a repository the caller cannot see: still the repository that is not found.
    { body: { github_repo: 'carol/private-thing', project_name: 'private-thing-2', branch: 'main' }, status: 'failed', code: 'repo_not_found' },
    { body: { github_repo: 'bob/bad-blueprint', project_name: 'bad-bp' }, status: 'failed', code: 'invalid_blueprint' },
    { body: { github_repo: 'bob/mystery', project_name: 'mystery' }, status: 'failed', code: 'stack_not_detected' },
  ];
  for (const c of cases) {
    const res = await agent.post('/api/render/deploy', c.body);
    t.is(res.status, 202, res.text);
    const done = await waitFinished(agent, res.json.id);
    t.is(done.status, c.status, `${c.body.github_repo}: ${JSON.stringify(done.failure)}`);
    t.is(done.failure.code, c.code);
    t.true(done.failure.message.length > 20, 'a sentence the user can act on');
  }
});

test('a creation Render refuses quoting an env value: the failure says what Render said, the value redacted', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'quoted');
  addNodeRepo(stack, 'quoted', 'app');
  // A validation error that quotes what it refused, as a 400 may.
  const fault = stack.render.setFault({ method: 'POST', route: '/services', apiKey, kind: 'status', status: 400, count: 1, message: `envVars[0].value "${QUOTED_SECRET}" is not valid for key STRIPE_KEY` });
  t.teardown(() => stack.render.clearFault(fault));
  const res = await agent.post('/api/render/deploy', { github_repo: 'quoted/app', project_name: 'quoted-app', env_vars: [{ key: 'STRIPE_KEY', value: QUOTED_SECRET }] });
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id);
  t.is(done.status, 'failed', JSON.stringify(done.failure));
  t.regex(done.failure.message, /envVars\[0\]\.value "\[redacted\]" is not valid for key STRIPE_KEY/);
  const page = await agent.get(`/api/render/deployments/${res.json.id}`);
  t.false(page.text.includes(QUOTED_SECRET));
  t.false(worker.logs.join('').includes(QUOTED_SECRET), 'not in the worker\'s log');
  t.false(stack.logs.join('').includes(QUOTED_SECRET), 'not in the web\'s log');
});

test('a deploy naming its branch (as the deploy form does) proves access by reading that branch: the repository is read only without one', async (t) => {
  const { agent } = await signedInWithKey(stack, 'rita');
  addNodeRepo(stack, 'rita', 'named');
  addNodeRepo(stack, 'rita', 'unnamed');
  for (const [repo, branch] of [['named', 'main'], ['unnamed', undefined]] as const) {
    const res = await agent.post('/api/render/deploy', { github_repo: `rita/${repo}`, project_name: repo, ...(branch ? { branch } : {}) });
    t.is(res.status, 202, res.text);
    const done = await waitFinished(agent, res.json.id);
    t.is(done.status, 'live', JSON.stringify(done.failure));
    t.is(done.request.branch, 'main');
    t.regex(done.commitSha, /^[0-9a-f]{40}$/);
  }
  const reads = (repo: string) => stack.github.calls
    .filter((c) => c.method === 'GET' && c.login === 'rita' && c.path.startsWith(`/api/v3/repos/rita/${repo}`))
    .map((c) => c.path.slice(`/api/v3/repos/rita/${repo}`.length));
  t.deepEqual(reads('named').filter((p) => !p.startsWith('/contents/')), ['/branches/main']);
  t.deepEqual(reads('unnamed').filter((p) => !p.startsWith('/contents/')), ['', '/branches/main']);
});

test('an answer from GitHub over 4 MiB ends the deploy at once, saying so; the worker goes on deploying', async (t) => {
  const { agent, accountId } = await signedInWithKey(stack, 'gina');
  addNodeRepo(stack, 'gina', 'huge');
  // The detect step's first read of the repository's files streams more than the cap, with no Content-Length.
  stack.github.injectFault({ path: '/repos/gina/huge/contents', status: 200, bodyBytes: MAX_RESPONSE_BYTES + 1 });
  const body = { github_repo: 'gina/huge', project_name: 'huge' };
  const res = await agent.post('/api/render/deploy', body);
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id);
  t.is(done.status, 'failed', JSON.stringify(done.failure));
  t.is(done.failure.code, 'github_answer_too_large');
  t.regex(done.failure.message, /^GitHub (list files|read file): the answer was larger than 4 MiB/);
  for (const token of stack.github.tokensFor('gina')) t.false(JSON.stringify(done).includes(token));
  t.is(renderCalls(stack, accountId, 'POST', '/services').length, 0, 'stopped before any Render write');
  const again = await agent.post('/api/render/deploy', body);
  t.is((await waitFinished(agent, again.json.id)).status, 'live');
});

test('a file over the 256 KiB read limit is the repository\'s, not GitHub failing: a bundled index.html still deploys, a package.json over it ends the deploy at once, saying so', async (t) => {
  const { agent, accountId } = await signedInWithKey(stack, 'olga');
  stack.github.addRepo({ owner: 'olga', name: 'spa', branches: { main: { 'dist/index.html': `<html>${'x'.repeat(MAX_FILE_BYTES)}</html>` } } });
  stack.github.addRepo({ owner: 'olga', name: 'fat', branches: { main: { 'package.json': JSON.stringify({ scripts: { start: 'node .' }, x: 'y'.repeat(MAX_FILE_BYTES) }) } } });
  // What the deploy form shows first: the same detection, answered at once.
  const shown = await agent.get('/api/github/repos/olga/spa/detect');
  t.is(shown.status, 200, shown.text);
  t.like(shown.json, { stack: 'static', serviceType: 'static_site' });
  const refused = await agent.get('/api/github/repos/olga/fat/detect');
  t.is(refused.status, 422, refused.text);
  t.is(refused.json.error.code, 'stack_not_detected');
  t.regex(refused.json.error.message, /^package\.json is larger than 256 KiB/);

  // The static site only needs its index.html to be there.
  const spa = await agent.post('/api/render/deploy', { github_repo: 'olga/spa', project_name: 'spa' });
  t.is(spa.status, 202, spa.text);
  const live = await waitFinished(agent, spa.json.id);
  t.is(live.status, 'live', JSON.stringify(live.failure));
  t.like(live.stack, { stack: 'static', serviceType: 'static_site', publishPath: 'dist' });
  // A manifest detection must read: one read, no retries as if GitHub were down, and nothing on Render.
  const fatReads = () => stack.github.calls.filter((c) => c.path === '/api/v3/repos/olga/fat/contents/package.json').length;
  const before = fatReads();
  const fat = await agent.post('/api/render/deploy', { github_repo: 'olga/fat', project_name: 'fat' });
  const failed = await waitFinished(agent, fat.json.id);
  t.is(failed.status, 'failed');
  t.is(failed.failure.code, 'stack_not_detected');
  t.regex(failed.failure.message, /^package\.json is larger than 256 KiB, too large to read for stack detection/);
  t.is(fatReads() - before, 1, 'read once');
  t.is(renderCalls(stack, accountId, 'POST', '/services').length, 1, 'only the static site was created');
});

test('cancel a running deploy', async (t) => {
  const { agent } = await signedInWithKey(stack, 'dan');
  addNodeRepo(stack, 'dan', 'slow');
  const res = await agent.post('/api/render/deploy', { github_repo: 'dan/slow', project_name: 'slow' });
  // Wait until Render has a deploy to cancel.
  let rec;
  for (let i = 0; i < 400; i++) {
    rec = (await agent.get(`/api/render/deployments/${res.json.id}`)).json;
    if (rec.deployId || rec.finished) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const canceled = await agent.post(`/api/render/deployments/${res.json.id}/cancel`);
  if (canceled.status === 409) { t.pass('deploy finished before the cancel reached it'); return; }
  t.is(canceled.status, 200, canceled.text);
  t.is(canceled.json.status, 'canceled');
  const after = await waitFinished(agent, res.json.id);
  t.is(after.status, 'canceled');
  t.is((await agent.post(`/api/render/deployments/${res.json.id}/cancel`)).status, 409);
});

test('another user\'s deployment is a 404 everywhere', async (t) => {
  const { agent: a } = await signedInWithKey(stack, 'owner1');
  const { agent: b } = await signedInWithKey(stack, 'prober');
  addNodeRepo(stack, 'owner1', 'mine');
  const res = await a.post('/api/render/deploy', { github_repo: 'owner1/mine', project_name: 'mine' });
  const id = res.json.id;
  t.is((await b.get(`/api/render/deployments/${id}`)).status, 404);
  t.is((await b.get(`/api/render/deployments/${id}/logs`)).status, 404);
  t.is((await b.post(`/api/render/deployments/${id}/cancel`)).status, 404);
  t.is((await b.get('/api/render/my-deployments')).json.deployments.length, 0);
  t.is((await b.get('/api/render/deployments/not-an-id')).status, 404);
  await waitFinished(a, id);
});

test('deploy input is validated: clear 400s, nothing enqueued', async (t) => {
  const { agent } = await signedInWithKey(stack, 'validator');
  const bad = [
    {}, { github_repo: 'no-slash', project_name: 'x' }, { github_repo: 'a/b', project_name: '-bad-' },
    { github_repo: 'a/b', project_name: 'ok', region: 'mars' }, { github_repo: 'a/b', project_name: 'ok', plan: 'gold' },
    { github_repo: 'a/b', project_name: 'ok', branch: 'a..b' }, { github_repo: 'a/b', project_name: 'ok', env_vars: [{ key: '1X', value: 'v' }] },
    { github_repo: 'a/b', project_name: 'ok', owner_id: 'tea-00000000000000000000' }, { github_repo: 'a/b', project_name: 'ok', surprise: 1 },
    { github_repo: 'a/b', project_name: 'ok', env_vars: [{ key: 'A', value: '1' }, { key: 'A', value: '2' }] },
  ];
  for (const body of bad) {
    const res = await agent.post('/api/render/deploy', body);
    t.is(res.status, 400, JSON.stringify(body));
    t.is(res.json.error.code, 'validation_failed');
  }
  t.is((await agent.get('/api/render/my-deployments')).json.deployments.length, 0);
  const noKey = stack.agent();
  await stack.signIn(noKey, 'nokey');
  const res = await noKey.post('/api/render/deploy', { github_repo: 'a/b', project_name: 'ok' });
  t.is(res.status, 400);
  t.is(res.json.error.code, 'render_key_missing');
});

test('a too-large env value is a 400 naming that value, not "request body too large"; nothing enqueued', async (t) => {
  const { agent } = await signedInWithKey(stack, 'bigvalue');
  const big = 'x'.repeat(20 * 1024); // over the 16 KB per value, under the 64 KB body limit
  const res = await agent.post('/api/render/deploy', { github_repo: 'a/b', project_name: 'ok', env_vars: [{ key: 'SMALL', value: 'v' }, { key: 'CERT', value: big }] });
  t.is(res.status, 400, res.text);
  t.is(res.json.error.code, 'validation_failed');
  t.is(res.json.error.field, 'env_vars.1.value', 'the form can put it on the second row');
  t.regex(res.json.error.message, /larger than 16 KB/);
  t.false(res.text.includes(big.slice(0, 100)), 'the value is not echoed');
  // Multi-byte characters count as the bytes they take.
  const wide = await agent.post('/api/render/deploy', { github_repo: 'a/b', project_name: 'ok', env_vars: { EMOJI: '€'.repeat(6000) } });
  t.is(wide.status, 400);
  t.is(wide.json.error.field, 'env_vars.EMOJI');
  t.is((await agent.get('/api/render/my-deployments')).json.deployments.length, 0);
});

test('an env value with NUL or a lone UTF-16 surrogate is a 400 naming that value; nothing enqueued', async (t) => {
  const { agent } = await signedInWithKey(stack, 'nulvalue');
  // A process environment cannot hold NUL (it would end the value), and a lone surrogate has no UTF-8
  // form (it would reach Render as U+FFFD): either way the service would run with another value.
  for (const [value, rule] of [['before\u0000after', /NUL/], ['half \ud83d of an emoji', /surrogate|UTF-8/]] as const) {
    const res = await agent.post('/api/render/deploy', { github_repo: 'a/b', project_name: 'ok', env_vars: [{ key: 'OK', value: 'fine 😀' }, { key: 'BAD', value }] });
    t.is(res.status, 400, res.text);
    t.is(res.json.error.code, 'validation_failed');
    t.is(res.json.error.field, 'env_vars.1.value');
    t.regex(res.json.error.message, rule);
  }
  t.is((await agent.get('/api/render/my-deployments')).json.deployments.length, 0);
});

test('build logs come from Render with env var values redacted', async (t) => {
  const { agent } = await signedInWithKey(stack, 'logger');
  addNodeRepo(stack, 'logger', 'chatty');
  const res = await agent.post('/api/render/deploy', { github_repo: 'logger/chatty', project_name: 'chatty', env_vars: { API_TOKEN: 'tok_live_abcdef123456' } });
  const done = await waitFinished(agent, res.json.id);
  t.is(done.status, 'live');
  stack.render.appendLog(done.serviceId, 'app booted with API_TOKEN=tok_live_abcdef123456', { type: 'app' });
  const logs = await agent.get(`/api/render/deployments/${res.json.id}/logs`);
  t.is(logs.status, 200, logs.text);
  t.true(logs.json.logs.length > 0);
  const text = logs.json.logs.map((l: { message: string }) => l.message).join('\n');
  t.false(text.includes('tok_live_abcdef123456'));
  t.true(text.includes('API_TOKEN=[redacted]'));
});

test('a deploy under a taken name leaves the existing service\'s build/start commands alone', async (t) => {
  // Before issue 12 the form's commands were written over the existing service; now the name clash stops
  // the deploy before any Render write (service settings are their own feature).
  const { agent, apiKey } = await signedInWithKey(stack, 'commands');
  addNodeRepo(stack, 'commands', 'tool');
  const first = await waitFinished(agent, (await agent.post('/api/render/deploy', { github_repo: 'commands/tool', project_name: 'tool' })).json.id);
  t.is(first.status, 'live');
  const read = async () => ((await (await fetch(`${stack.render.url}/services/${first.serviceId}`, { headers: { authorization: `Bearer ${apiKey}` } })).json()) as { serviceDetails: { envSpecificDetails: { buildCommand: string; startCommand: string } } }).serviceDetails.envSpecificDetails;
  const before = await read();
  const again = await agent.post('/api/render/deploy', { github_repo: 'commands/tool', project_name: 'tool', build_command: 'npm ci && npm run build', start_command: 'node dist/index.js' });
  const done = await waitFinished(agent, again.json.id);
  t.is(done.status, 'failed');
  t.is(done.failure.code, 'service_name_taken');
  t.deepEqual(await read(), before);
});

test('the commit shown is the one Render built; the one we checked is kept beside it', async (t) => {
  // Was: a second deploy through the form pinned the verified commit on the existing service. Such deploys
  // are now refused (issue 12); a new service builds the branch head, so both commits are recorded.
  const { agent, apiKey } = await signedInWithKey(stack, 'pinner');
  addNodeRepo(stack, 'pinner', 'pinned');
  const first = await waitFinished(agent, (await agent.post('/api/render/deploy', { github_repo: 'pinner/pinned', project_name: 'pinned' })).json.id);
  t.is(first.status, 'live');
  t.regex(first.commitSha, /^[0-9a-f]{40}$/);
  const res = await fetch(`${stack.render.url}/services/${first.serviceId}/deploys/${first.deployId}`, { headers: { authorization: `Bearer ${apiKey}` } });
  const deploy = (await res.json()) as { commit: { id: string } | null };
  t.truthy(deploy.commit?.id);
  t.is(first.renderCommitId, deploy.commit?.id, 'the commit Render built is what we show');
});

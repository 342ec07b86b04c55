import test from 'ava';
import type { IncomingMessage } from 'node:http';
import { dumpRedis, type Stack } from '../helpers/stack.js';
import { createRenderClient } from '../../server/render/client.js';
import { usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, renderDeploysOf, until } from '../helpers/pipeline.js';
import { startWebBehindHold } from '../helpers/redisHold.js';
import { proxyToOrchestrator as proxyOf, pushEnv, startCiScript } from './support/ciScript.js';

// scripts/ci-deploy.mjs (the README's GitHub Actions step) run as a real child process against a
// stack with the simulators: exit 0 and the service URL when live, 1 when the build fails; the
// commit deployed is the pushed one (GITHUB_SHA), though the branch has moved on since; a later push
// redeploys the service the first one created.
let stack: Stack;
let token: string;
let apiKey: string;
let accountId: string;
let workspaceId: string;
// Render's creation limit lifted: one test gives a key 30 services straight on the simulator.
usePipelineStack(test, { renderOptions: { rateLimits: { createService: { limit: 10_000 } } } }, (p) => {
  ({ stack } = p);
  stack.github.addUser({ id: 9100, login: 'ciowner' });
  token = stack.github.issuePat('ciowner');
  apiKey = `rnd_ciowner${'s'.repeat(24)}`;
  const account = stack.render.addAccount({ apiKey, workspaces: [{ name: 'ci ws' }] });
  accountId = account.id;
  workspaceId = account.workspaces[0]!.id;
  addNodeRepo(stack, 'ciowner', 'good-app');
  addNodeRepo(stack, 'ciowner', 'bad-app');
});

const headOf = (repo: string) => stack.github.branchHead(repo.split('/')[0]!, repo.split('/')[1]!, 'main') ?? '';

const run = (repo: string, extra: Record<string, string> = {}) => startCiScript(pushEnv({ url: stack.url, token, apiKey, repo, sha: headOf(repo) }, extra)).done;

const proxyToOrchestrator = (route: Parameters<typeof proxyOf>[1]) => proxyOf(stack.url, route);

/** The script's look-up of its service: by name (GET /api/render/services/lookup), or the whole list. */
const isLookup = (req: IncomingMessage) => ['/api/render/services/lookup', '/api/render/services'].includes((req.url ?? '').split('?')[0]!);

test.serial('a deploy that goes live: exit 0, the service URL printed', async (t) => {
  const { code, out } = await run('ciowner/good-app');
  t.is(code, 0, out);
  t.regex(out, /^status: live$/m);
  t.regex(out, /live: https:\/\/good-app[^\s]*\.onrender\.com/);
  t.false(out.includes(token));
  t.false(out.includes(apiKey));
});

test.serial('a deploy whose build fails: exit 1 with the reason', async (t) => {
  // Every build of it fails: a new service's first deploy (of the branch's head) is stopped before the pushed commit's is made.
  stack.render.failBuilds({ serviceName: 'bad-app' }, 'build_failed', 1_000);
  const { code, out } = await run('ciowner/bad-app');
  t.is(code, 1, out);
  t.regex(out, /ci-deploy: (build_failed|failed)/);
});

test.serial('bad input: exit 2; the same commit re-run does not deploy twice', async (t) => {
  t.is((await run('ciowner/good-app', { GH_USER_TOKEN: '' })).code, 2);
  const bad = await run('ciowner/good-app', { RENDER_API_KEY: 'not-a-key' });
  t.is(bad.code, 2, bad.out);
  t.regex(bad.out, /validation_failed/);
  const again = await run('ciowner/good-app');
  t.is(again.code, 0, again.out);
  const ids = [...again.out.matchAll(/deployment (\S+):/g)].map((m) => m[1]);
  const mine = await fetch(`${stack.url}/api/render/my-deployments?limit=100`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json() as Promise<{ deployments: Array<{ id: string; request: { serviceName: string } }> }>);
  t.is(mine.deployments.filter((d) => d.request.serviceName === 'good-app').length, 1, 'Idempotency-Key ci-<sha>-<name>: one deployment');
  t.true(ids.length === 1 && mine.deployments.some((d) => d.id === ids[0]));
  const dump = await dumpRedis(stack.web.deps.redis);
  t.false(dump.includes(token));
  t.false(dump.includes(apiKey));
});

test.serial('a timeout or poll interval that is not a number of seconds is bad input: exit 2, nothing deployed', async (t) => {
  // '30m' read as NaN: the deadline never came (a stuck deploy held the CI job until GitHub killed it),
  // and a NaN or zero poll interval polled the API without pause.
  const cases: Array<Record<string, string>> = [{ DEPLOY_TIMEOUT_SECONDS: '30m' }, { DEPLOY_TIMEOUT_SECONDS: '0' }, { POLL_SECONDS: '5s' }, { POLL_SECONDS: '0' }];
  for (const [i, extra] of cases.entries()) {
    const res = await run('ciowner/good-app', { ...extra, SERVICE_NAME: 'ci-bad-timing', GITHUB_SHA: `sha-timing-${i}` });
    t.is(res.code, 2, `${JSON.stringify(extra)}: ${res.out}`);
    t.regex(res.out, new RegExp(`ci-deploy: ${Object.keys(extra)[0]!} must be a number of seconds above 0`));
  }
  const mine = await fetch(`${stack.url}/api/render/my-deployments?limit=100`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json() as Promise<{ deployments: Array<{ request: { serviceName: string } }> }>);
  t.false(mine.deployments.some((d) => d.request.serviceName === 'ci-bad-timing'));
});

test.serial('the pushed commit is deployed, not a later push to the branch', async (t) => {
  // CI for commit A runs while B is already on the branch (two pushes close together, or a deploy
  // waiting in the queue): A is what is detected, built and reported live.
  addNodeRepo(stack, 'ciowner', 'moving-app');
  const a = headOf('ciowner/moving-app');
  const b = stack.github.push('ciowner', 'moving-app', 'main', { 'index.html': '<h1>B</h1>' });
  const { code, out } = await run('ciowner/moving-app', { GITHUB_SHA: a });
  t.is(code, 0, out);
  t.regex(out, new RegExp(`deployment (\\S+): ciowner/moving-app@main \\(${a.slice(0, 7)}\\)`));
  const id = /deployment (\S+):/.exec(out)![1]!;
  const rec = await fetch(`${stack.url}/api/render/deployments/${id}`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json() as Promise<{ status: string; commitSha: string; renderCommitId: string; request: { commitSha: string }; stack: { stack: string } }>);
  t.like(rec, { status: 'live', commitSha: a, renderCommitId: a, request: { commitSha: a }, stack: { stack: 'node' } });
  t.not(rec.renderCommitId, b);
});

interface Presented { id: string; kind: string; status: string; serviceId: string; commitSha: string; renderCommitId: string; deployId: string; nothingToDeploy: boolean; request: { serviceName: string; commitSha: string } }
const asUser = (path: string) => fetch(`${stack.url}${path}`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json());
const deploymentOf = (out: string) => asUser(`/api/render/deployments/${/deployment (\S+):/.exec(out)![1]!}`) as Promise<Presented>;
const deploymentsNamed = async (name: string) =>
  ((await asUser('/api/render/my-deployments?limit=100')) as { deployments: Presented[] }).deployments.filter((d) => d.request.serviceName === name);
const renderServicesNamed = async (name: string) =>
  (await (await fetch(`${stack.render.url}/services?name=${name}`, { headers: { authorization: `Bearer ${apiKey}` } })).json()) as Array<{ service: { id: string } }>;
const renderWrites = () => stack.render.calls.filter((c) => c.accountId === accountId && c.method !== 'GET').length;

test.serial('push after push: the first run creates the service, the next redeploys it on the new commit; a re-run deploys nothing new', async (t) => {
  // A deploy always creates a service, and a workspace takes one service of a name: the second push's
  // run failed service_name_taken (exit 1) and CI stayed red from then on.
  addNodeRepo(stack, 'ciowner', 'pushy-app');
  const a = headOf('ciowner/pushy-app');
  const first = await run('ciowner/pushy-app');
  t.is(first.code, 0, first.out);
  const recA = await deploymentOf(first.out);
  t.like(recA, { kind: 'deploy', status: 'live', renderCommitId: a });

  const b = stack.github.push('ciowner', 'pushy-app', 'main', { 'package.json': JSON.stringify({ name: 'pushy-app', scripts: { start: 'node b.js' } }), 'b.js': '' });
  const second = await run('ciowner/pushy-app');
  t.is(second.code, 0, second.out);
  t.regex(second.out, new RegExp(`deployment \\S+: ciowner/pushy-app@main \\(${b.slice(0, 7)}\\) → pushy-app \\(redeploy of ${recA.serviceId}\\)`));
  t.regex(second.out, /live: https:\/\/pushy-app[^\s]*\.onrender\.com/);
  const recB = await deploymentOf(second.out);
  t.like(recB, { kind: 'redeploy', status: 'live', serviceId: recA.serviceId, commitSha: b, renderCommitId: b, request: { commitSha: b } });
  t.is((await renderServicesNamed('pushy-app')).length, 1, 'no second service');
  const live = (await renderDeploysOf(stack, apiKey, recA.serviceId)).find((d) => d.status === 'live');
  t.is(live?.commit?.id, b, 'B is live on Render');

  // The run for B again (a re-run of the CI job): the same deployment, nothing asked of Render.
  const writes = renderWrites();
  const again = await run('ciowner/pushy-app');
  t.is(again.code, 0, again.out);
  t.is((await deploymentOf(again.out)).id, recB.id);
  // And the run for A again, whose key named the deploy that created the service: that deployment,
  // which went live and was replaced by B's since (a success for A's job, not a failure).
  const againA = await run('ciowner/pushy-app', { GITHUB_SHA: a });
  t.is(againA.code, 0, againA.out);
  t.regex(againA.out, /went live, since replaced by a later deploy: https:\/\/pushy-app/);
  t.is((await deploymentOf(againA.out)).id, recA.id);
  t.is(renderWrites(), writes, 'nothing written on Render');
  t.deepEqual((await deploymentsNamed('pushy-app')).map((d) => d.id).sort(), [recA.id, recB.id].sort());
});

test.serial('runs finishing out of order: the older commit\'s run deploys nothing over the newer one, exit 0 saying so', async (t) => {
  // Push B, push C; C's job deploys first, then B's redeployed B and put older code live.
  addNodeRepo(stack, 'ciowner', 'order-app');
  t.is((await run('ciowner/order-app')).code, 0);
  const b = stack.github.push('ciowner', 'order-app', 'main', { 'package.json': JSON.stringify({ name: 'order-app', scripts: { start: 'node b.js' } }), 'b.js': '' });
  const c = stack.github.push('ciowner', 'order-app', 'main', { 'package.json': JSON.stringify({ name: 'order-app', scripts: { start: 'node c.js' } }), 'c.js': '' });
  const runC = await run('ciowner/order-app', { GITHUB_SHA: c });
  t.is(runC.code, 0, runC.out);
  const recC = await deploymentOf(runC.out);
  t.like(recC, { kind: 'redeploy', status: 'live', renderCommitId: c });
  const writes = renderWrites();
  const runB = await run('ciowner/order-app', { GITHUB_SHA: b });
  t.is(runB.code, 0, runB.out);
  t.regex(runB.out, new RegExp(`^nothing was deployed \\(newer_commit_live\\): Commit ${c.slice(0, 7)} \\(${c}\\)`, 'm'));
  t.like(await deploymentOf(runB.out), { kind: 'redeploy', status: 'canceled', commitSha: b });
  // Its re-run is answered with that outcome: no new deployment, nothing deployed.
  const rerunB = await run('ciowner/order-app', { GITHUB_SHA: b });
  t.is(rerunB.code, 0, rerunB.out);
  t.regex(rerunB.out, /^nothing was deployed \(newer_commit_live\)/m);
  t.is(renderWrites(), writes, 'nothing written on Render');
  t.is((await renderDeploysOf(stack, apiKey, recC.serviceId)).find((d) => d.status === 'live')?.commit?.id, c, 'C is still live');
  t.is((await deploymentsNamed('order-app')).length, 3);
});

test.serial('runs finishing out of order while the newer commit still builds: the older commit\'s run deploys nothing after it, exit 0 saying so', async (t) => {
  // C's run asked first and C is building; B's run then redeployed B, compared with the live commit
  // only (A): B was queued behind C on Render and went live after it.
  addNodeRepo(stack, 'ciowner', 'flight-app');
  t.is((await run('ciowner/flight-app')).code, 0);
  const serviceId = (await renderServicesNamed('flight-app'))[0]!.service.id;
  const b = stack.github.push('ciowner', 'flight-app', 'main', { 'package.json': JSON.stringify({ name: 'flight-app', scripts: { start: 'node b.js' } }), 'b.js': '' });
  const c = stack.github.push('ciowner', 'flight-app', 'main', { 'package.json': JSON.stringify({ name: 'flight-app', scripts: { start: 'node c.js' } }), 'c.js': '' });
  const releaseBuild = stack.render.holdPhase({ serviceId }, 'build_in_progress');
  t.teardown(releaseBuild);
  const runC = run('ciowner/flight-app', { GITHUB_SHA: c });
  const deploysOf = () => renderDeploysOf(stack, apiKey, serviceId);
  await until('C building', async () => (await deploysOf()).find((d) => d.commit?.id === c && d.status === 'build_in_progress'));
  let endedB: Awaited<ReturnType<typeof run>> | undefined;
  const runB = run('ciowner/flight-app', { GITHUB_SHA: b }).then((r) => (endedB = r));
  // B's run has ended, or its deploy is on Render (queued behind C): either way C may finish now.
  await until('B decided', async () => endedB ?? (await deploysOf()).find((d) => d.commit?.id === b));
  releaseBuild();
  const [resB, resC] = await Promise.all([runB, runC]);
  t.is(resC.code, 0, resC.out);
  t.is(resB.code, 0, resB.out);
  t.regex(resB.out, new RegExp(`^nothing was deployed \\(newer_commit_deploying\\): Commit ${c.slice(0, 7)} \\(${c}\\)`, 'm'));
  t.like(await deploymentOf(resB.out), { kind: 'redeploy', status: 'canceled', commitSha: b, nothingToDeploy: true });
  const deploys = await deploysOf();
  t.false(deploys.some((d) => d.commit?.id === b), 'B was never deployed');
  t.is(deploys.find((d) => d.status === 'live')?.commit?.id, c, 'C is live');
});

test.serial('two pushes close together on a new service: the second run, whose look-up found no service yet, redeploys it once it exists', async (t) => {
  // The second run's look-up ran while the first run's deploy was still creating the service, so it
  // asked for a new service too and failed service_name_taken (exit 1): CI red for the newer push.
  addNodeRepo(stack, 'ciowner', 'twin-app');
  const a = headOf('ciowner/twin-app');
  const b = stack.github.push('ciowner', 'twin-app', 'main', { 'package.json': JSON.stringify({ name: 'twin-app', scripts: { start: 'node b.js' } }), 'b.js': '' });
  // A proxy in front of the orchestrator for B's run: its look-up is answered by the orchestrator at
  // once (no service yet), and the answer held back until A's run has created the service.
  let lookedUp!: () => void;
  const lookupAnswered = new Promise<void>((resolve) => { lookedUp = resolve; });
  let release!: () => void;
  const released = new Promise<void>((resolve) => { release = resolve; });
  let lookups = 0;
  const proxy = await proxyToOrchestrator((req) => {
    if (!isLookup(req) || lookups++ !== 0) return undefined;
    return async (up, res) => {
      const answered = new Response(await up.arrayBuffer(), { status: up.status, headers: up.headers });
      lookedUp();
      await released;
      await proxy.passOn(answered, res);
    };
  });
  try {
    const runB = run('ciowner/twin-app', { ORCHESTRATOR_URL: proxy.url, GITHUB_SHA: b });
    await lookupAnswered;
    const runA = await run('ciowner/twin-app', { GITHUB_SHA: a });
    t.is(runA.code, 0, runA.out);
    const recA = await deploymentOf(runA.out);
    t.like(recA, { kind: 'deploy', status: 'live', renderCommitId: a });
    release();
    const resB = await runB;
    t.is(resB.code, 0, resB.out);
    t.regex(resB.out, /service_name_taken/);
    t.regex(resB.out, new RegExp(`deployment \\S+: ciowner/twin-app@main \\(${b.slice(0, 7)}\\) → twin-app \\(redeploy of ${recA.serviceId}\\)`));
    t.regex(resB.out, /live: https:\/\/twin-app/);
    t.true(lookups >= 2, 'the service list was read again');
  } finally {
    release();
    await proxy.close();
  }
  t.is((await renderServicesNamed('twin-app')).length, 1, 'one service');
  t.is((await renderDeploysOf(stack, apiKey, (await renderServicesNamed('twin-app'))[0]!.service.id)).find((d) => d.status === 'live')?.commit?.id, b, 'B is live');
});

test.serial('SERVICE_NAME naming another repository\'s service: exit 2 saying so, nothing changed on Render', async (t) => {
  addNodeRepo(stack, 'ciowner', 'other-app');
  const named = await renderServicesNamed('good-app');
  t.is(named.length, 1, 'good-app exists (the first test deployed it)');
  const writes = renderWrites();
  const before = (await deploymentsNamed('good-app')).length;
  const { code, out } = await run('ciowner/other-app', { SERVICE_NAME: 'good-app' });
  t.is(code, 2, out);
  t.regex(out, /the service name "good-app" is taken by a service of another repository or branch \(srv-\S+ deploys ciowner\/good-app@main\), not ciowner\/other-app@main/);
  t.regex(out, /set SERVICE_NAME to a name of its own/);
  t.false(out.includes(token));
  t.false(out.includes(apiKey));
  t.is(renderWrites(), writes, 'nothing written on Render');
  t.is((await deploymentsNamed('good-app')).length, before);
  t.deepEqual(await renderServicesNamed('other-app'), []);
});

test.serial('two services deployed from one push (a SERVICE_NAME each): both go live, and the next push redeploys each', async (t) => {
  // One repository, two services (an API and a worker, or one per branch pointing at the same commit):
  // both runs sent Idempotency-Key ci-<sha>, so the second was refused idempotency_key_reused (exit 2).
  addNodeRepo(stack, 'ciowner', 'mono-app');
  for (const name of ['mono-api', 'mono-worker']) {
    const res = await run('ciowner/mono-app', { SERVICE_NAME: name });
    t.is(res.code, 0, `${name}: ${res.out}`);
    t.like(await deploymentOf(res.out), { kind: 'deploy', status: 'live', request: { serviceName: name } });
  }
  const b = stack.github.push('ciowner', 'mono-app', 'main', { 'b.js': '' });
  for (const name of ['mono-api', 'mono-worker']) {
    const res = await run('ciowner/mono-app', { SERVICE_NAME: name });
    t.is(res.code, 0, `${name}: ${res.out}`);
    t.like(await deploymentOf(res.out), { kind: 'redeploy', status: 'live', renderCommitId: b, request: { serviceName: name } });
    t.is((await renderServicesNamed(name)).length, 1);
  }
});

test.serial('a SERVICE_NAME written with capitals: the next push redeploys the service it created', async (t) => {
  // Render's names are lowercase and the deploy lowercased it, but the look-up compared the name as
  // written: the next push found no "Caps-App", deployed anew and failed service_name_taken.
  addNodeRepo(stack, 'ciowner', 'capsy-app');
  const first = await run('ciowner/capsy-app', { SERVICE_NAME: 'Capsy-App' });
  t.is(first.code, 0, first.out);
  const recA = await deploymentOf(first.out);
  t.like(recA, { kind: 'deploy', status: 'live', request: { serviceName: 'capsy-app' } });
  const b = stack.github.push('ciowner', 'capsy-app', 'main', { 'package.json': JSON.stringify({ name: 'capsy-app', scripts: { start: 'node b.js' } }), 'b.js': '' });
  const second = await run('ciowner/capsy-app', { SERVICE_NAME: 'Capsy-App' });
  t.is(second.code, 0, second.out);
  t.like(await deploymentOf(second.out), { kind: 'redeploy', status: 'live', serviceId: recA.serviceId, renderCommitId: b });
  t.is((await renderServicesNamed('capsy-app')).length, 1);
});

test.serial('a key with many services: one run reads Render for its own service only, not every service\'s latest deploy', async (t) => {
  // The look-up read the whole service list, which reads each service's latest deploy (one Render GET
  // each, from the key's budget of 360 a minute): 30+ reads per CI run for a key with 30 services.
  const manyKey = `rnd_cimany${'m'.repeat(24)}`;
  const many = stack.render.addAccount({ apiKey: manyKey, workspaces: [{ name: 'many ws' }] });
  const render = createRenderClient({ baseUrl: stack.render.url, apiKey: manyKey });
  for (let i = 0; i < 30; i++) {
    await render.createService({
      type: 'web_service', name: `crowd-${i}`, ownerId: many.workspaces[0]!.id, repo: `https://github.com/ciowner/crowd-${i}`, branch: 'main', autoDeploy: 'yes',
      serviceDetails: { runtime: 'node', plan: 'starter', region: 'oregon', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'npm start' } },
    });
  }
  addNodeRepo(stack, 'ciowner', 'crowd-app');
  const first = await run('ciowner/crowd-app', { RENDER_API_KEY: manyKey });
  t.is(first.code, 0, first.out);
  const crowdApp = (await deploymentOf(first.out)).serviceId;
  stack.github.push('ciowner', 'crowd-app', 'main', { 'package.json': JSON.stringify({ name: 'crowd-app', scripts: { start: 'node b.js' } }), 'b.js': '' });
  const from = stack.render.calls.length;
  const second = await run('ciowner/crowd-app', { RENDER_API_KEY: manyKey });
  t.is(second.code, 0, second.out);
  t.like(await deploymentOf(second.out), { kind: 'redeploy', status: 'live', serviceId: crowdApp });
  const reads = stack.render.calls.slice(from).filter((c) => c.accountId === many.id && c.method === 'GET');
  const elsewhere = reads.filter((c) => c.path.startsWith('/services/') && !c.path.startsWith(`/services/${crowdApp}`));
  t.deepEqual(elsewhere.map((c) => c.path), [], 'no other service was read');
  t.log(`${reads.length} Render reads for the run (the worker's included)`);
  t.true(reads.length < 30, `${reads.length} Render reads for one run: ${reads.map((c) => c.path).join(', ')}`);
});

test.serial('a SERVICE_NAME the deploy form would refuse (a service named on Render\'s dashboard) is still found and redeployed', async (t) => {
  // The look-up by name takes the deploy's naming rule (a-z, 0-9, -); a service named legacy_app.v2 on
  // Render was found in the whole list before it, and must still be.
  addNodeRepo(stack, 'ciowner', 'legacy-app');
  const render = createRenderClient({ baseUrl: stack.render.url, apiKey });
  const svc = await render.createService({
    type: 'web_service', name: 'legacy_app.v2', ownerId: workspaceId, repo: 'https://github.com/ciowner/legacy-app', branch: 'main', autoDeploy: 'yes',
    serviceDetails: { runtime: 'node', plan: 'starter', region: 'oregon', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'npm start' } },
  });
  // CI runs for a push after the service exists: its first deploy built the head before it (as Render's does).
  stack.github.push('ciowner', 'legacy-app', 'main', { 'package.json': JSON.stringify({ name: 'legacy-app', scripts: { start: 'node index.js' } }), 'package-lock.json': '{}', 'index.js': '// v2' });
  const res = await run('ciowner/legacy-app', { SERVICE_NAME: 'legacy_app.v2' });
  t.is(res.code, 0, res.out);
  t.like(await deploymentOf(res.out), { kind: 'redeploy', status: 'live', serviceId: svc.service!.id });
});

test.serial('a connection dropped while waiting (a proxy or the orchestrator restarting) is retried: exit 0 once live', async (t) => {
  // The poll answered by no one: fetch threw, and the script died with a stack trace (exit 1) while
  // the deploy went on to go live.
  addNodeRepo(stack, 'ciowner', 'flaky-net-app');
  let dropped = 0;
  const proxy = await proxyToOrchestrator((req) => {
    if (req.method !== 'GET' || !req.url?.startsWith('/api/render/deployments/') || dropped >= 2) return undefined;
    dropped += 1;
    req.socket.destroy();
    return 'answered';
  });
  try {
    const res = await run('ciowner/flaky-net-app', { ORCHESTRATOR_URL: proxy.url });
    t.is(dropped, 2);
    t.is(res.code, 0, res.out);
    t.regex(res.out, /live: https:\/\/flaky-net-app/);
  } finally {
    await proxy.close();
  }
  // Nobody there at all: one line saying so, exit 1, not a stack trace.
  const gone = await run('ciowner/flaky-net-app', { ORCHESTRATOR_URL: proxy.url, DEPLOY_TIMEOUT_SECONDS: '0.5' });
  t.is(gone.code, 1, gone.out);
  t.regex(gone.out, /^ci-deploy: could not list your Render services \(no answer from http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED\)\n$/m);
  t.notRegex(gone.out, /^\s+at /m, 'no stack trace');
});

test.serial('a re-run of a job whose deploy failed deploys the commit again (once); a re-run after it went live deploys nothing', async (t) => {
  // The re-run's Idempotency-Key named the failed deployment, which was answered again: "Re-run jobs"
  // after fixing what failed (a flaky build, a missing variable set meanwhile) failed again for 24 hours.
  addNodeRepo(stack, 'ciowner', 'rerun-app');
  t.is((await run('ciowner/rerun-app')).code, 0);
  const b = stack.github.push('ciowner', 'rerun-app', 'main', { 'package.json': JSON.stringify({ name: 'rerun-app', scripts: { start: 'node b.js' } }), 'b.js': '' });
  stack.render.failBuilds({ serviceName: 'rerun-app' }, 'build_failed', 1);
  const failed = await run('ciowner/rerun-app');
  t.is(failed.code, 1, failed.out);
  const failedRec = await deploymentOf(failed.out);
  t.like(failedRec, { kind: 'redeploy', status: 'build_failed', commitSha: b });

  const rerun = await run('ciowner/rerun-app');
  t.is(rerun.code, 0, rerun.out);
  t.regex(rerun.out, new RegExp(`deployment ${failedRec.id} of this commit ended build_failed: deploying it again`));
  const again = await deploymentOf(rerun.out);
  t.not(again.id, failedRec.id);
  t.like(again, { kind: 'redeploy', status: 'live', serviceId: failedRec.serviceId, renderCommitId: b });

  const writes = renderWrites();
  const third = await run('ciowner/rerun-app');
  t.is(third.code, 0, third.out);
  t.is((await deploymentOf(third.out)).id, again.id, 'the live one, answered again');
  t.is(renderWrites(), writes, 'nothing written on Render');
  t.is((await deploymentsNamed('rerun-app')).length, 3);
});

test.serial('a 429 or a proxy\'s 503 on the look-up or the redeploy is waited out (Retry-After), not taken for bad input', async (t) => {
  // A rate limit answered to the look-up ended the run with exit 2, "bad input", and a proxy's 503 to
  // the redeploy with exit 1: nothing was deployed, though asking again (the key makes it safe) works.
  addNodeRepo(stack, 'ciowner', 'limited-app');
  t.is((await run('ciowner/limited-app')).code, 0);
  stack.github.push('ciowner', 'limited-app', 'main', { 'package.json': JSON.stringify({ name: 'limited-app', scripts: { start: 'node b.js' } }), 'b.js': '' });
  const refused: string[] = [];
  // A proxy in front of the orchestrator: the look-up is refused once (429, as a CDN's rate limit
  // would), and the first redeploy's answer is lost on the way back (503 after the orchestrator took it).
  const proxy = await proxyToOrchestrator((req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    if (isLookup(req) && !refused.includes('list')) {
      refused.push('list');
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
      res.end('{"error":{"code":"rate_limited","message":"slow down"}}');
      return 'answered';
    }
    if (!path.endsWith('/redeploy') || refused.includes('redeploy')) return undefined;
    refused.push('redeploy');
    // The orchestrator took the redeploy; its answer is lost on the way back.
    return async (up, out) => { await up.arrayBuffer(); out.writeHead(503, { 'content-type': 'text/html' }); out.end('<h1>upstream unavailable</h1>'); };
  });
  try {
    const res = await run('ciowner/limited-app', { ORCHESTRATOR_URL: proxy.url });
    t.deepEqual(refused, ['list', 'redeploy']);
    t.is(res.code, 0, res.out);
    t.regex(res.out, /rate_limited: slow down; trying again in 1 s/);
    t.like(await deploymentOf(res.out), { kind: 'redeploy', status: 'live' });
    t.is((await deploymentsNamed('limited-app')).length, 2, 'one redeploy, though asked twice (the same Idempotency-Key)');
  } finally {
    await proxy.close();
  }
});

/**
 * The deploy's first ask reaches a second web process (behind the same load balancer) that is held
 * after claiming its Idempotency-Key, before writing the deployment (its Redis commands stopped at the
 * record write, as a slow or paused instance would be), and the proxy in front answers the script 504
 * (its gateway timeout) meanwhile: the script asks again with the same key, and the orchestrator answers
 * 409 idempotency_in_progress until the first ask has written its deployment.
 */
async function firstDeployAskInFlight(onInProgress: (count: number) => void) {
  const slow = await startWebBehindHold(stack.config);
  slow.hold.holdAt(`${stack.config.redisPrefix}:deployment:`);
  let firstAnswer: Promise<{ http: number; id?: string }> | null = null;
  let inProgress = 0;
  const proxy = await proxyToOrchestrator((req, res) => {
    if (req.method !== 'POST' || req.url !== '/api/render/deploy') return undefined;
    if (firstAnswer) {
      return async (up, out) => {
        if (up.status === 409) {
          const answered = new Response(await up.arrayBuffer(), { status: up.status, headers: up.headers });
          if (((await answered.clone().json()) as { error?: { code?: string } }).error?.code === 'idempotency_in_progress') onInProgress(++inProgress);
          await proxy.passOn(answered, out);
        } else await proxy.passOn(up, out);
      };
    }
    const chunks: Buffer[] = [];
    firstAnswer = new Promise((resolve) => {
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length'].includes(k)).map(([k, v]) => [k, String(v)]));
        resolve(fetch(`${slow.url}${req.url}`, { method: 'POST', headers, body: Buffer.concat(chunks) })
          .then(async (up) => ({ http: up.status, id: ((await up.json()) as { id?: string }).id })));
      });
    });
    void slow.hold.held().then(() => { res.writeHead(504, { 'content-type': 'text/html' }); res.end('<h1>504 Gateway Time-out</h1>'); });
    return 'answered';
  });
  return {
    proxy, slow,
    firstAnswer: () => firstAnswer!,
    get inProgress() { return inProgress; },
    async close() { await proxy.close(); await slow.close(); },
  };
}

test.serial('a retry whose first ask is still being processed (idempotency_in_progress) waits for it and follows its deployment: exit 0, one deployment', async (t) => {
  // The script took the 409 for bad input: exit 2, "the deploy was not accepted", while the first ask
  // went on to deploy unwatched.
  addNodeRepo(stack, 'ciowner', 'inflight-app');
  const inflight = await firstDeployAskInFlight((count) => { if (count === 2) inflight.slow.hold.release(); });
  try {
    const res = await run('ciowner/inflight-app', { ORCHESTRATOR_URL: inflight.proxy.url });
    t.is(res.code, 0, res.out);
    t.is(inflight.inProgress, 2, 'told twice that the first ask was still being processed');
    t.regex(res.out, /POST \/api\/render\/deploy: a request with the same Idempotency-Key \(ci-[0-9a-f]+-inflight-app\) is still being processed; asking again in 1 s/);
    const first = await inflight.firstAnswer();
    t.is(first.http, 202);
    t.regex(res.out, new RegExp(`deployment ${first.id}: ciowner/inflight-app@main`), 'the first ask\'s deployment is the one followed');
    t.regex(res.out, /live: https:\/\/inflight-app/);
    t.is((await deploymentsNamed('inflight-app')).length, 1, 'one deployment');
    t.is((await renderServicesNamed('inflight-app')).length, 1);
  } finally {
    await inflight.close();
  }
});

test.serial('a first ask still being processed when the wait runs out: exit 1 saying so, not bad input', async (t) => {
  addNodeRepo(stack, 'ciowner', 'stuck-app');
  const inflight = await firstDeployAskInFlight(() => {});
  try {
    const started = Date.now();
    // The script's timeout runs from its start; the first ask's 504 comes once the held web process has
    // reached its record write, and each in-progress answer says to wait 1 s. At 4 s, a CI rehearsal's
    // loaded machine left room for one answer before the timeout: 10 s leaves room for the two asked for.
    const res = await run('ciowner/stuck-app', { ORCHESTRATOR_URL: inflight.proxy.url, DEPLOY_TIMEOUT_SECONDS: '10' });
    t.is(res.code, 1, res.out);
    t.true(inflight.inProgress >= 2, `asked again with backoff (${inflight.inProgress} times)`);
    // Given up at its timeout, not after the 2.5 minutes an in-progress ask is waited for otherwise.
    t.true(Date.now() - started < 60_000);
    t.regex(res.out, /ci-deploy: an earlier request with Idempotency-Key ci-[0-9a-f]+-stuck-app was still being processed after \d+ s; nothing else was asked\. Re-run the job/);
    t.deepEqual(await deploymentsNamed('stuck-app'), [], 'nothing written while held');
  } finally {
    await inflight.close();
  }
});

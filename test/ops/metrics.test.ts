import test from 'ava';
import { Writable } from 'node:stream';
import { startStack, type Stack } from '../helpers/stack.js';
import { FAST_WATCH, addNodeRepo, waitFinished } from '../helpers/pipeline.js';
import { createLogger } from '../../server/logger.js';
import { startWorker, type WorkerProcess } from '../../workers/process.js';
import { startWeb } from '../../server/web.js';
import { RENDER_DOCUMENTED_LIMITS } from '../../server/render/budget.js';
import { isInternalAddress, tokenMatches } from '../../server/metrics/access.js';
import { keyValidationOutcome } from '../../server/metrics/http.js';
import { freePort } from '../helpers/ports.js';

// GET /metrics after real traffic: one web process and one worker on a real Redis and the simulators.

let stack: Stack;
let worker: WorkerProcess;
test.before(async () => {
  // Render's deploys move only when the test advances them, so the deploy below is held on Render
  // until its status checks have met the read budget (whatever the machine's load).
  stack = await startStack({ renderOptions: { manualDeploys: true } });
  const sink = new Writable({ write(_c, _e, cb) { cb(); } });
  worker = await startWorker({
    config: stack.config, logger: createLogger({ level: 'silent', destination: sink }), watch: FAST_WATCH, metricsPushMs: 100,
    workerOptions: { concurrency: 5, lockDurationMs: 5_000, stalledIntervalMs: 1_000 },
    // One read per 5 s: a deploy whose status is checked every ≤ 200 ms must wait on the shared budget.
    renderLimits: { ...RENDER_DOCUMENTED_LIMITS, read: { limit: 1, windowMs: 5_000 } },
  });
});
test.after.always(async () => { await worker?.close(5_000); await stack?.close(); });

/** One sample's value: the line `name{labels…} value` whose labels include every given pair. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return null;
}

test('/metrics exposes request, key, deploy, queue, Render, budget and security series with real values', async (t) => {
  t.timeout(40_000);
  // A user id no process id, port or hex digits of a worker's instance label (host-pid-random) can equal: the
  // check below looks for it as a whole number in every label, and a worker's pid once matched a small id.
  const apiKey = `rnd_metered${'k'.repeat(24)}`;
  stack.render.addAccount({ apiKey, workspaces: [{ name: 'metered workspace' }] });
  const agent = stack.agent();
  await stack.signIn(agent, 'metered', { id: 3_000_000_007 });
  const setup = await agent.post('/api/render/setup', { api_key: apiKey });
  t.is(setup.status, 200, setup.text);
  const ownerId: string = setup.json.owners[0].id;
  const bad = await agent.post('/api/render/setup', { api_key: 'rnd_not_a_real_key_at_all_000' });
  t.is(bad.status, 400);
  addNodeRepo(stack, 'metered', 'zq-meter-app');
  const res = await agent.post('/api/render/deploy', { github_repo: 'metered/zq-meter-app', project_name: 'zq-meter-app' });
  t.is(res.status, 202);
  // Held on Render until the worker's checks waited on the read budget (/metrics shows it), then finished.
  let watched: { deployId?: string | null } = {};
  for (let i = 0; i < 600 && !watched.deployId; i++) {
    watched = (await agent.get(`/api/render/deployments/${res.json.id}`)).json;
    if (!watched.deployId) await new Promise((r) => setTimeout(r, 100));
  }
  t.truthy(watched.deployId, 'the worker created the service and its deploy');
  let waits: number | null = null;
  for (let i = 0; i < 600 && !waits; i++) {
    waits = sample(await (await fetch(`${stack.url}/metrics`)).text(), 'orchestrator_render_budget_waits_total', { bucket: 'read' });
    if (!waits) await new Promise((r) => setTimeout(r, 100));
  }
  for (let phase = 0; phase < 4; phase++) stack.render.advanceDeploy(watched.deployId!);
  const done = await waitFinished(agent, res.json.id, 60_000);
  t.is(done.status, 'live');

  // The worker pushes its snapshot every 100 ms; wait for one taken after the deploy finished, and
  // for BullMQ to have moved the job out of 'active' (the record turns live inside the job, a moment
  // before the job itself completes).
  let text = '';
  for (let i = 0; i < 50; i++) {
    const m = await fetch(`${stack.url}/metrics`);
    t.is(m.status, 200);
    text = await m.text();
    if (sample(text, 'orchestrator_deploys_finished_total', { outcome: 'live' }) && sample(text, 'orchestrator_queue_jobs', { state: 'active' }) === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }

  // HTTP: route templates, never raw paths with ids.
  t.true((sample(text, 'orchestrator_http_request_duration_seconds_count', { method: 'GET', route: '/api/render/deployments/:id', status_class: '2xx' }) ?? 0) >= 1);
  t.true((sample(text, 'orchestrator_http_request_duration_seconds_count', { method: 'POST', route: '/api/render/deploy', status_class: '2xx' }) ?? 0) >= 1);
  // Key checks by outcome, and the security event the invalid one raised.
  t.is(sample(text, 'orchestrator_render_key_validations_total', { outcome: 'valid' }), 1);
  t.is(sample(text, 'orchestrator_render_key_validations_total', { outcome: 'invalid' }), 1);
  t.is(sample(text, 'orchestrator_security_events_total', { kind: 'invalid_render_key' }), 1);
  // Deploys (from the worker's snapshot, labelled with the worker).
  t.is(sample(text, 'orchestrator_deploys_finished_total', { outcome: 'live', worker: worker.instance }), 1);
  t.is(sample(text, 'orchestrator_deploy_duration_seconds_count', { outcome: 'live' }), 1);
  t.true((sample(text, 'orchestrator_deploy_duration_seconds_sum', { outcome: 'live' }) ?? 0) > 0);
  t.is(sample(text, 'orchestrator_queue_wait_seconds_count'), 1, 'one job, picked up once for the first time');
  t.is(sample(text, 'orchestrator_workers_reporting'), 1);
  // Queue depth by state, read at scrape.
  t.is(sample(text, 'orchestrator_queue_jobs', { state: 'active' }), 0);
  t.not(sample(text, 'orchestrator_queue_jobs', { state: 'completed' }), null);
  // Render calls by templated route and status: the web's key checks and the worker's deploy calls.
  t.is(sample(text, 'orchestrator_render_api_requests_total', { method: 'GET', route: '/owners', status: '200' }), 1);
  t.is(sample(text, 'orchestrator_render_api_requests_total', { method: 'GET', route: '/owners', status: '401' }), 1);
  t.is(sample(text, 'orchestrator_render_api_requests_total', { method: 'POST', route: '/services', status: '201', worker: worker.instance }), 1);
  t.true((sample(text, 'orchestrator_render_api_requests_total', { method: 'GET', route: '/services/{serviceId}/deploys/{deployId}' }) ?? 0) >= 1);
  // The tight read budget made the worker wait instead of drawing a 429.
  t.true((sample(text, 'orchestrator_render_budget_waits_total', { bucket: 'read' }) ?? 0) >= 1);
  t.true((sample(text, 'orchestrator_render_budget_wait_seconds_total', { bucket: 'read' }) ?? 0) > 0);
  t.true(text.includes('process_cpu_user_seconds_total'), 'default process metrics of the web process');

  // Labels never carry users, keys, names or resource ids.
  const session = await agent.get('/api/session');
  for (const secret of [apiKey, ownerId, 'metered', 'zq-meter-app', res.json.id, done.serviceId, done.deployId]) {
    t.false(text.includes(secret), `metrics mention ${secret}`);
  }
  // The GitHub user id is a number, which a sample's value can equal by chance (it did: 1772): it must
  // not be in any label set. Compared as a whole number within each label value: as a substring, an id
  // of 25 matched the bucket label le="0.025" (it did, under load, when ids ran that high).
  const labelSets = text.split('\n').filter((l) => !l.startsWith('#')).map((l) => l.slice(l.indexOf('{') + 1, l.lastIndexOf('}')));
  const numbersIn = (labels: string) => labels.split(/[^0-9.]+/).filter(Boolean);
  const userId = String(session.json.user.id);
  t.false(labelSets.some((labels) => numbersIn(labels).includes(userId)), 'metrics labels mention the user id');
});

test('/metrics without METRICS_TOKEN: direct loopback only; anything through a proxy is a 404', async (t) => {
  const direct = await fetch(`${stack.url}/metrics`);
  t.is(direct.status, 200);
  t.regex(direct.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const proxied = await fetch(`${stack.url}/metrics`, { headers: { 'x-forwarded-for': '203.0.113.7' } });
  t.is(proxied.status, 404);
  const forwarded = await fetch(`${stack.url}/metrics`, { headers: { forwarded: 'for=10.0.0.1' } });
  t.is(forwarded.status, 404);
});

test('/metrics with METRICS_TOKEN: only the right bearer token, from anywhere', async (t) => {
  const token = 'metrics-token-0123456789abcdef';
  const port = await freePort();
  const config = { ...stack.config, port, metricsToken: token };
  const web = await startWeb({ config, logger: createLogger({ level: 'silent' }), host: '127.0.0.1' });
  t.teardown(() => web.close(2_000));
  t.is((await fetch(`${web.url}/metrics`)).status, 404, 'loopback alone is not enough once a token is set');
  t.is((await fetch(`${web.url}/metrics`, { headers: { authorization: `Bearer ${token}x` } })).status, 404);
  t.is((await fetch(`${web.url}/metrics`, { headers: { authorization: token } })).status, 404);
  const ok = await fetch(`${web.url}/metrics`, { headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': '203.0.113.7' } });
  t.is(ok.status, 200);
  t.true((await ok.text()).includes('orchestrator_http_request_duration_seconds'));
});

test('internal addresses and token comparison', (t) => {
  for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.9', '172.31.255.1', '192.168.1.1', '100.64.0.1', '::1', '::ffff:10.0.0.5', 'fd12:3456::1', 'fe80::1']) t.true(isInternalAddress(a), a);
  for (const a of ['8.8.8.8', '172.32.0.1', '192.169.0.1', '203.0.113.7', '::ffff:8.8.8.8', '2001:db8::1', '', undefined, 'not-an-ip']) t.false(isInternalAddress(a), String(a));
  t.true(tokenMatches('abc', 'abc'));
  t.false(tokenMatches('abc', 'abd'));
  t.false(tokenMatches('ab', 'abc'));
});

test('key validation outcome from the setup response', (t) => {
  t.is(keyValidationOutcome(200, {}), 'valid');
  t.is(keyValidationOutcome(400, { error: { code: 'render_key_invalid' } }), 'invalid');
  t.is(keyValidationOutcome(503, { error: { code: 'render_unavailable' } }), 'unavailable');
  t.is(keyValidationOutcome(429, { error: { code: 'render_rate_limited' } }), 'unavailable');
  t.is(keyValidationOutcome(400, { error: { code: 'validation_failed' } }), null, 'never reached Render');
  t.is(keyValidationOutcome(403, { error: { code: 'csrf_failed' } }), null);
});

import test from 'ava';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { loadConfig, type AppConfig } from '../../server/config/env.js';
import { createLogger } from '../../server/logger.js';
import { startWeb, type WebProcess } from '../../server/web.js';
import { startWorker, type WorkerProcess } from '../../workers/process.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { envFor } from '../helpers/processes.js';
import { freePort } from '../helpers/ports.js';
import { startBalancer, type Balancer } from '../helpers/balancer.js';
import { addNodeRepo, FAST_WATCH, signedInWithKey, waitFinished, renderApi } from '../helpers/pipeline.js';
import { Agent } from '../helpers/agent.js';

// A whole SECRET_KEY rotation as SECURITY.md prescribes, phase by phase, with a web and a worker of each
// configuration behind one address: A beside A+B, A+B beside B+A (the overlap, where requests on the two kinds
// of process move sessions back and forth), B+A alone, B, then B→C the same way. Cookie and bearer sessions,
// deploys with env values, redeploys and rollbacks of services deployed under A, env-var and secret-file
// writes, the Sentinel watch and both audit chains must come through every phase (a rotation probe; its first
// run found a live session read as gone during the overlap: store.ts loadByRef).
const KEY_A = randomBytes(32).toString('hex');
const KEY_B = randomBytes(32).toString('hex');
const KEY_C = randomBytes(32).toString('hex');

let stack: Stack;
let balancer: Balancer | null = null;
let webs: WebProcess[] = [];
let workers: WorkerProcess[] = [];
const webLogs: string[] = [];
const sink = () => new Writable({ write(c, _e, cb) { webLogs.push(String(c)); cb(); } });
const logger = () => createLogger({ level: 'info', destination: sink() });

interface U { agent: Agent; apiKey: string; login: string; serviceId?: string; deployId?: string; firstId?: string }
const u: Record<string, U> = {};
let bearer: Agent;

const cfg = (secrets: Record<string, string>, port?: number): AppConfig => loadConfig(envFor(stack.config, { ...secrets, ...(port ? { PORT: String(port) } : {}) }));

async function phase(configs: Array<Record<string, string>>) {
  await balancer?.close();
  for (const w of webs) await w.close();
  for (const w of workers) await w.close(5_000);
  webs = []; workers = [];
  for (const secrets of configs) {
    webs.push(await startWeb({ config: cfg(secrets, await freePort()), logger: logger(), host: '127.0.0.1', appOptions: { sentinel: stack.slackAlerts } }));
    const worker = await startWorker({ config: cfg(secrets), logger: logger(), watch: FAST_WATCH, sentinel: { alerts: stack.slackAlerts },
      workerOptions: { concurrency: 5, lockDurationMs: 5_000, stalledIntervalMs: 1_000 }, rotationSweep: { everyMs: 500 } });
    workers.push(worker);
  }
  await Promise.all(workers.map((w) => w.rotationSweeps.first));
  balancer = await startBalancer(stack.config.port, webs.map((w) => w.url));
}

test.before(async () => {
  stack = await startStack({ env: { SECRET_KEY: KEY_A } });
  await stack.web.close();
  await phase([{ SECRET_KEY: KEY_A }]);
  for (const login of ['rot1', 'rot2']) {
    const s = await signedInWithKey(stack, login);
    u[login] = { ...s, login };
    addNodeRepo(stack, login, 'app');
  }
  // A deploy under A with env values; a Sentinel watch with a Slack webhook.
  const { agent } = u.rot1!;
  const res = await agent.post('/api/render/deploy', { github_repo: 'rot1/app', project_name: 'rot1-app', env_vars: [{ key: 'DB_PASSWORD', value: 'pw-under-a-0001' }] });
  if (res.status !== 202) throw new Error(res.text);
  const done = await waitFinished(agent, res.json.id);
  if (done.status !== 'live') throw new Error(JSON.stringify(done));
  u.rot1!.serviceId = done.serviceId; u.rot1!.deployId = done.deployId; u.rot1!.firstId = done.id;
  const on = await agent.request('PUT', '/api/sentinel', { json: { enabled: true, slackWebhookUrl: 'https://hooks.slack.com/services/T000/B000/probeRotation0001' } });
  if (on.status !== 200) throw new Error(on.text);
  // A bearer token with its key.
  stack.github.addUser({ id: 97_000, login: 'rottoken' });
  const token = stack.github.issueToken('rottoken');
  const tokenKey = `rnd_rottoken${'k'.repeat(24)}`;
  stack.render.addAccount({ apiKey: tokenKey, workspaces: [{ name: 'rottoken ws' }] });
  addNodeRepo(stack, 'rottoken', 'app');
  bearer = new Agent(stack.url, { authorization: `Bearer ${token}` });
  const setup = await bearer.post('/api/render/setup', { api_key: tokenKey });
  if (setup.status !== 200) throw new Error(setup.text);
});

test.after.always(async () => {
  (await import('node:fs')).writeFileSync('/tmp/probe-rotation-overlap.log', webLogs.join(''));
  await balancer?.close();
  for (const w of webs) await w.close();
  for (const w of workers) await w.close(5_000);
  await stack?.close();
});

const fiveHundreds = () => webLogs.filter((l) => /"status":5\d\d|"level":50/.test(l));

async function envOf(apiKey: string, serviceId: string): Promise<Record<string, string>> {
  const list = await renderApi(stack, apiKey, 'GET', `/services/${serviceId}/env-vars`) as Array<{ envVar: { key: string; value: string } }>;
  return Object.fromEntries(list.map((e) => [e.envVar.key, e.envVar.value]));
}

async function usesOnBoth(t: import('ava').ExecutionContext, label: string) {
  for (const [login, user] of Object.entries(u)) {
    for (let i = 0; i < 4; i++) {
      const s = await user.agent.get('/api/session');
      t.is(s.status, 200, `${label}: ${login} session on process ${balancer!.served.at(-1)}`);
      const st = await user.agent.get('/api/render/status');
      t.true(st.json.verified, `${label}: ${login} key on process ${balancer!.served.at(-1)}`);
    }
  }
  for (let i = 0; i < 4; i++) {
    const st = await bearer.get('/api/render/status');
    t.is(st.status, 200, `${label}: bearer on ${balancer!.served.at(-1)}: ${st.text}`);
    t.true(st.json.configured);
  }
}

async function auditOk(t: import('ava').ExecutionContext, label: string) {
  for (const [i, web] of webs.entries()) {
    for (const user of Object.values(u)) {
      const id = (await user.agent.get('/api/session')).json.user.id;
      t.deepEqual((await web.deps.audit.verifyChain({ userId: id })).valid, true, `${label}: user chain on web ${i}`);
    }
    t.deepEqual((await web.deps.audit.verifyChain('global')).valid, true, `${label}: global chain on web ${i}`);
  }
}

async function deployAndRedeploy(t: import('ava').ExecutionContext, label: string) {
  const { agent, apiKey } = u.rot1!;
  // Env var set through the settings on one process, read (reveal) on the other.
  const secret = `pw-${label}-${randomBytes(4).toString('hex')}`;
  const put = await agent.request('PUT', `/api/render/services/${u.rot1!.serviceId}/env-vars/DB_PASSWORD`, { json: { value: secret } });
  t.is(put.status, 200, `${label}: env put ${put.text}`);
  const file = await agent.request('PUT', `/api/render/services/${u.rot1!.serviceId}/secret-files/creds.json`, { json: { content: `{"k":"${secret}"}` } });
  t.is(file.status, 200, `${label}: secret file ${file.text}`);
  for (let i = 0; i < 2; i++) {
    const reveal = await agent.get(`/api/render/services/${u.rot1!.serviceId}/secret-files/creds.json`);
    t.is(reveal.status, 200, `${label}: reveal on ${balancer!.served.at(-1)} ${reveal.text}`);
  }
  // Deploys, each through a process in turn, with env values.
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) {
    const login = i % 2 ? 'rot2' : 'rot1';
    const res = await u[login]!.agent.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: `${login}-${label}-${i}`, env_vars: [{ key: 'TOKEN', value: `tok-${label}-${i}` }] });
    t.is(res.status, 202, `${label}: deploy ${i} ${res.text}`);
    ids.push(`${login}:${res.json.id}`);
  }
  const tb = await bearer.post('/api/render/deploy', { github_repo: 'rottoken/app', project_name: `rottoken-${label}` });
  t.is(tb.status, 202, `${label}: bearer deploy ${tb.text}`);
  for (const [i, x] of ids.entries()) {
    const [login, id] = x.split(':') as [string, string];
    const done = await waitFinished(u[login]!.agent, id, 40_000);
    t.is(done.status, 'live', `${label}: deploy ${i} ${JSON.stringify(done.failure)}`);
    if (done.serviceId) t.is((await envOf(u[login]!.apiKey, done.serviceId)).TOKEN, `tok-${label}-${i}`, `${label}: env value reached Render`);
  }
  const bdone = await waitFinished(bearer, tb.json.id, 40_000);
  t.is(bdone.status, 'live', `${label}: bearer deploy ${JSON.stringify(bdone.failure)}`);
  // Redeploy and rollback of the service deployed under A.
  const re = await agent.post(`/api/render/services/${u.rot1!.serviceId}/redeploy`);
  t.is(re.status, 202, `${label}: redeploy ${re.text}`);
  t.is((await waitFinished(agent, re.json.id, 40_000)).status, 'live', `${label}: redeploy live`);
  const rb = await agent.post(`/api/render/services/${u.rot1!.serviceId}/rollback`, { deploy_id: u.rot1!.deployId });
  t.is(rb.status, 202, `${label}: rollback ${rb.text}`);
  const rbd = await waitFinished(agent, rb.json.id, 40_000);
  t.is(rbd.status, 'live', `${label}: rollback ${JSON.stringify(rbd.failure)}`);
  t.is((await envOf(apiKey, u.rot1!.serviceId!)).DB_PASSWORD, secret);
  // Old records (made under A) read on both.
  for (let i = 0; i < 2; i++) {
    const old = await agent.get(`/api/render/deployments/${u.rot1!.firstId}`);
    t.is(old.status, 200, `${label}: old record on ${balancer!.served.at(-1)}`);
    t.true(['live', 'deactivated'].includes(old.json.status), old.json.status);
    const list = await agent.get('/api/render/my-deployments');
    t.is(list.status, 200);
    const logs = await agent.get(`/api/render/deployments/${u.rot1!.firstId}/logs`);
    t.is(logs.status, 200, `${label}: logs ${logs.text.slice(0, 200)}`);
  }
  // Sentinel still on, with its webhook, on both.
  for (let i = 0; i < 2; i++) {
    const view = await agent.get('/api/sentinel');
    t.is(view.status, 200, view.text);
    t.like(view.json, { enabled: true, watchingThisSession: true }, `${label}: sentinel on ${balancer!.served.at(-1)}`);
    t.is(view.json.slack?.configured, true, `${label}: webhook still there`);
  }
  const audit = await agent.get('/api/audit?limit=50');
  t.is(audit.status, 200);
}

test.serial('step 1 (A+B beside A), step 2 overlap (A+B beside B+A), step 3 (B), then B→C: nothing lost', async (t) => {
  t.timeout(240_000);
  await phase([{ SECRET_KEY: KEY_A }, { SECRET_KEY: KEY_A, SECRET_KEY_PREVIOUS: KEY_B }]);
  await usesOnBoth(t, 'step1');
  await phase([{ SECRET_KEY: KEY_A, SECRET_KEY_PREVIOUS: KEY_B }, { SECRET_KEY: KEY_B, SECRET_KEY_PREVIOUS: KEY_A }]);
  await usesOnBoth(t, 'step2');
  await deployAndRedeploy(t, 'step2');
  await auditOk(t, 'step2');
  // Step 2 rolled out: B+A alone for a while (the sweeps run), then step 3.
  await phase([{ SECRET_KEY: KEY_B, SECRET_KEY_PREVIOUS: KEY_A }]);
  await usesOnBoth(t, 'step2-done');
  await phase([{ SECRET_KEY: KEY_B, SECRET_KEY_PREVIOUS: KEY_A }, { SECRET_KEY: KEY_B }]);
  await usesOnBoth(t, 'step3-rolling');
  await phase([{ SECRET_KEY: KEY_B }]);
  await usesOnBoth(t, 'step3');
  await deployAndRedeploy(t, 'step3');
  await auditOk(t, 'step3');
  // B → C
  await phase([{ SECRET_KEY: KEY_B, SECRET_KEY_PREVIOUS: KEY_C }]);
  await phase([{ SECRET_KEY: KEY_B, SECRET_KEY_PREVIOUS: KEY_C }, { SECRET_KEY: KEY_C, SECRET_KEY_PREVIOUS: KEY_B }]);
  await usesOnBoth(t, 'c-step2');
  await deployAndRedeploy(t, 'c-step2');
  await auditOk(t, 'c-step2');
  await phase([{ SECRET_KEY: KEY_C, SECRET_KEY_PREVIOUS: KEY_B }]);
  await usesOnBoth(t, 'c-step2-done');
  await phase([{ SECRET_KEY: KEY_C }]);
  await usesOnBoth(t, 'c-step3');
  await deployAndRedeploy(t, 'c-step3');
  await auditOk(t, 'c-step3');
  t.deepEqual(fiveHundreds().slice(0, 5), []);
});

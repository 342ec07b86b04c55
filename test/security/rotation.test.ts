import test from 'ava';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { loadConfig, type AppConfig } from '../../server/config/env.js';
import { createLogger } from '../../server/logger.js';
import { startWeb, type WebProcess } from '../../server/web.js';
import { startWorker } from '../../workers/process.js';
import { createKeyring, isStale } from '../../server/crypto/keyring.js';
import { createSessionStore } from '../../server/sessions/store.js';
import { openRenderKey, setRenderKey, sealGithubToken } from '../../server/sessions/credentials.js';
import { systemClock } from '../../server/clock.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { envFor } from '../helpers/processes.js';
import { addNodeRepo, FAST_WATCH, signedInWithKey, waitFinished } from '../helpers/pipeline.js';
import { Agent } from '../helpers/agent.js';

const KEY_A = randomBytes(32).toString('hex');
const KEY_B = randomBytes(32).toString('hex');

let stack: Stack;
test.before(async () => { stack = await startStack({ env: { SECRET_KEY: KEY_A } }); });
test.after.always(async () => { await stack?.close(); });

const quiet = () => createLogger({ level: 'silent', destination: new Writable({ write(_c, _e, cb) { cb(); } }) });

/** The stack's configuration with other secrets (same port, Redis and simulators). */
function configWith(secrets: Record<string, string>): AppConfig {
  return loadConfig(envFor(stack.config, secrets));
}

/** Restart the web process on the same port with another configuration. */
async function restartWeb(current: WebProcess, config: AppConfig): Promise<WebProcess> {
  await current.close();
  return startWeb({ config, logger: quiet(), host: '127.0.0.1' });
}

/**
 * A rotation's step 2: the web on B with A as the previous key, the user's next request there (`touch`),
 * then a worker's sweep at its start, run through.
 */
async function stepTwoWithSweep(web: WebProcess, touch: () => Promise<void>): Promise<WebProcess> {
  const config = configWith({ SECRET_KEY: KEY_B, SECRET_KEY_PREVIOUS: KEY_A });
  const next = await restartWeb(web, config);
  await touch();
  const worker = await startWorker({ config, logger: quiet(), watch: FAST_WATCH });
  await worker.rotationSweeps.first;
  await worker.close(5_000);
  return next;
}

async function deployOnce(config: AppConfig, agent: Agent, login: string, name: string) {
  addNodeRepo(stack, login, name);
  const worker = await startWorker({ config, logger: quiet(), watch: FAST_WATCH, workerOptions: { concurrency: 5, lockDurationMs: 5_000, stalledIntervalMs: 1_000 } });
  try {
    const res = await agent.post('/api/render/deploy', { github_repo: `${login}/${name}`, project_name: name });
    if (res.status !== 202) throw new Error(`deploy: ${res.status} ${res.text}`);
    return await waitFinished(agent, res.json.id);
  } finally {
    await worker.close(5_000);
  }
}

test.serial('SECRET_KEY rotation: sessions and keys survive A → B+A → B; untouched old sessions end', async (t) => {
  t.timeout(90_000);
  // Under key A: one user who keeps using the app, one who signs in and then goes away.
  const { agent } = await signedInWithKey(stack, 'rotor');
  const { agent: idle } = await signedInWithKey(stack, 'sleeper');
  const originalCookies = new Map(agent.jar);

  // Restart with B, keeping A as the previous key.
  let web = await restartWeb(stack.web, configWith({ SECRET_KEY: KEY_B, SECRET_KEY_PREVIOUS: KEY_A }));
  try {
    const session = await agent.get('/api/session');
    t.is(session.status, 200, 'the A-signed cookie still opens the session');
    t.is(session.json.user.login, 'rotor');
    const status = await agent.get('/api/render/status');
    t.true(status.json.verified, 'the Render key is still there and verified');
    const overlap = await deployOnce(configWith({ SECRET_KEY: KEY_B, SECRET_KEY_PREVIOUS: KEY_A }), agent, 'rotor', 'during-overlap');
    t.is(overlap.status, 'live', `a deploy reads the key during the overlap: ${JSON.stringify(overlap.failure)}`);

    // Restart with B only.
    web = await restartWeb(web, configWith({ SECRET_KEY: KEY_B }));
    const after = await agent.get('/api/session');
    t.is(after.status, 200, 'a session used during the overlap rolled over to B');
    t.true((await agent.get('/api/render/status')).json.verified);
    const late = await deployOnce(configWith({ SECRET_KEY: KEY_B }), agent, 'rotor', 'after-rotation');
    t.is(late.status, 'live', `credentials were re-sealed under B: ${JSON.stringify(late.failure)}`);

    t.is((await idle.get('/api/session')).status, 401, 'a session nobody used during the overlap is gone');
    const replay = new Agent(stack.url);
    for (const [k, v] of originalCookies) replay.jar.set(k, v);
    t.is((await replay.get('/api/session')).status, 401, 'the original A-signed cookie no longer works');
  } finally {
    await web.close();
  }
});

test.serial('store: a moved session is still found by its old ref, and its credentials are re-sealed with the current key', async (t) => {
  const a = createKeyring(Buffer.from(KEY_A, 'hex'));
  const ba = createKeyring(Buffer.from(KEY_B, 'hex'), Buffer.from(KEY_A, 'hex'));
  const b = createKeyring(Buffer.from(KEY_B, 'hex'));
  const common = { redis: stack.redis.client, clock: systemClock, prefix: `${stack.redis.prefix}x`, idleMs: 60_000, absoluteMs: 3_600_000 };
  const storeA = createSessionStore({ ...common, keyring: a });
  const storeBA = createSessionStore({ ...common, keyring: ba });
  const storeB = createSessionStore({ ...common, keyring: b });

  const sid = randomBytes(32).toString('base64url');
  const now = Date.now();
  const user = { id: 4242, login: 'mover', name: null, avatarUrl: '' };
  const sess = { createdAt: now, lastSeenAt: now, user, githubTokenSealed: sealGithubToken(user.id, 'gho_token', a) } as Parameters<typeof storeA.create>[1];
  setRenderKey(sess as typeof sess & { user: typeof user }, 'rnd_moverkey0123456789', [{ id: 'tea-1', name: 'w', type: 'user' }], now, a);
  const fingerprintA = sess.render!.keyFingerprint;
  await storeA.create(sid, sess);
  const oldRef = storeA.refOf(sid);

  const loaded = await storeBA.get(sid);
  t.truthy(loaded, 'found through the previous key and moved');
  t.false(isStale(loaded!.render!.apiKeySealed, ba), 'Render key re-sealed with B');
  t.false(isStale(loaded!.githubTokenSealed!, ba), 'GitHub token re-sealed with B');
  t.is(loaded!.render!.keyFingerprint, fingerprintA, 'fingerprint kept: jobs and the Render budget refer to it');

  // A deploy queued before the move carries the old ref: the worker must still find the session.
  const viaOldRef = await storeBA.loadByRef(oldRef);
  t.is(viaOldRef?.user?.id, 4242);

  // Once A is retired the moved session still opens its credentials.
  const underB = await storeB.get(sid);
  t.is(openRenderKey(underB!, b), 'rnd_moverkey0123456789');
});

// Deploy records name the session by the ref they were asked under; a rotation moves the session to
// the new key's ref (leaving a pointer for the worker). Sign-out and a key change stop "that session's"
// deploys at once, so they must find those asked under its ref before the move too.
test.serial('a deploy queued before a rotation stops at once when its session signs out or changes its key after it', async (t) => {
  let web = await startWeb({ config: configWith({ SECRET_KEY: KEY_A }), logger: quiet(), host: '127.0.0.1' });
  try {
    const queued: Array<{ agent: Agent; id: string; action: string }> = [];
    for (const action of ['sign-out', 'key change']) {
      const login = `rotation-${action === 'sign-out' ? 'out' : 'rekey'}`;
      const { agent } = await signedInWithKey(stack, login);
      addNodeRepo(stack, login, 'app');
      const res = await agent.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: login });
      t.is(res.status, 202);
      queued.push({ agent, id: res.json.id, action }); // no worker runs: it stays queued
    }
    web = await restartWeb(web, configWith({ SECRET_KEY: KEY_B, SECRET_KEY_PREVIOUS: KEY_A }));
    for (const { agent, id, action } of queued) {
      t.is((await agent.get('/api/session')).status, 200, 'the session moved to the new key\'s ref');
      if (action === 'sign-out') t.is((await agent.post('/api/auth/logout')).status, 200);
      else {
        const apiKey = 'rnd_rotationrekeyother0123456789';
        stack.render.addAccount({ apiKey, workspaces: [{ name: 'another workspace' }] });
        t.is((await agent.post('/api/render/setup', { api_key: apiKey })).status, 200);
      }
      t.is((await web.deps.deployments.get(id))?.status, 'credentials_revoked', `stopped by the ${action}`);
    }
  } finally {
    await web.close();
  }
});

// A value replaced on the settings page is kept sealed for log redaction (retired-secrets:<service>,
// 30 days): sealed with A, it must be re-sealed with B before A is removed, or the old password the
// running deploy still prints shows in clear in its logs from then on. So must the values a log read saw
// (secrets-seen:<service>): one changed on Render's Dashboard after A is gone is retired only if the view
// that held it still opens.
test.serial('a secret replaced through the settings, or seen by a log read, before a rotation is still redacted from the logs once SECRET_KEY_PREVIOUS is removed', async (t) => {
  t.timeout(90_000);
  const OLD = 'retired-before-rotation-3e9a17c05b';
  const SEEN = 'seen-before-rotation-token-71c2e0';
  let web = await restartWeb(stack.web, configWith({ SECRET_KEY: KEY_A })); // the stack's own, if an earlier test has not closed it
  try {
    const { agent, apiKey } = await signedInWithKey(stack, 'retiree');
    addNodeRepo(stack, 'retiree', 'app');
    const workerA = await startWorker({ config: configWith({ SECRET_KEY: KEY_A }), logger: quiet(), watch: FAST_WATCH, workerOptions: { concurrency: 5, lockDurationMs: 5_000, stalledIntervalMs: 1_000 } });
    let done;
    try {
      const res = await agent.post('/api/render/deploy', { github_repo: 'retiree/app', project_name: 'retiree-app', env_vars: [{ key: 'DB_PASSWORD', value: OLD }, { key: 'API_TOKEN', value: SEEN }] });
      t.is(res.status, 202, res.text);
      done = await waitFinished(agent, res.json.id);
    } finally {
      await workerA.close(5_000);
    }
    t.is(done.status, 'live');
    const serviceId = done.serviceId as string;
    t.is((await agent.request('PUT', `/api/render/services/${serviceId}/env-vars/DB_PASSWORD`, { json: { value: 'new-password-after-2c81' } })).status, 200);
    t.is((await agent.get(`/api/render/deployments/${done.id as string}/logs`)).status, 200, 'the values seen, sealed with A');

    // Step 2: B with A as the previous key; the user goes on using the app and a worker runs its sweep.
    web = await stepTwoWithSweep(web, async () => { t.is((await agent.get('/api/session')).status, 200); });

    // Step 3: B only. The running deploy still has the old value and prints it.
    web = await restartWeb(web, configWith({ SECRET_KEY: KEY_B }));
    // Rotated on Render's Dashboard, not through the app.
    const outside = await fetch(`${stack.render.url}/services/${serviceId}/env-vars/API_TOKEN`, {
      method: 'PUT', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ value: 'new-token-after-9d04' }),
    });
    t.is(outside.status, 200);
    stack.render.appendLog(serviceId, `connecting with ${OLD}`, { type: 'app' });
    stack.render.appendLog(serviceId, `token ${SEEN}`, { type: 'app' });
    for (const path of [`/api/render/deployments/${done.id as string}/logs`, `/api/render/deployments/${done.id as string}/logs.txt`]) {
      const page = await agent.get(path);
      t.is(page.status, 200, page.text);
      t.true(page.text.includes('connecting with [redacted]'), page.text.slice(-400));
      t.true(page.text.includes('token [redacted]'), page.text.slice(-400));
      t.false(page.text.includes(OLD));
      t.false(page.text.includes(SEEN));
    }
  } finally {
    await web.close();
  }
});

// A Sentinel watch's settings (and its Slack webhook inside them) are sealed with SECRET_KEY and kept
// for the session's lifetime: sealed with A, they must be sealed again with B before A is removed, or
// the watch reads as off from then on — no more rounds, no more alerts, and nobody told.
test.serial('a Sentinel watch turned on before a rotation, with its Slack webhook, is still on once SECRET_KEY_PREVIOUS is removed', async (t) => {
  t.timeout(90_000);
  let web = await restartWeb(stack.web, configWith({ SECRET_KEY: KEY_A })); // the stack's own, if an earlier test has not closed it
  try {
    const { agent } = await signedInWithKey(stack, 'rotation-watcher');
    const on = await agent.request('PUT', '/api/sentinel', { json: { enabled: true, slackWebhookUrl: 'https://hooks.slack.com/services/T000/B000/rotationwatch0000' } });
    t.is(on.status, 200, on.text);
    t.true(on.json.enabled);

    // Step 2: B with A as the previous key; a worker runs its sweep.
    web = await stepTwoWithSweep(web, async () => { t.is((await agent.get('/api/session')).status, 200); });
    // A save while the session has both names (the watch knows it by A's): the same session, so its audit
    // entry names the change made, not a move of the watch to another session's key.
    const saved = await agent.request('PUT', '/api/sentinel', { json: { intervalSeconds: 120 } });
    t.is(saved.status, 200, saved.text);
    // The newest entry only: the ones written under A alone are lost when an earlier test of this file left the
    // global chain's head signed with B (a process without B cannot append, SECURITY.md "Rotating SECRET_KEY").
    const trail = (await agent.get('/api/audit?limit=1')).json.entries as Array<{ action: string; detail: { changes?: string[] } }>;
    t.deepEqual(trail.map((e) => [e.action, e.detail.changes]), [['sentinel_settings', ['interval_changed']]]);

    // Step 3: B only.
    web = await restartWeb(web, configWith({ SECRET_KEY: KEY_B }));
    const view = await agent.get('/api/sentinel');
    t.is(view.status, 200, view.text);
    t.true(view.json.enabled, 'the watch is still on');
    t.true(view.json.watchingThisSession, 'and still this session\'s watch (the session moved to B\'s name; the watch names it by A\'s)');
    t.deepEqual(view.json.slack, { configured: true, hint: '…0000', deployResults: false });
  } finally {
    await web.close();
  }
});

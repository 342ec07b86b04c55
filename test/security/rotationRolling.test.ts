import test from 'ava';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { loadConfig } from '../../server/config/env.js';
import { createLogger } from '../../server/logger.js';
import type { WebProcess } from '../../server/web.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { envFor } from '../helpers/processes.js';
import type { Balancer } from '../helpers/balancer.js';
import { rollingWebs } from '../helpers/rollingWebs.js';
import { addNodeRepo, FAST_WATCH, signedInWithKey } from '../helpers/pipeline.js';
import { startWorker } from '../../workers/process.js';
import { openSseAs, type SseClient } from '../helpers/sse.js';
import { Agent } from '../helpers/agent.js';
import { createKeyring } from '../../server/crypto/keyring.js';
import { createSessionStore } from '../../server/sessions/store.js';
import { setRenderKey } from '../../server/sessions/credentials.js';
import { storedSession } from '../helpers/sessions.js';

// SECURITY.md "Rotating SECRET_KEY", step 2 of 2, as Render's zero-downtime deploy runs it: instances
// still on SECRET_KEY=A (SECRET_KEY_PREVIOUS=B, from step 1) beside new ones on SECRET_KEY=B
// (SECRET_KEY_PREVIOUS=A), behind one proxy. One browser's requests land on either, in turn: each
// process finds the session under the other's name and moves it back to its own. Nobody is signed
// out by that, there is one session throughout, and ending it on either process ends it everywhere.
const KEY_A = randomBytes(32).toString('hex');
const KEY_B = randomBytes(32).toString('hex');
const ROUNDS = 12;

let stack: Stack;
let balancer: Balancer;
let webs: WebProcess[] = [];

interface Signed { agent: Agent; apiKey: string; login: string; userId: number }
const users: Record<string, Signed> = {};
let bearer: { agent: Agent; userId: number };

test.before(async () => {
  stack = await startStack({ env: { SECRET_KEY: KEY_A } });
  // Signed in before the rotation, under A alone.
  for (const login of ['rollold', 'rollnew', 'rollkey']) {
    const { agent, apiKey } = await signedInWithKey(stack, login);
    users[login] = { agent, apiKey, login, userId: (await agent.get('/api/session')).json.user.id };
    addNodeRepo(stack, login, 'app');
  }
  stack.github.addUser({ id: 96_000, login: 'rolltoken' });
  const token = stack.github.issueToken('rolltoken');
  const tokenKey = `rnd_rolltoken${'k'.repeat(24)}`;
  stack.render.addAccount({ apiKey: tokenKey, workspaces: [{ name: 'rolltoken ws' }] });
  bearer = { agent: new Agent(stack.url, { authorization: `Bearer ${token}` }), userId: 96_000 };
  const setup = await bearer.agent.post('/api/render/setup', { api_key: tokenKey });
  if (setup.status !== 200) throw new Error(`token key setup: ${setup.status} ${setup.text}`);

  // Step 2 under way: the stack's own process goes, an old and a new one take its place behind the proxy.
  ({ webs, balancer } = await rollingWebs(stack, KEY_A, KEY_B));
});
test.after.always(async () => {
  await balancer?.close();
  for (const w of webs) await w.close();
  await stack?.close();
});

const prefix = () => stack.config.redisPrefix;

/** Every session record in Redis that names this user. */
async function sessionRecordsOf(userId: number): Promise<string[]> {
  const keys = await stack.redis.client.keys(`${prefix()}:sess:*`);
  const uids = await Promise.all(keys.map((k) => stack.redis.client.hget(k, 'uid')));
  return keys.filter((_k, i) => uids[i] === String(userId));
}

/** Each moved-session pointer leads to an end within a few hops: no cycle that a reader could go round. */
async function pointerChainsEnd(): Promise<boolean> {
  const at = `${prefix()}:sess-moved:`;
  for (const key of await stack.redis.client.keys(`${at}*`)) {
    let ref: string | null = key.slice(at.length);
    const seen = new Set<string>();
    while (ref !== null) {
      if (seen.has(ref)) return false;
      seen.add(ref);
      ref = await stack.redis.client.get(`${at}${ref}`);
    }
  }
  return true;
}

/** Deployments stopped by the endings above (finished: no worker touches them again). */
const finished: string[] = [];
const ENDINGS = [['rollold', 0, 'sign-out'], ['rollnew', 1, 'sign-out'], ['rollkey', 1, 'key change']] as const;
for (const [login, endsOn, action] of ENDINGS) {
  test.serial(`one browser alternating between an A+B and a B+A process keeps its session; a ${action} on the ${endsOn === 0 ? 'old' : 'new'} one counts on both`, async (t) => {
    t.timeout(120_000);
    const { agent, apiKey, userId } = users[login]!;
    const csrf = agent.csrfToken;
    const deploys: string[] = [];
    const streams: Array<{ stream: SseClient; on: number }> = [];
    for (let i = 0; i < ROUNDS; i++) {
      const session = await agent.get('/api/session');
      t.is(session.status, 200, `round ${i}: session read on process ${balancer.served.at(-1)}`);
      t.is(session.json.user.login, login);
      t.is(session.json.csrfToken, csrf, 'the session\'s data came along');
      const status = await agent.get('/api/render/status');
      t.is(status.status, 200);
      t.true(status.json.verified, `round ${i}: the Render key is still there`);
      const deploy = await agent.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: `${login}-${i}` });
      t.is(deploy.status, 202, `round ${i}: deploy on process ${balancer.served.at(-1)}: ${deploy.text}`);
      deploys.push(deploy.json.id); // no worker runs: it stays queued
      const again = await agent.post('/api/render/setup', { api_key: apiKey });
      t.is(again.status, 200, `round ${i}: the same key saved again`);
      if (i < 4) {
        const stream = await openSseAs(agent, '/api/events');
        t.is(stream.status, 200);
        streams.push({ stream, on: balancer.served.at(-1)! });
        await stream.waitFor((text) => text.includes('event: stream'));
      }
    }
    t.deepEqual(new Set(streams.map((s) => s.on)), new Set([0, 1]), 'streams open on both processes');
    t.is((await sessionRecordsOf(userId)).length, 1, 'one session record, wherever it was moved last');
    t.true(await pointerChainsEnd(), 'moves back and forth left no pointer cycle');
    for (const id of deploys) {
      for (const web of webs) t.is((await web.deps.deployments.get(id))?.status, 'queued', 'a record written by either process verifies on both; the same key saved again stopped none');
    }
    for (const web of webs) {
      t.deepEqual((await web.deps.audit.verifyChain({ userId })).valid, true, 'the user\'s audit chain verifies on both');
      t.deepEqual((await web.deps.audit.verifyChain('global')).valid, true, 'the global chain verifies on both');
    }

    const cookies = new Map(agent.jar);
    balancer.pin = endsOn;
    let reason = 'signed_out';
    if (action === 'sign-out') t.is((await agent.post('/api/auth/logout')).status, 200);
    else {
      const other = `rnd_${login}other${'k'.repeat(20)}`;
      stack.render.addAccount({ apiKey: other, workspaces: [{ name: `${login} other ws` }] });
      t.is((await agent.post('/api/render/setup', { api_key: other })).status, 200);
      reason = 'key_changed';
    }
    balancer.pin = null;
    for (const { stream, on } of streams) {
      await t.notThrowsAsync(stream.waitFor((text) => text.includes(`"reason":"${reason}"`), 5_000), `a stream on process ${on} closed by the ${action}`);
      stream.close();
    }
    for (const id of deploys) {
      for (const web of webs) t.is((await web.deps.deployments.get(id))?.status, 'credentials_revoked', `deploy ${id} stopped by the ${action}`);
    }
    finished.push(...deploys);
    if (action === 'key change') {
      for (let i = 0; i < 4; i++) t.is((await agent.get('/api/session')).status, 200, 'a key change keeps the session, on both');
      t.is((await sessionRecordsOf(userId)).length, 1);
      return;
    }
    for (const [i, web] of webs.entries()) {
      const replay = new Agent(web.url);
      for (const [k, v] of cookies) replay.jar.set(k, v);
      t.is((await replay.get('/api/session')).status, 401, `the session is over on process ${i} too`);
    }
    t.deepEqual(await sessionRecordsOf(userId), [], 'no record of it left under either name');
  });
}

test.serial('a bearer token used on both processes in turn keeps one session with its Render key', async (t) => {
  t.timeout(60_000);
  const { agent, userId } = bearer;
  for (let i = 0; i < ROUNDS; i++) {
    const status = await agent.get('/api/render/status');
    t.is(status.status, 200, `round ${i} on process ${balancer.served.at(-1)}: ${status.text}`);
    t.true(status.json.configured, `round ${i}: the key set before the rotation is in the token session`);
    t.is((await sessionRecordsOf(userId)).length, 1, `round ${i}: one session, no empty one beside it`);
    t.is((await stack.redis.client.keys(`${prefix()}:bearer:*`)).length, 1, `round ${i}: one token entry`);
  }
  t.true(await pointerChainsEnd());
});

test.serial('Sentinel turned on through one process is watching this session on both', async (t) => {
  const { agent } = await signedInWithKey(stack, 'rollwatch'); // signed in during the overlap, through the balancer
  balancer.pin = 0;
  const put = await agent.request('PUT', '/api/sentinel', { json: { enabled: true } });
  balancer.pin = null;
  t.is(put.status, 200, put.text);
  for (let i = 0; i < 4; i++) {
    const view = await agent.get('/api/sentinel');
    t.like(view.json, { enabled: true, watchingThisSession: true }, `on process ${balancer.served.at(-1)}`);
  }
  t.is((await agent.request('PUT', '/api/sentinel', { json: { enabled: false } })).status, 200);
});

// The same two kinds of process at the store, on one Redis connection: what a move must not undo.
function storesAB() {
  const a = createKeyring(Buffer.from(KEY_A, 'hex'), Buffer.from(KEY_B, 'hex'));
  const b = createKeyring(Buffer.from(KEY_B, 'hex'), Buffer.from(KEY_A, 'hex'));
  // A hook on the clock: the move asks for the time right before its write, so a test can put a write
  // of the other process (issued on the same connection, so it reaches Redis first) in between.
  let onNow: (() => void) | null = null;
  const clock = { now: () => { const hook = onNow; onNow = null; hook?.(); return Date.now(); } };
  const common = { redis: stack.redis.client, prefix: `${stack.redis.prefix}y`, idleMs: 60_000, absoluteMs: 3_600_000 };
  return { old: createSessionStore({ ...common, keyring: a, clock }), fresh: createSessionStore({ ...common, keyring: b, clock }), beforeNextMove: (hook: () => void) => { onNow = hook; } };
}

test.serial('store: a sign-out on one process while the other is moving the session to its name is not undone by the move', async (t) => {
  const { old, fresh, beforeNextMove } = storesAB();
  const sid = await storedSession(old, 96_100);
  let signedOut: Promise<unknown> | undefined;
  // The new process has read the record under A's name; the sign-out on the old process lands before its write.
  beforeNextMove(() => { signedOut = old.destroyByRef(old.refOf(sid)); });
  const loaded = await fresh.load(sid);
  t.truthy(signedOut, 'the sign-out went in between');
  await signedOut;
  t.is(loaded, undefined, 'the move found the session ended and did not bring it back');
  t.is(await fresh.get(sid), undefined);
  t.is(await old.get(sid), undefined);
});

test.serial('store: a request that loaded the session before it went back and forth cannot write over what was written meanwhile', async (t) => {
  const { old, fresh } = storesAB();
  const sid = await storedSession(old, 96_101);
  const early = await fresh.load(sid); // moved to B's name
  t.truthy(early);
  const onOld = await old.load(sid); // moved back to A's name
  t.truthy(await old.save(sid, onOld!.version, { ...onOld!.sess, csrfToken: 'written-on-the-old-process' }));
  t.truthy(await fresh.load(sid)); // and to B's again
  t.is(await fresh.save(sid, early!.version, { ...early!.sess, csrfToken: 'stale' }), null, 'the stale write is refused');
  t.is((await old.get(sid))?.csrfToken, 'written-on-the-old-process');
});

// A request on the old process loaded the session under A's name; a request on the new one moved it to
// B's before the first one's key write. Clearing or replacing the key must reach the session where it is.
test.serial('store: a key cleared or replaced on one process after the other moved the session away reaches the session', async (t) => {
  const { old, fresh } = storesAB();
  const keyring = createKeyring(Buffer.from(KEY_A, 'hex'));
  const user = { id: 96_102, login: 'u96102', name: null, avatarUrl: '' };
  const sid = randomBytes(32).toString('base64url');
  const now = Date.now();
  const sess = { createdAt: now, lastSeenAt: now, user } as Parameters<typeof old.create>[1];
  setRenderKey(sess as typeof sess & { user: typeof user }, 'rnd_movingkey0123456789', [{ id: 'tea-1', name: 'w', type: 'user' }], now, keyring);
  t.true(await old.create(sid, sess));
  const refA = old.refOf(sid);

  t.truthy(await fresh.load(sid), 'moved to B\'s name');
  t.is(await old.clearCredentials(refA), sess.render!.keyFingerprint, 'the key the session held was cleared');
  t.is((await fresh.get(sid))?.render, undefined, 'and is gone where the session is');
  t.deepEqual(new Set(await old.refsOf(refA)), new Set([refA, fresh.refOf(sid)]), 'the session\'s names, from the old one');

  t.truthy(await old.load(sid), 'back under A\'s name');
  t.truthy(await fresh.load(sid), 'and B\'s again');
  const cred = { ...sess.render!, keyFingerprint: 'another-key-fingerprint' };
  t.true((await old.storeCredentials(refA, user.id, cred, null)).stored, 'a key set from A\'s name is stored');
  t.is((await fresh.get(sid))?.render?.keyFingerprint, 'another-key-fingerprint', 'in the session where it is');
});

// A new worker re-signs with B what A signed; instances still on A go on signing with A after it started.
// Once A is retired, what nobody re-signed would no longer verify: the sweep runs again while A is the previous key.
test.serial('a worker on B+A re-signs with B, after its start too, what an instance still on A signed', async (t) => {
  t.timeout(60_000);
  const { agent } = users.rollkey!; // signed in still: its key changed, its session kept
  t.true(finished.length > 0);
  const config = loadConfig(envFor(stack.config, { SECRET_KEY: KEY_B, SECRET_KEY_PREVIOUS: KEY_A }));
  const workerLogs: string[] = [];
  const logger = createLogger({ level: 'info', destination: new Writable({ write(c, _e, cb) { workerLogs.push(String(c)); cb(); } }) });
  const worker = await startWorker({ config, logger, watch: FAST_WATCH, workerOptions: { concurrency: 1, lockDurationMs: 5_000, stalledIntervalMs: 1_000 }, rotationSweep: { everyMs: 300 } });
  try {
    const kidB = createKeyring(Buffer.from(KEY_B, 'hex')).current.kid;
    const kidOf = async (id: string) => (await stack.redis.client.hget(`${prefix()}:deployment:${id}`, 'mac'))?.split('.')[1];
    const eventually = async (check: () => Promise<boolean>) => {
      for (const end = Date.now() + 10_000; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) if (await check()) return true;
      return false;
    };
    // The sweep at start is done (its two lines): what A signs from now on is left to later ones.
    await eventually(async () => ['deployment records re-signed', 'audit chain heads re-signed'].every((l) => workerLogs.some((w) => w.includes(l))));
    // An instance still on A, after the worker's start: it reads a record (re-signing it with its key) and audits a key setup.
    const id = finished[0]!;
    t.truthy(await webs[0]!.deps.deployments.get(id));
    t.not(await kidOf(id), kidB, 'signed with A');
    balancer.pin = 0;
    t.is((await agent.post('/api/render/setup', { api_key: users.rollkey!.apiKey })).status, 200);
    balancer.pin = null;
    t.true(await eventually(async () => (await kidOf(id)) === kidB), 're-signed with B by a later sweep');
    const headKids = async () => Promise.all((await stack.redis.client.keys(`${prefix()}:audit:*:head`)).map((h) => stack.redis.client.hget(h, 'kid')));
    t.true(await eventually(async () => (await headKids()).every((kid) => kid === kidB)), 'audit heads too');
  } finally {
    await worker.close(5_000);
  }
});

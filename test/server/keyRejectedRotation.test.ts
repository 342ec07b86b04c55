import test from 'ava';
import { randomBytes } from 'node:crypto';
import type { WebProcess } from '../../server/web.js';
import { startStack, type Stack } from '../helpers/stack.js';
import type { Balancer } from '../helpers/balancer.js';
import { rollingWebs } from '../helpers/rollingWebs.js';
import { Agent } from '../helpers/agent.js';
import { signedInWithKey } from '../helpers/pipeline.js';

// The "key rejected" mark (`krej`) across a SECRET_KEY rotation (rolling deploy: a process on A+B
// beside one on B+A, behind one proxy; each moves the session to its own name, scripts.ts MOVE).
// A mark is kept when the record moves, and one written while (or after) the record was moved reaches it.
const KEY_A = randomBytes(32).toString('hex');
const KEY_B = randomBytes(32).toString('hex');
const OLD = 0; // SECRET_KEY=A, previous B
const NEW = 1; // SECRET_KEY=B, previous A

let stack: Stack;
let balancer: Balancer;
let webs: WebProcess[] = [];

interface Signed { agent: Agent; apiKey: string; userId: number }
const before: Record<string, Signed> = {};
let bearer: { agent: Agent; apiKey: string; userId: number };

test.before(async () => {
  stack = await startStack({ env: { SECRET_KEY: KEY_A } });
  for (const login of ['pkrot-premark', 'pkrot-moving', 'pkrot-after', 'pkrot-store']) {
    const { agent, apiKey } = await signedInWithKey(stack, login);
    before[login] = { agent, apiKey, userId: (await agent.get('/api/session')).json.user.id };
  }
  stack.github.addUser({ id: 97_000, login: 'pkrottoken' });
  const token = stack.github.issueToken('pkrottoken');
  const tokenKey = `rnd_pkrottoken${'k'.repeat(24)}`;
  stack.render.addAccount({ apiKey: tokenKey, workspaces: [{ name: 'pkrottoken ws' }] });
  bearer = { agent: new Agent(stack.url, { authorization: `Bearer ${token}` }), apiKey: tokenKey, userId: 97_000 };
  const setup = await bearer.agent.post('/api/render/setup', { api_key: tokenKey });
  if (setup.status !== 200) throw new Error(`token key setup: ${setup.status} ${setup.text}`);

  // Marked before the rotation, on the only (A) process.
  const pre = before['pkrot-premark']!;
  stack.render.revokeKey(pre.apiKey);
  const refused = await pre.agent.get('/api/render/services');
  if (refused.json?.error?.code !== 'render_key_invalid') throw new Error(`premark: ${refused.status} ${refused.text}`);
  if (typeof (await pre.agent.get('/api/render/status')).json.rejectedAt !== 'string') throw new Error('premark not marked');
  // The token session too.
  stack.render.revokeKey(tokenKey);
  const tokenRefused = await bearer.agent.get('/api/render/services');
  if (tokenRefused.json?.error?.code !== 'render_key_invalid') throw new Error(`token premark: ${tokenRefused.status} ${tokenRefused.text}`);

  ({ webs, balancer } = await rollingWebs(stack, KEY_A, KEY_B));
});
test.after.always(async () => {
  await balancer?.close();
  for (const w of webs) await w.close();
  await stack?.close();
});

const prefix = () => stack.config.redisPrefix;
async function recordsOf(userId: number): Promise<Array<{ key: string; kfp: string | null; krej: string | null }>> {
  const keys = await stack.redis.client.keys(`${prefix()}:sess:*`);
  const out = [];
  for (const key of keys) {
    const [uid, kfp, krej] = await stack.redis.client.hmget(key, 'uid', 'kfp', 'krej');
    if (uid === String(userId)) out.push({ key, kfp: kfp ?? null, krej: krej ?? null });
  }
  return out;
}
async function on<T>(which: number, fn: () => Promise<T>): Promise<T> {
  balancer.pin = which;
  try { return await fn(); } finally { balancer.pin = null; }
}

test.serial('a mark made before the rotation goes with the record as it moves back and forth', async (t) => {
  const { agent, userId } = before['pkrot-premark']!;
  for (let i = 0; i < 6; i++) {
    const which = i % 2 === 0 ? NEW : OLD;
    const status = await on(which, () => agent.get('/api/render/status'));
    t.is(status.status, 200, status.text);
    t.false(status.json.verified, `round ${i} on ${which}: still not verified`);
    t.is(typeof status.json.rejectedAt, 'string', `round ${i} on ${which}: the mark came along`);
    const session = await on(which, () => agent.get('/api/session'));
    t.deepEqual(session.json.render, status.json);
  }
  const recs = await recordsOf(userId);
  t.is(recs.length, 1);
  t.truthy(recs[0]!.krej);
  t.true(recs[0]!.krej!.startsWith(`${recs[0]!.kfp} `), 'the mark names the fingerprint the record holds');
});

test.serial('a bearer token session marked before the rotation keeps its mark on both processes', async (t) => {
  for (let i = 0; i < 4; i++) {
    const which = i % 2 === 0 ? NEW : OLD;
    const status = await on(which, () => bearer.agent.get('/api/render/status'));
    t.is(status.status, 200, status.text);
    t.is(typeof status.json.rejectedAt, 'string', `round ${i} on ${which}`);
  }
});

test.serial('a refusal met on one process while the other moved the record away is marked where the record is', async (t) => {
  const { agent, apiKey, userId } = before['pkrot-moving']!;
  // The record is under A's name (not read since the rotation). A call on the old process goes to Render...
  stack.render.revokeKey(apiKey);
  const held = stack.render.holdRequest({ method: 'GET', route: '/services', apiKey });
  const call = on(OLD, () => agent.get('/api/render/services/lookup?name=x'));
  await held.arrived;
  // ...while a request on the new process moves the record to B's name.
  const other = new Agent(stack.url);
  for (const [k, v] of agent.jar) other.jar.set(k, v);
  balancer.pin = NEW;
  const moved = await other.get('/api/session');
  balancer.pin = null;
  t.is(moved.status, 200);
  held.release();
  const res = await call;
  t.is(res.json.error?.code, 'render_key_invalid', res.text);
  for (const which of [NEW, OLD, NEW]) {
    const status = await on(which, () => agent.get('/api/render/status'));
    t.is(typeof status.json.rejectedAt, 'string', `marked, as read on process ${which}`);
  }
  const recs = await recordsOf(userId);
  t.is(recs.length, 1, 'no second record (a mark alone) under the old name');
});

test.serial('a worker-style mark by the old name after the record moved reaches it (store.markKeyRejected follows the pointer)', async (t) => {
  const { agent, userId } = before['pkrot-store']!;
  const [rec] = await recordsOf(userId);
  const oldRef = rec!.key.slice(`${prefix()}:sess:`.length);
  t.is((await on(NEW, () => agent.get('/api/session'))).status, 200, 'moved to B\'s name');
  t.is(await stack.redis.client.exists(rec!.key), 0);
  t.is(await webs[OLD]!.deps.sessions.markKeyRejected(oldRef, userId, rec!.kfp!), 'marked');
  for (const which of [NEW, OLD]) t.is(typeof (await on(which, () => agent.get('/api/render/status'))).json.rejectedAt, 'string');
  // The wrong user or key never marks it.
  const { agent: a2, userId: u2 } = before['pkrot-after']!;
  const [rec2] = await recordsOf(u2);
  const ref2 = rec2!.key.slice(`${prefix()}:sess:`.length);
  t.is(await webs[NEW]!.deps.sessions.markKeyRejected(ref2, userId, rec2!.kfp!), 'other', 'another user id');
  t.is(await webs[NEW]!.deps.sessions.markKeyRejected(ref2, u2, 'not-the-key'), 'other', 'another key');
  t.true((await a2.get('/api/render/status')).json.verified);
});

test.serial('a mark made on the new process, then a new key connected on the old one: the mark goes', async (t) => {
  const { agent, apiKey } = before['pkrot-after']!;
  stack.render.revokeKey(apiKey);
  t.is((await on(NEW, () => agent.get('/api/render/services'))).json.error?.code, 'render_key_invalid');
  t.is(typeof (await on(OLD, () => agent.get('/api/render/status'))).json.rejectedAt, 'string');
  const fresh = `rnd_pkrotafternew${'n'.repeat(24)}`;
  stack.render.addAccount({ apiKey: fresh, workspaces: [{ name: 'fresh ws' }] });
  t.is((await on(OLD, () => agent.post('/api/render/setup', { api_key: fresh }))).status, 200);
  for (const which of [NEW, OLD]) {
    const status = await on(which, () => agent.get('/api/render/status'));
    t.true(status.json.verified, `on ${which}`);
    t.false('rejectedAt' in status.json);
  }
});

import test from 'ava';
import { Redis } from 'ioredis';
import type { Stack } from '../helpers/stack.js';
import type { Agent } from '../helpers/agent.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, signedInWithKey, waitFinished } from '../helpers/pipeline.js';

// A key revoked on Render's side (deleted in Render's dashboard): once a call made with it met Render's 401,
// the key status says so (GET /api/render/status, the session's render), instead of "connected and verified"
// while every call with it answered render_key_invalid. Only the session that holds that key is marked, and
// a new key drops the mark. Before, the status said verified until the user cleared or replaced the key.

let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

const newKey = (name: string) => `rnd_${name.replace(/[^A-Za-z0-9]/g, '')}${'n'.repeat(24)}`;

async function connect(agent: Agent, apiKey: string): Promise<void> {
  stack.render.addAccount({ apiKey, workspaces: [{ name: `${apiKey.slice(4, 12)} ws` }] });
  const res = await agent.post('/api/render/setup', { api_key: apiKey });
  if (res.status !== 200) throw new Error(`setup: ${res.status} ${res.text}`);
}

async function expectRejectedOnCall(t: import('ava').ExecutionContext, agent: Agent): Promise<void> {
  const res = await agent.get('/api/render/services');
  t.is(res.status, 400, res.text);
  t.is(res.json.error.code, 'render_key_invalid');
}

test.serial('after Render refuses the session\'s key on a call, the status says rejected (nothing secret in it); a new key clears it', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'krs-basic');
  const before = await agent.get('/api/render/status');
  t.true(before.json.verified);
  t.false('rejectedAt' in before.json, 'a key Render accepts carries no mark');

  stack.render.revokeKey(apiKey);
  await expectRejectedOnCall(t, agent);

  const status = await agent.get('/api/render/status');
  t.is(status.status, 200);
  t.true(status.json.configured, 'the key is still held (not cleared on a 401)');
  t.false(status.json.verified, 'no longer said to be verified');
  t.is(typeof status.json.rejectedAt, 'string');
  t.false(Number.isNaN(Date.parse(status.json.rejectedAt)));
  t.truthy(status.json.verifiedAt, 'when it was verified stays');
  t.deepEqual(Object.keys(status.json).sort(), ['configured', 'keyHint', 'owners', 'rejectedAt', 'verified', 'verifiedAt'], 'nothing but the whitelisted fields');
  t.false(status.text.includes(apiKey.slice(4)), 'not the key');
  const session = await agent.get('/api/session');
  t.deepEqual(session.json.render, status.json, 'the session answer says the same');

  // A second refusal keeps the first time seen.
  await expectRejectedOnCall(t, agent);
  t.is((await agent.get('/api/render/status')).json.rejectedAt, status.json.rejectedAt);

  // Connecting a new key clears the mark.
  const fresh = newKey('krs-basic-new');
  await connect(agent, fresh);
  const after = await agent.get('/api/render/status');
  t.true(after.json.verified);
  t.false('rejectedAt' in after.json, 'the new key starts unmarked');
  t.is((await agent.get('/api/render/services')).status, 200);
  t.false('rejectedAt' in (await agent.get('/api/render/status')).json);
});

test.serial('a key replaced in another tab while the refused call was at Render is not marked; the replacing key is, once refused itself', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'krs-replaced');
  stack.render.revokeKey(apiKey);
  const held = stack.render.holdRequest({ method: 'GET', route: '/services', apiKey });
  const call = agent.get('/api/render/services/lookup?name=x');
  await held.arrived;
  const replacement = newKey('krs-replaced-b');
  await connect(agent, replacement);
  held.release();
  const res = await call;
  t.is(res.json.error?.code, 'render_key_invalid', res.text);
  const status = await agent.get('/api/render/status');
  t.true(status.json.verified, 'the key connected meanwhile is not marked by the old key\'s refusal');
  t.false('rejectedAt' in status.json);
  t.is(status.json.keyHint, `rnd_...${replacement.slice(-4)}`);

  // The new key revoked too: its own refusal marks it.
  stack.render.revokeKey(replacement);
  await expectRejectedOnCall(t, agent);
  t.is(typeof (await agent.get('/api/render/status')).json.rejectedAt, 'string');
});

test.serial('a session signed out while its refused call was at Render is not brought back by the mark', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'krs-signout');
  stack.render.revokeKey(apiKey);
  const held = stack.render.holdRequest({ method: 'GET', route: '/services', apiKey });
  const call = agent.get('/api/render/services/lookup?name=x');
  await held.arrived;
  const cookie = agent.cookieHeader();
  t.is((await agent.post('/api/auth/logout')).status, 200);
  held.release();
  await call;
  const replay = stack.agent({ cookie });
  t.is((await replay.get('/api/render/status')).status, 401, 'the old cookie stays signed out');
  const redis = new Redis(stack.redis.url, { lazyConnect: false });
  t.teardown(() => redis.quit());
  const records = await redis.keys(`${stack.redis.prefix}:sess:*`);
  const fields = await Promise.all(records.map((k) => redis.hkeys(k)));
  t.deepEqual(records.filter((_, i) => !fields[i]!.includes('rec')), [], 'no record made of a mark alone');

  // The same user signed in again, with the same refused key's successor refused: that session is marked.
  const again = stack.agent();
  await stack.signIn(again, 'krs-signout');
  const second = newKey('krs-signout-b');
  await connect(again, second);
  stack.render.revokeKey(second);
  await expectRejectedOnCall(t, again);
  t.is(typeof (await again.get('/api/render/status')).json.rejectedAt, 'string');
});

test.serial('another session of the same user, with another key, is not marked', async (t) => {
  const { agent: tabA, apiKey } = await signedInWithKey(stack, 'krs-cross');
  const tabB = stack.agent();
  await stack.signIn(tabB, 'krs-cross');
  const other = newKey('krs-cross-b');
  await connect(tabB, other);

  stack.render.revokeKey(apiKey);
  await expectRejectedOnCall(t, tabA);
  t.is(typeof (await tabA.get('/api/render/status')).json.rejectedAt, 'string', 'the session that met the refusal says so');
  const b = await tabB.get('/api/render/status');
  t.true(b.json.verified);
  t.false('rejectedAt' in b.json, 'the other session\'s key is not the refused one');
  t.is((await tabB.get('/api/render/services')).status, 200);
});

test.serial('a deploy that ends credentials_revoked on Render\'s 401 marks the session too, with no route call', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'krs-worker');
  addNodeRepo(stack, 'krs-worker', 'app');
  stack.render.revokeKey(apiKey);
  const deploy = await agent.post('/api/render/deploy', { github_repo: 'krs-worker/app', project_name: 'krs-worker-app' });
  t.is(deploy.status, 202, deploy.text);
  const ended = await waitFinished(agent, deploy.json.id);
  t.is(ended.status, 'credentials_revoked');
  t.is(ended.failure.code, 'render_key_rejected');
  const status = await agent.get('/api/render/status');
  t.false(status.json.verified);
  t.is(typeof status.json.rejectedAt, 'string');
});

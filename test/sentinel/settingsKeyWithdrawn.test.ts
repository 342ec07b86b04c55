import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { startWebBehindHold } from '../helpers/redisHold.js';
import { signedInWithKey } from '../helpers/pipeline.js';
import { Agent } from '../helpers/agent.js';

// A Sentinel save (PUT /api/sentinel) in flight on web B while the same session clears its key or signs
// out on web A. Before: the save checked the key on the session loaded at its start and wrote the settings
// (and its turned_on audit entry) after the clear's switch-off had been answered, so connecting the same key
// again turned the watch back on (SECURITY.md: "a key connected again before the next round does not bring
// it back"), and after a sign-out it answered 200 and left settings for the ended session. Now the save asks
// the session again once written and takes its own watch back when the key was withdrawn meanwhile.

let stack: Stack;
let b: Awaited<ReturnType<typeof startWebBehindHold>>;
test.before(async () => {
  stack = await startStack();
  b = await startWebBehindHold(stack.config);
});
test.after.always(async () => { await b?.close(); await stack?.close(); });

function onB(agent: Agent): Agent {
  const other = new Agent(b.url);
  for (const [k, v] of agent.jar) other.jar.set(k, v);
  other.csrfToken = agent.csrfToken;
  return other;
}

const settingsKey = (userId: number) => `${stack.config.redisPrefix}:sentinel:settings:${userId}`;
const sentinelAudits = async (userId: number) =>
  (await stack.web.deps.audit.listForUser(userId, { limit: 20 })).entries.filter((e) => e.action === 'sentinel_settings');

test.serial('a switch-on in flight across clear-credentials: no watch comes back when a key is connected again', async (t) => {
  t.timeout(40_000);
  const { agent, apiKey } = await signedInWithKey(stack, 'skw-clear');
  const userId = (await agent.get('/api/session')).json.user.id as number;
  const agentB = onB(agent);
  t.is((await agentB.get('/api/sentinel')).json.enabled, false);
  // B's read of the settings, the first step of the save, is held (the session was loaded before it).
  b.hold.holdAt(`sentinel:settings:${userId}`);
  const save = agentB.request('PUT', '/api/sentinel', { json: { enabled: true } });
  await b.hold.held(10_000);
  const cleared = await agent.post('/api/render/clear-credentials');
  t.is(cleared.status, 200, cleared.text);
  b.hold.release();
  const saved = await save;
  t.log('save answered', saved.status, saved.text.slice(0, 200));
  // Connect a key again in the same session, before any round (no worker here).
  const again = await agent.post('/api/render/setup', { api_key: apiKey });
  t.is(again.status, 200, again.text);
  const now = await agent.get('/api/sentinel');
  t.false(now.json.enabled, 'the watch the clear ended is not on again after the key is reconnected');
  // Answered as a save sent after the clear would be, and not audited as turned on.
  t.is(saved.status, 400, saved.text);
  t.is(saved.json.error?.code, 'render_key_missing', saved.text);
  t.deepEqual(await sentinelAudits(userId), []);
});

test.serial('a switch-on in flight across sign-out: nothing saved for the ended session', async (t) => {
  t.timeout(40_000);
  const { agent } = await signedInWithKey(stack, 'skw-out');
  const userId = (await agent.get('/api/session')).json.user.id as number;
  const agentB = onB(agent);
  b.hold.holdAt(`sentinel:settings:${userId}`);
  const save = agentB.request('PUT', '/api/sentinel', { json: { enabled: true } });
  await b.hold.held(10_000);
  const out = await agent.post('/api/auth/logout');
  t.is(out.status, 200, out.text);
  b.hold.release();
  const saved = await save;
  t.log('save answered', saved.status, saved.text.slice(0, 200));
  const stored = await stack.redis.client.hgetall(settingsKey(userId));
  t.not(saved.status, 200, 'a save answered 200 after its session was signed out');
  t.deepEqual(Object.keys(stored), [], 'no settings written for the ended session');
  t.is(saved.status, 401, saved.text);
  t.deepEqual(await sentinelAudits(userId), [], 'no sentinel_settings entry after the sign_out');
});

test.serial('a switch-on in flight while the key is cleared and the same key connected again: not kept', async (t) => {
  t.timeout(40_000);
  const { agent, apiKey } = await signedInWithKey(stack, 'skw-again');
  const userId = (await agent.get('/api/session')).json.user.id as number;
  const agentB = onB(agent);
  b.hold.holdAt(`sentinel:settings:${userId}`);
  const save = agentB.request('PUT', '/api/sentinel', { json: { enabled: true } });
  await b.hold.held(10_000);
  t.is((await agent.post('/api/render/clear-credentials')).status, 200);
  // The same key again (the same fingerprint), before the save goes on: another connection of it.
  const again = await agent.post('/api/render/setup', { api_key: apiKey });
  t.is(again.status, 200, again.text);
  b.hold.release();
  const saved = await save;
  t.is(saved.status, 409, saved.text);
  t.is(saved.json.error?.code, 'render_key_changed', saved.text);
  t.false((await agent.get('/api/sentinel')).json.enabled, 'the switch-on made before the clear is not kept');
  t.deepEqual(Object.keys(await stack.redis.client.hgetall(settingsKey(userId))), []);
  t.deepEqual(await sentinelAudits(userId), []);
  // Turned on now, with the key connected again, it is on.
  const on = await agent.request('PUT', '/api/sentinel', { json: { enabled: true } });
  t.is(on.status, 200, on.text);
  t.true(on.json.enabled);
});

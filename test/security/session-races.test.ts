import test from 'ava';
import { manualClock } from '../../server/clock.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { addNodeRepo, renderCalls, signedInWithKey } from '../helpers/pipeline.js';
import type { Agent, AgentResponse } from '../helpers/agent.js';

// Attack (issue 11 part 1): the session middleware writes the whole session back at the end of every request
// that changed it. A request that loaded the session before a logout, clear-credentials or key change
// and ends after it must not undo that. The held request is a real one made slow through the Render
// simulator's control surface; it is the first request after a minute idle, so it updates last-seen
// and the session middleware writes the session back when it ends (the "idle-touch GET").

const clock = manualClock(Date.parse('2026-11-23T09:00:00Z'));
let stack: Stack;
test.before(async () => { stack = await startStack({ clock }); });
test.after.always(async () => { await stack?.close(); });

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * GET /api/render/services held open inside Render (after the session was loaded and touched),
 * for `ms`. Resolves once the request is waiting on Render.
 */
async function holdServicesList(agent: Agent, who: { apiKey: string; accountId: string }, ms = 1500): Promise<{ done: Promise<AgentResponse> }> {
  const before = renderCalls(stack, who.accountId, 'GET', '/services').length;
  stack.render.setFault({ kind: 'latency', method: 'GET', route: '/services', apiKey: who.apiKey, ms, count: 1 });
  clock.advance(61_000); // a minute idle: this request slides last-seen, so its session is written back at the end
  const pending = agent.get('/api/render/services');
  await waitFor(() => renderCalls(stack, who.accountId, 'GET', '/services').length > before, 'the held request to reach Render');
  return { done: pending }; // wrapped: an async function returning a promise would wait for it
}

const replayWith = (cookie: string, path: string) => fetch(`${stack.url}${path}`, { headers: { cookie } });

test.serial('logout while an idle-touch GET is in flight: the old cookie stays dead', async (t) => {
  const who = await signedInWithKey(stack, 'race-logout');
  const cookie = who.agent.cookieHeader();
  const held = await holdServicesList(who.agent, who);
  t.is((await who.agent.post('/api/auth/logout')).status, 200);
  t.is((await held.done).status, 200, 'the held request itself finishes normally');
  t.is((await replayWith(cookie, '/api/session')).status, 401, 'the stale write did not bring the session back');
  t.is((await replayWith(cookie, '/api/render/status')).status, 401);
  const ref = stack.web.deps.sessions.refOf(decodeURIComponent(/(?:^|; )sid=([^;]+)/.exec(cookie)![1]!));
  t.is(await stack.redis.client.exists(`${stack.redis.prefix}:sess:${ref}`), 0, 'no record in Redis');
  t.is(await stack.redis.client.exists(`${stack.redis.prefix}:sess-ended:${ref}`), 1, 'a tombstone guards the id');
});

test.serial('clear-credentials while an idle-touch GET is in flight: the key stays cleared', async (t) => {
  const who = await signedInWithKey(stack, 'race-clear');
  addNodeRepo(stack, 'race-clear', 'app');
  const held = await holdServicesList(who.agent, who);
  t.is((await who.agent.post('/api/render/clear-credentials')).status, 200);
  t.is((await held.done).status, 200);
  const status = await who.agent.get('/api/render/status');
  t.is(status.status, 200, 'still signed in');
  t.like(status.json, { configured: false, keyHint: null });
  const deploy = await who.agent.post('/api/render/deploy', { github_repo: 'race-clear/app', project_name: 'race-clear-app' });
  t.is(deploy.status, 400, 'no deploy with the cleared key');
  t.is(deploy.json.error.code, 'render_key_missing');
});

test.serial('key change while an idle-touch GET is in flight: the new key stays, deploys made with the old one stop', async (t) => {
  const who = await signedInWithKey(stack, 'race-change');
  addNodeRepo(stack, 'race-change', 'app');
  // A deploy requested with the first key (no worker runs here: it stays queued).
  const oldDeploy = await who.agent.post('/api/render/deploy', { github_repo: 'race-change/app', project_name: 'race-change-app' });
  t.is(oldDeploy.status, 202);
  const newKey = `rnd_racechangesecond${'n'.repeat(16)}`;
  stack.render.addAccount({ apiKey: newKey, workspaces: [{ name: 'second workspace' }] });
  const held = await holdServicesList(who.agent, who);
  const changed = await who.agent.post('/api/render/setup', { api_key: newKey });
  t.is(changed.status, 200);
  t.is((await held.done).status, 200);
  const status = await who.agent.get('/api/render/status');
  t.is(status.json.keyHint, `rnd_...${newKey.slice(-4)}`, 'the stale write did not restore the old key');
  t.deepEqual(status.json.owners.map((o: { name: string }) => o.name), ['second workspace']);
  const rec = await who.agent.get(`/api/render/deployments/${oldDeploy.json.id}`);
  t.is(rec.json.status, 'credentials_revoked', 'what the old key started stops with the key change');
});

/**
 * A key setup in `agent`'s session with a new account's `apiKey`, held at Render's key check (1.5 s) and
 * sent there by the time this resolves: its answer to come.
 */
async function setupHeldAtRender(agent: Agent, apiKey: string, workspace: string): Promise<{ setup: Promise<AgentResponse<any>> }> {
  const account = stack.render.addAccount({ apiKey, workspaces: [{ name: workspace }] });
  stack.render.setFault({ kind: 'latency', method: 'GET', route: '/owners', apiKey, ms: 1500, count: 1 });
  const setup = agent.post('/api/render/setup', { api_key: apiKey });
  await waitFor(() => renderCalls(stack, account.id, 'GET', '/owners').length > 0, 'the key check to reach Render');
  return { setup };
}

test.serial('key setup held across logout: nothing is stored and the session stays ended', async (t) => {
  const agent = stack.agent();
  await stack.signIn(agent, 'race-setup');
  const cookie = agent.cookieHeader();
  const { setup } = await setupHeldAtRender(agent, `rnd_racesetup${'s'.repeat(20)}`, 'setup workspace');
  t.is((await agent.post('/api/auth/logout')).status, 200);
  const res = await setup;
  t.is(res.status, 401, 'the session ended while the key was checked');
  t.is(res.json.error.code, 'unauthenticated');
  t.is((await replayWith(cookie, '/api/session')).status, 401);
  t.is((await replayWith(cookie, '/api/render/status')).status, 401);
});

// A setup sent before a clear, still at Render when the clear was confirmed, stored its key after it: the
// session held a key again after "forget my key" said done (found by a review). And of two setups with
// different keys, the slower silently replaced the one already confirmed. A setup now stores only over the
// key it found.
test.serial('key setup held across a clear: the clear stands, the setup is a 409 and stores nothing', async (t) => {
  const who = await signedInWithKey(stack, 'race-clear-setup');
  const newKey = `rnd_raceclearsetupnew${'q'.repeat(12)}`;
  const { setup } = await setupHeldAtRender(who.agent, newKey, 'new ws');
  const cleared = await who.agent.post('/api/render/clear-credentials');
  t.is(cleared.status, 200);
  const res = await setup;
  t.is(res.status, 409, res.text);
  t.is(res.json.error.code, 'render_key_changed');
  t.false((await who.agent.get('/api/render/status')).json.configured, 'the key sent before the clear is not stored after it');
  // Sent after the clear, it is stored.
  t.is((await who.agent.post('/api/render/setup', { api_key: newKey })).status, 200);
  t.true((await who.agent.get('/api/render/status')).json.configured);
});

test.serial('two setups with different keys: the one confirmed first stays, the slower is a 409, and deploys with the first go on', async (t) => {
  const who = await signedInWithKey(stack, 'race-two-setups');
  addNodeRepo(stack, 'race-two-setups', 'app');
  const keyA = `rnd_racetwosetupsA${'a'.repeat(14)}`;
  const keyB = `rnd_racetwosetupsB${'b'.repeat(14)}`;
  stack.render.addAccount({ apiKey: keyB, workspaces: [{ name: 'B ws' }] });
  const { setup: setupA } = await setupHeldAtRender(who.agent, keyA, 'A ws');
  t.is((await who.agent.post('/api/render/setup', { api_key: keyB })).status, 200);
  const withB = await who.agent.post('/api/render/deploy', { github_repo: 'race-two-setups/app', project_name: 'race-two-b' });
  t.is(withB.status, 202, withB.text);
  const resA = await setupA;
  t.is(resA.status, 409, resA.text);
  t.is(resA.json.error.code, 'render_key_changed');
  t.is((await who.agent.get('/api/render/status')).json.keyHint, `rnd_...${keyB.slice(-4)}`, 'B stays');
  t.is((await stack.web.deps.deployments.get(withB.json.id))?.status, 'queued', 'the deploy made with B goes on');
});

test.serial('the same key set twice at once (a double submit, two CI jobs on one token): both succeed', async (t) => {
  // The compare-and-set above refused the slower one (409, "not saved") though the session held exactly its key (found by a review).
  const who = await signedInWithKey(stack, 'race-same-key');
  const key = `rnd_racesamekey${'s'.repeat(20)}`;
  const { setup: slow } = await setupHeldAtRender(who.agent, key, 'same ws');
  const fast = await who.agent.post('/api/render/setup', { api_key: key });
  t.is(fast.status, 200, fast.text);
  const res = await slow;
  t.is(res.status, 200, res.text);
  t.is((await who.agent.get('/api/render/status')).json.keyHint, `rnd_...${key.slice(-4)}`);
});

test.serial('two requests loaded together: the later write of the same version is dropped, the session stays consistent', async (t) => {
  const who = await signedInWithKey(stack, 'race-touch');
  const first = await holdServicesList(who.agent, who, 800);
  // A second idle-touch from the same session while the first is held: both loaded the same version.
  const second = await who.agent.get('/api/session');
  t.is(second.status, 200);
  t.is((await first.done).status, 200);
  const after = await who.agent.get('/api/render/status');
  t.is(after.status, 200);
  t.true(after.json.configured, 'the key survives concurrent whole-record writes');
});

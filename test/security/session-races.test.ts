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

test.serial('key setup held across logout: nothing is stored and the session stays ended', async (t) => {
  const agent = stack.agent();
  await stack.signIn(agent, 'race-setup');
  const apiKey = `rnd_racesetup${'s'.repeat(20)}`;
  const account = stack.render.addAccount({ apiKey, workspaces: [{ name: 'setup workspace' }] });
  const cookie = agent.cookieHeader();
  stack.render.setFault({ kind: 'latency', method: 'GET', route: '/owners', apiKey, ms: 1500, count: 1 });
  const setup = agent.post('/api/render/setup', { api_key: apiKey });
  await waitFor(() => renderCalls(stack, account.id, 'GET', '/owners').length > 0, 'the key check to reach Render');
  t.is((await agent.post('/api/auth/logout')).status, 200);
  const res = await setup;
  t.is(res.status, 401, 'the session ended while the key was checked');
  t.is(res.json.error.code, 'unauthenticated');
  t.is((await replayWith(cookie, '/api/session')).status, 401);
  t.is((await replayWith(cookie, '/api/render/status')).status, 401);
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

import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Stack } from '../helpers/stack.js';
import type { Agent } from '../helpers/agent.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, waitFinished, waitStatus } from '../helpers/pipeline.js';
import { startRenderSimulator, type RenderSimulator } from '../../sandbox/render/index.js';
import { fingerprint } from '../../server/crypto/keyring.js';

// The workspaces a connected key sees change on Render while the user is signed in: the user is removed
// from a team (or added to one, or it is renamed). The session keeps the list Render gave at key setup
// (server/routes/renderKey.ts), so the app's view and Render's part ways. The simulator has no hook for a
// membership change, so the world is changed as Render's would be: the simulator is stopped, its saved
// world (stateFile) edited, and started again on its port (the app's key and records are untouched).

const dir = mkdtempSync(join(tmpdir(), 'key-workspaces-left-'));
const stateFile = join(dir, 'render.json');
const renderOptions = { phaseMs: QUICK_PHASES, stateFile };
let stack: Stack;
let restarted: RenderSimulator | null = null;
usePipelineStack(test, { renderOptions }, (p) => ({ stack } = p));
test.after.always(async () => { await restarted?.close(); rmSync(dir, { recursive: true, force: true }); });

interface Snapshot { accounts: Array<{ id: string; workspaceIds: string[] }>; workspaces: Array<{ id: string; name: string }> }

/** Render's world changed by hand (a membership, a name): stopped, its saved world edited, started again on its port. */
async function changeOnRender(edit: (snap: Snapshot) => void) {
  const port = Number(new URL(stack.render.url).port);
  await stack.render.close();
  const snap = JSON.parse(readFileSync(stateFile, 'utf8')) as Snapshot;
  edit(snap);
  writeFileSync(stateFile, JSON.stringify(snap));
  restarted = await startRenderSimulator({ ...renderOptions, port });
  stack.render = restarted;
}

const membership = (accountId: string, workspaceIds: string[]) => (snap: Snapshot) => {
  snap.accounts.find((a) => a.id === accountId)!.workspaceIds = workspaceIds;
};

/** The dashboard's next poll asks Render (its cached list, at most 20 s old, set aside: no timed wait). */
async function dashboard(agent: Agent, apiKey: string) {
  const userId = (await agent.get('/api/session')).json.user.id as number;
  await stack.web.deps.upstream.serviceCache.invalidate({ userId, keyFingerprint: fingerprint(apiKey, stack.web.deps.keyring) });
  return agent.get('/api/render/services');
}

async function userWithTeamService(login: string) {
  const apiKey = `rnd_${login}${'k'.repeat(24)}`;
  const account = stack.render.addAccount({ apiKey, workspaces: [{ name: `${login} personal` }, { name: `${login} team` }] });
  const [mine, team] = account.workspaces.map((w) => w.id) as [string, string];
  const agent = stack.agent();
  await stack.signIn(agent, login);
  const setup = await agent.post('/api/render/setup', { api_key: apiKey });
  if (setup.status !== 200) throw new Error(`setup: ${setup.text}`);
  addNodeRepo(stack, login, 'app');
  const dep = await waitFinished(agent, (await agent.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: `${login}-app`, owner_id: team })).json.id);
  if (dep.status !== 'live') throw new Error(`deploy: ${dep.status}`);
  return { apiKey, accountId: account.id, mine, team, agent, dep };
}

test.serial('removed from a team on Render while signed in: the dashboard does not mark that team\'s service "deleted" in the deployment history, and once re-added it is all back', async (t) => {
  const u = await userWithTeamService('wsgone');
  await changeOnRender(membership(u.accountId, [u.mine]));

  const list = await dashboard(u.agent, u.apiKey);
  t.is(list.status, 200, list.text);
  t.deepEqual(list.json.services, [], 'Render no longer lists it to this key');
  // The service still runs on Render: the user only lost access to its workspace.
  const rec = (await u.agent.get(`/api/render/deployments/${u.dep.id}`)).json;
  t.false(rec.serviceDeleted, 'the deployment page says the service was deleted, which it was not');

  // Re-added to the team: the service and its history are as they were.
  await changeOnRender(membership(u.accountId, [u.mine, u.team]));
  t.deepEqual((await dashboard(u.agent, u.apiKey)).json.services.map((s: { id: string }) => s.id), [u.dep.serviceId]);
  t.false((await u.agent.get(`/api/render/deployments/${u.dep.id}`)).json.serviceDeleted, 'history still says deleted after regaining access');
});

test.serial('removed from a team on Render: opening that service\'s settings page (or a redeploy from it) answers 404 but does not mark its deployments deleted', async (t) => {
  const u = await userWithTeamService('wsgone2');
  await changeOnRender(membership(u.accountId, [u.mine]));

  const settings = await u.agent.get(`/api/render/services/${u.dep.serviceId}/settings`);
  t.is(settings.status, 404, settings.text);
  const redeploy = await u.agent.post(`/api/render/services/${u.dep.serviceId}/redeploy`);
  t.is(redeploy.status, 404, redeploy.text);
  t.false((await u.agent.get(`/api/render/deployments/${u.dep.id}`)).json.serviceDeleted, 'marked deleted on a 404 that was about access');

  await changeOnRender(membership(u.accountId, [u.mine, u.team]));
  t.is((await u.agent.get(`/api/render/services/${u.dep.serviceId}/settings`)).status, 200, 'reachable again');
});

test.serial('a service of the team really deleted on Render is still marked deleted (the workspace is still seen)', async (t) => {
  const u = await userWithTeamService('wsdel');
  const del = await fetch(`${stack.render.url}/services/${u.dep.serviceId}`, { method: 'DELETE', headers: { authorization: `Bearer ${u.apiKey}` } });
  t.is(del.status, 204);
  const list = await dashboard(u.agent, u.apiKey);
  t.is(list.status, 200);
  t.true((await u.agent.get(`/api/render/deployments/${u.dep.id}`)).json.serviceDeleted);
});

test.serial('pasting the same key again is how the list follows Render today (joined, left, renamed)', async (t) => {
  const apiKey = `rnd_wsrepaste${'k'.repeat(22)}`;
  const account = stack.render.addAccount({ apiKey, workspaces: [{ name: 'rp personal' }, { name: 'rp old team' }] });
  const other = stack.render.addAccount({ apiKey: `rnd_wsrepasteother${'k'.repeat(16)}`, workspaces: [{ name: 'rp new team' }] });
  const agent = stack.agent();
  await stack.signIn(agent, 'wsrepaste');
  t.is((await agent.post('/api/render/setup', { api_key: apiKey })).status, 200);
  await changeOnRender((snap) => {
    snap.accounts.find((a) => a.id === account.id)!.workspaceIds = [account.workspaces[0]!.id, other.workspaces[0]!.id];
    snap.workspaces.find((w) => w.id === account.workspaces[0]!.id)!.name = 'rp personal (renamed)';
  });
  const again = await agent.post('/api/render/setup', { api_key: apiKey });
  t.is(again.status, 200, again.text);
  t.deepEqual(again.json.owners.map((o: { name: string }) => o.name).sort(), ['rp new team', 'rp personal (renamed)']);
  // The deploy into the workspace left is refused before anything is queued.
  const refused = await agent.post('/api/render/deploy', { github_repo: 'wsrepaste/app', project_name: 'x', owner_id: account.workspaces[1]!.id });
  t.is(refused.status, 400);
  t.regex(refused.json.error.message, /not one of the workspaces/);
});

test.serial('two tabs: one connects another account\'s key while the other submits the deploy form with the old key\'s workspace: refused, nothing queued, no deployment made with either key', async (t) => {
  const keyA = `rnd_wstabsa${'k'.repeat(24)}`;
  const keyB = `rnd_wstabsb${'k'.repeat(24)}`;
  const a = stack.render.addAccount({ apiKey: keyA, workspaces: [{ name: 'tabs A' }] });
  stack.render.addAccount({ apiKey: keyB, workspaces: [{ name: 'tabs B' }] });
  const tab1 = stack.agent();
  await stack.signIn(tab1, 'wstabs');
  t.is((await tab1.post('/api/render/setup', { api_key: keyA })).status, 200);
  // The second tab shares the session (the same cookie jar).
  const tab2 = stack.agent();
  for (const [k, v] of tab1.jar) tab2.jar.set(k, v);
  tab2.csrfToken = tab1.csrfToken;
  addNodeRepo(stack, 'wstabs', 'app');
  const before = (await tab1.get('/api/render/my-deployments')).json.deployments.length;
  t.is((await tab2.post('/api/render/setup', { api_key: keyB })).status, 200);
  const res = await tab1.post('/api/render/deploy', { github_repo: 'wstabs/app', project_name: 'tabs-app', owner_id: a.ownerId });
  t.is(res.status, 400, res.text);
  t.regex(res.json.error.message, /not one of the workspaces your Render key can use/);
  t.is((await tab1.get('/api/render/my-deployments')).json.deployments.length, before, 'no deployment recorded');
});

// The worker's step meeting that 404 (workers/tasks/serviceGone.ts) ended the deployment "service deleted" and
// marked every deployment of the service so, the same mistake the web made.
test.serial('removed from a team on Render while a redeploy there builds: the worker does not end it "service deleted" nor mark the service so', async (t) => {
  const u = await userWithTeamService('wsgonerun');
  t.teardown(stack.render.holdPhase({ serviceName: 'wsgonerun-app' }, 'build_in_progress'));
  const asked = await u.agent.post(`/api/render/services/${u.dep.serviceId}/redeploy`);
  t.is(asked.status, 202, asked.text);
  await waitStatus(u.agent, asked.json.id, 'build_in_progress');
  await changeOnRender(membership(u.accountId, [u.mine]));
  const ended = await waitFinished(u.agent, asked.json.id);
  t.is(ended.failure?.code, 'workspace_not_seen', JSON.stringify(ended.failure));
  t.regex(ended.failure?.message ?? '', /no longer sees this service's workspace.*not deleted/);
  t.false(ended.serviceDeleted);
  t.false((await u.agent.get(`/api/render/deployments/${u.dep.id}`)).json.serviceDeleted, 'the first deploy\'s page says its service was deleted');
});

// The list followed Render only when the key was pasted again (the test above): the deploy form and Settings
// now ask POST /api/render/workspaces/refresh as they open (server/routes/renderKey.ts).
test.serial('the workspaces refresh follows Render: a team joined is offered, one left is not, a renamed one has its new name', async (t) => {
  const apiKey = `rnd_wsrefresh${'k'.repeat(22)}`;
  const account = stack.render.addAccount({ apiKey, workspaces: [{ name: 'rf personal' }, { name: 'rf old team' }] });
  const other = stack.render.addAccount({ apiKey: `rnd_wsrefreshother${'k'.repeat(16)}`, workspaces: [{ name: 'rf new team' }] });
  const agent = stack.agent();
  await stack.signIn(agent, 'wsrefresh');
  t.is((await agent.post('/api/render/setup', { api_key: apiKey })).status, 200);
  const before = (await agent.get('/api/render/status')).json;

  // Unchanged on Render: the same answer, nothing written (verifiedAt as it was).
  const same = await agent.post('/api/render/workspaces/refresh');
  t.is(same.status, 200, same.text);
  t.deepEqual(same.json, before);

  await changeOnRender((snap) => {
    snap.accounts.find((a) => a.id === account.id)!.workspaceIds = [account.workspaces[0]!.id, other.workspaces[0]!.id];
    snap.workspaces.find((w) => w.id === account.workspaces[0]!.id)!.name = 'rf personal (renamed)';
  });
  const refreshed = await agent.post('/api/render/workspaces/refresh');
  t.is(refreshed.status, 200, refreshed.text);
  t.deepEqual(refreshed.json.owners.map((o: { name: string }) => o.name).sort(), ['rf new team', 'rf personal (renamed)']);
  t.is(refreshed.json.keyHint, before.keyHint);
  t.deepEqual((await agent.get('/api/render/status')).json, refreshed.json, 'the session keeps the new list');
  // The workspace left is refused before anything is queued; the one joined is offered.
  addNodeRepo(stack, 'wsrefresh', 'app');
  const refused = await agent.post('/api/render/deploy', { github_repo: 'wsrefresh/app', project_name: 'x', owner_id: account.workspaces[1]!.id });
  t.is(refused.status, 400);
  t.regex(refused.json.error.message, /not one of the workspaces/);
  const joined = await agent.post('/api/render/deploy', { github_repo: 'wsrefresh/app', project_name: 'rf-app', owner_id: other.workspaces[0]!.id });
  t.is(joined.status, 202, joined.text);
  t.is((await waitFinished(agent, joined.json.id)).status, 'live');
});

test.serial('a workspaces refresh whose key is cleared in another tab while Render answers changes nothing (409), and one without a key or CSRF token is refused', async (t) => {
  const apiKey = `rnd_wsrefrace${'k'.repeat(22)}`;
  const account = stack.render.addAccount({ apiKey, workspaces: [{ name: 'rr personal' }] });
  const other = stack.render.addAccount({ apiKey: `rnd_wsrefraceother${'k'.repeat(16)}`, workspaces: [{ name: 'rr team' }] });
  const agent = stack.agent();
  await stack.signIn(agent, 'wsrefrace');
  t.is((await agent.post('/api/render/workspaces/refresh')).json.error.code, 'render_key_missing');
  t.is((await agent.post('/api/render/setup', { api_key: apiKey })).status, 200);
  await changeOnRender(membership(account.id, [account.workspaces[0]!.id, other.workspaces[0]!.id]));

  const held = stack.render.holdRequest({ method: 'GET', route: '/owners', apiKey });
  t.teardown(held.release);
  const refreshing = agent.post('/api/render/workspaces/refresh');
  await held.arrived;
  t.is((await agent.post('/api/render/clear-credentials')).status, 200);
  held.release();
  const res = await refreshing;
  t.is(res.status, 409, res.text);
  t.is(res.json.error.code, 'render_key_changed');
  t.false((await agent.get('/api/render/status')).json.configured, 'the cleared key came back with the refreshed list');

  t.is((await agent.post('/api/render/setup', { api_key: apiKey })).status, 200);
  const noCsrf = await fetch(`${stack.url}/api/render/workspaces/refresh`, { method: 'POST', headers: { cookie: agent.cookieHeader(), origin: stack.url } });
  t.is(noCsrf.status, 403);
});

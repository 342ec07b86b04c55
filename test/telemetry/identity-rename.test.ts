import test from 'ava';
import { userTelemetry, unblock, type AdminDeps } from '../../server/telemetry/admin.js';
import { startSentinelStack, waitFor, findings, type SentinelStack } from '../sentinel/support.js';
import { addNodeRepo, waitFinished } from '../helpers/pipeline.js';
import { dumpRedis, type Stack } from '../helpers/stack.js';
import type { Agent } from '../helpers/agent.js';
import { adminDepsOfWeb, signInExisting } from './support.js';

// Identity over time. On GitHub a login can be renamed and then registered by someone else;
// a user id never changes and is never reused. Alice (id 1001, "alice") uses the app, renames to "alice2", and
// Mallory registers "alice" (id 2002) and signs in: she must reach nothing of Alice's, and Alice keeps it all.
// Driven through the real flows: GitHub sign-in on the simulator (renameUser: same id, new login, tokens kept),
// Render keys, a deploy through the worker, Sentinel with a Slack webhook and a finding, bearer tokens.

const ALICE = 1001;
const MALLORY = 2002;
const ALICE_KEY = `rnd_alice${'a'.repeat(24)}`;
const MALLORY_KEY = `rnd_mallory${'m'.repeat(24)}`;
const ALICE_HOOK = 'https://hooks.slack.com/services/TALICE/B000/XXXXXXXXXXXXXXXX';

let s: SentinelStack;
let stack: Stack;
const alice = {
  before: undefined as unknown as Agent, // signed in as "alice" before the rename; kept
  bearerToken: '',
  deploymentId: '',
  serviceId: '',
  ownerId: '',
  findingIds: [] as string[],
};

const simControl = (path: string, body: unknown) => fetch(`${stack.render.controlUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

const adminDeps = (): AdminDeps => adminDepsOfWeb(stack, () => Date.now());
const signInAs = (agent: Agent, login: string) => signInExisting(stack, agent, login);

test.before(async () => {
  // Bearer tokens are checked at GitHub again after a second (default 5 minutes): a rename is seen soon.
  s = await startSentinelStack({ env: { BEARER_RECHECK_SECONDS: '1' } });
  stack = s.stack;

  // Alice's life before the rename: a key, a deploy, the watch with her Slack webhook, a finding, a bearer token.
  const account = stack.render.addAccount({ apiKey: ALICE_KEY, workspaces: [{ name: 'alice workspace' }] });
  void account;
  alice.before = stack.agent();
  await stack.signIn(alice.before, 'alice', { id: ALICE });
  const setup = await alice.before.post('/api/render/setup', { api_key: ALICE_KEY });
  if (setup.status !== 200) throw new Error(`key setup: ${setup.status} ${setup.text}`);
  alice.ownerId = setup.json.owners[0].id;
  // One refused key: a lock-out count under her id.
  await alice.before.post('/api/render/setup', { api_key: `rnd_wrong${'w'.repeat(24)}` });
  await alice.before.post('/api/render/setup', { api_key: ALICE_KEY });
  addNodeRepo(stack, 'alice', 'app');
  const asked = await alice.before.post('/api/render/deploy', { github_repo: 'alice/app', project_name: 'alice-app', env_vars: [{ key: 'TOKEN', value: 'alice-secret-value-1' }] });
  if (asked.status !== 202 && asked.status !== 201) throw new Error(`deploy: ${asked.status} ${asked.text}`);
  const done = await waitFinished(alice.before, asked.json.id);
  if (done.status !== 'live') throw new Error(`deploy ended ${done.status}`);
  alice.deploymentId = done.id;
  alice.serviceId = done.serviceId ?? done.service?.id;
  const watch = await alice.before.request('PUT', '/api/sentinel', { json: { enabled: true, slackWebhookUrl: ALICE_HOOK, slackDeployResults: true } });
  if (watch.status !== 200) throw new Error(`sentinel: ${watch.status} ${watch.text}`);
  const control = await simControl('/audit', { ownerId: alice.ownerId, event: 'StartShellEvent', metadata: { service: alice.serviceId } });
  if (control.status >= 300) throw new Error(`sim audit: ${control.status}`);
  const found = await waitFor('alice\'s finding', async () => { const f = await findings(alice.before); return f.length ? f : null; });
  alice.findingIds = found.map((f) => f.id);
  alice.bearerToken = stack.github.issueToken('alice');
  const bearer = await stack.agent({ authorization: `Bearer ${alice.bearerToken}` }).get('/api/session');
  if (bearer.json?.user?.id !== ALICE) throw new Error(`bearer: ${bearer.status} ${bearer.text}`);
  await stack.web.deps.telemetry.recorder.flush();

  // GitHub: Alice renames to alice2; Mallory registers the freed "alice" and a repository under it.
  stack.github.renameUser('alice', 'alice2');
  stack.github.addUser({ id: MALLORY, login: 'alice', name: 'Mallory' });
  stack.github.addRepo({ owner: 'alice', name: 'app', branches: { main: { 'package.json': '{"name":"mallory"}', 'index.js': '' } } });
});
test.after.always(async () => { await s?.close(); });

test.serial('Mallory, holding the login "alice" now, reaches nothing of Alice\'s: deployments, services, Sentinel, webhook, audit, limits', async (t) => {
  const mallory = stack.agent();
  await signInAs(mallory, 'alice');
  const me = (await mallory.get('/api/session')).json;
  t.is(me.user.id, MALLORY, 'the session is the id GitHub named, not the login\'s last user');
  t.is(me.user.login, 'alice');
  t.is(me.render.configured, false, 'no Render key of Alice\'s');
  t.deepEqual(me.render.owners, []);

  t.deepEqual((await mallory.get('/api/render/my-deployments')).json.deployments ?? [], []);
  t.is((await mallory.get(`/api/render/deployments/${alice.deploymentId}`)).status, 404);
  const watch = (await mallory.get('/api/sentinel')).json;
  t.false(watch.enabled);
  t.false(watch.slack.configured, 'Alice\'s Slack webhook is not Mallory\'s');
  t.deepEqual(await findings(mallory), []);
  for (const id of alice.findingIds) t.is((await mallory.get(`/api/sentinel/findings/${id}`)).status, 404);
  const trail = (await mallory.get('/api/audit?limit=100')).json.entries as Array<{ userId?: number; detail: Record<string, unknown> }>;
  t.true(trail.length > 0);
  t.false(JSON.stringify(trail).includes(alice.deploymentId), 'no audit entry of Alice\'s deploy');
  t.false(trail.some((e) => e.userId === ALICE));

  // With a Render key of her own (another Render account): Alice's service is a 404 like any other's.
  stack.render.addAccount({ apiKey: MALLORY_KEY, workspaces: [{ name: 'mallory workspace' }] });
  t.is((await mallory.post('/api/render/setup', { api_key: MALLORY_KEY })).status, 200);
  const services = await mallory.get('/api/render/services');
  t.is(services.status, 200);
  t.false(services.text.includes(alice.serviceId));
  t.is((await mallory.post(`/api/render/services/${alice.serviceId}/redeploy`, {})).status, 404);

  // Redis: what is Mallory's is under her id; nothing of Alice's is under the login she shares with her.
  await stack.web.deps.telemetry.recorder.flush();
  const dump = await dumpRedis(stack.redis.client);
  const loginKeys = dump.split('\n').filter((line) => line.startsWith(`${stack.config.redisPrefix}:`) && /(^|:)alice(:|$)/i.test(line));
  t.true(loginKeys.length > 0 && loginKeys.every((k) => k.startsWith(`${stack.config.redisPrefix}:tel:login`)), `the only keys named by a login are telemetry's login → id index (name-claim keys name the service, "alice-app"): ${loginKeys.join(', ')}`);
  t.is(await stack.redis.client.get(`${stack.config.redisPrefix}:tel:login:alice`), String(MALLORY), 'which names the login\'s holder now');
});

test.serial('Alice signs in as alice2: everything is still hers, under her new login from now on; her session from before the rename still works as her', async (t) => {
  const now = stack.agent();
  await signInAs(now, 'alice2');
  const me = (await now.get('/api/session')).json;
  t.like(me.user, { id: ALICE, login: 'alice2' });
  t.is((await now.post('/api/render/setup', { api_key: ALICE_KEY })).status, 200);
  const mine = (await now.get('/api/render/my-deployments')).json;
  t.true(JSON.stringify(mine).includes(alice.deploymentId));
  t.is((await now.get(`/api/render/deployments/${alice.deploymentId}`)).status, 200);
  const watch = (await now.get('/api/sentinel')).json;
  t.true(watch.enabled, 'the watch another of her sessions turned on');
  t.true(watch.slack.configured);
  t.deepEqual((await findings(now)).map((f) => f.id).sort(), [...alice.findingIds].sort());
  const trail = (await now.get('/api/audit?limit=100')).json.entries as Array<{ action: string; detail: Record<string, unknown> }>;
  t.true(JSON.stringify(trail).includes(alice.deploymentId), 'her audit entries from before the rename');
  t.is(trail.find((e) => e.action === 'sign_in')?.detail.login, 'alice2', 'the newest sign-in names her new login');

  // Her session from before the rename: still hers (the id), still working, still labelled with the login of its sign-in.
  const before = await alice.before.get('/api/session');
  t.is(before.status, 200);
  t.is(before.json.user.id, ALICE);
  t.is((await alice.before.get(`/api/render/deployments/${alice.deploymentId}`)).status, 200);
});

test.serial('`npm run admin -- telemetry alice` names the login\'s holder now (Mallory), not Alice, once Alice\'s older session is used again', async (t) => {
  // Mallory signed in after the rename: GitHub's newest word on "alice" is that it is id 2002. Alice's session
  // from before the rename still carries "alice", and each of its requests tells telemetry that "alice" is 1001.
  const mallory = stack.agent();
  await signInAs(mallory, 'alice');
  t.is((await mallory.get('/api/session')).status, 200);
  await stack.web.deps.telemetry.recorder.flush();
  t.is((await alice.before.get('/api/session')).status, 200);
  await stack.web.deps.telemetry.recorder.flush();
  const report = await userTelemetry(adminDeps(), 'alice');
  t.regex(report[0]!, new RegExp(`GitHub id ${MALLORY}\\b`), `telemetry alice: ${report[0]}`);
});

test.serial('`npm run admin -- unblock alice` with nobody blocked: the grace period goes to the login\'s holder now, not to Alice', async (t) => {
  // As above: Mallory's requests after her sign-in, then one of Alice's session from before the rename.
  const mallory = stack.agent();
  await signInAs(mallory, 'alice');
  await stack.web.deps.telemetry.recorder.flush();
  t.is((await alice.before.get('/api/session')).status, 200);
  await stack.web.deps.telemetry.recorder.flush();
  const d = adminDeps();
  await d.redis.del(d.keys.grace(ALICE), d.keys.grace(MALLORY));
  const said = await unblock(d, 'alice');
  t.regex(said, /neither throttled nor blocked/);
  t.is(await d.redis.exists(d.keys.grace(ALICE)), 0, `Alice (alice2) got the grace period: ${said}`);
  t.is(await d.redis.exists(d.keys.grace(MALLORY)), 1);
});

test.serial('bearer tokens after the rename: Alice\'s maps to her id (and her new login); Mallory\'s to hers; Alice\'s revoked token is refused', async (t) => {
  await new Promise((r) => setTimeout(r, 1_100)); // past BEARER_RECHECK_SECONDS: GitHub is asked again
  const aliceBearer = stack.agent({ authorization: `Bearer ${alice.bearerToken}` });
  const seen = await aliceBearer.get('/api/session');
  t.is(seen.status, 200);
  t.is(seen.json.user.id, ALICE);
  t.true(JSON.stringify((await aliceBearer.get('/api/render/my-deployments')).json).includes(alice.deploymentId));
  const malloryToken = stack.github.issueToken('alice');
  const malloryBearer = stack.agent({ authorization: `Bearer ${malloryToken}` });
  const hers = await malloryBearer.get('/api/session');
  t.like(hers.json.user, { id: MALLORY, login: 'alice' });
  t.false(JSON.stringify((await malloryBearer.get('/api/render/my-deployments')).json).includes(alice.deploymentId));
  t.false(JSON.stringify((await malloryBearer.get('/api/sentinel')).json).includes('TALICE'));

  stack.github.revokeToken(alice.bearerToken);
  await new Promise((r) => setTimeout(r, 1_100));
  const refused = await aliceBearer.get('/api/session');
  t.is(refused.status, 401);
  t.is(refused.json.error.code, 'github_token_invalid');
  t.is((await malloryBearer.get('/api/session')).json.user.id, MALLORY, 'Mallory\'s token is not touched');
  t.is((await alice.before.get('/api/session')).json.user.id, ALICE, 'nor Alice\'s browser session');
});

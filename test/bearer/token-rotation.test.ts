import test from 'ava';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { loadConfig } from '../../server/config/env.js';
import { createLogger } from '../../server/logger.js';
import { startWeb, type WebProcess } from '../../server/web.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { envFor } from '../helpers/processes.js';
import { Agent } from '../helpers/agent.js';
import { manualClock } from '../../server/clock.js';

// SECRET_KEY rotation (SECURITY.md) for bearer token sessions: a token's entry and session are named
// by HMACs under SECRET_KEY, so under a new key they are found by the previous key's names and moved,
// as a cookie session is (test/security/rotation.test.ts): the Render key set in the token session is
// still there during the overlap and after it, and no second session is left holding it.
const KEY_A = randomBytes(32).toString('hex');
const KEY_B = randomBytes(32).toString('hex');
const clock = manualClock();
let stack: Stack;
let web: WebProcess | undefined;
test.before(async () => { stack = await startStack({ clock, env: { SECRET_KEY: KEY_A } }); });
test.after.always(async () => {
  await web?.close();
  if (web) stack.web.close = async () => {}; // already closed for the restart
  await stack?.close();
});

const quiet = () => createLogger({ level: 'silent', destination: new Writable({ write(_c, _e, cb) { cb(); } }) });
async function restartWeb(secrets: Record<string, string>): Promise<void> {
  await (web ?? stack.web).close();
  web = await startWeb({ config: loadConfig(envFor(stack.config, secrets)), logger: quiet(), host: '127.0.0.1', clock });
}

test.serial('a token session and the Render key in it survive A → B+A → B', async (t) => {
  await restartWeb({ SECRET_KEY: KEY_A });
  stack.github.addUser({ id: 95_000, login: 'tokenrotor' });
  const token = stack.github.issueToken('tokenrotor');
  const apiKey = `rnd_tokenrotor${'k'.repeat(24)}`;
  stack.render.addAccount({ apiKey, workspaces: [{ name: 'tokenrotor ws' }] });
  const api = new Agent(stack.url, { authorization: `Bearer ${token}` });
  t.is((await api.post('/api/render/setup', { api_key: apiKey })).status, 200);
  const records = async () => (await stack.redis.client.keys(`${stack.config.redisPrefix}:sess:*`)).length;
  const before = await records();

  await restartWeb({ SECRET_KEY: KEY_B, SECRET_KEY_PREVIOUS: KEY_A });
  const overlap = await api.get('/api/render/status');
  t.is(overlap.status, 200, overlap.text);
  t.true(overlap.json.configured, 'the key set before the rotation is still in the token session');
  t.is(await records(), before, 'moved, not a second session beside the first');

  await restartWeb({ SECRET_KEY: KEY_B });
  const after = await api.get('/api/render/status');
  t.is(after.status, 200, after.text);
  t.true(after.json.configured, 'moved to the new key during the overlap');
});

test.serial('a token GitHub refuses during the overlap, not used since the rotation: its session under the previous key ends', async (t) => {
  await restartWeb({ SECRET_KEY: KEY_A });
  stack.github.addUser({ id: 95_001, login: 'tokenleaver' });
  const token = stack.github.issueToken('tokenleaver');
  const apiKey = `rnd_tokenleaver${'k'.repeat(24)}`;
  stack.render.addAccount({ apiKey, workspaces: [{ name: 'tokenleaver ws' }] });
  stack.github.addRepo({ owner: 'tokenleaver', name: 'app', branches: { main: { 'package.json': '{}', 'index.js': '' } } });
  const api = new Agent(stack.url, { authorization: `Bearer ${token}` });
  t.is((await api.post('/api/render/setup', { api_key: apiKey })).status, 200);
  const deploy = await api.post('/api/render/deploy', { github_repo: 'tokenleaver/app', project_name: 'tokenleaver-app' });
  t.is(deploy.status, 202, deploy.text); // no worker runs: it stays queued

  await restartWeb({ SECRET_KEY: KEY_B, SECRET_KEY_PREVIOUS: KEY_A });
  stack.github.revokeToken(token);
  clock.advance(stack.config.bearerRecheckMs + 1_000);
  const refused = await api.get('/api/render/status');
  t.is(refused.status, 401, refused.text);
  const { client, prefix } = stack.redis;
  const refs = await client.smembers(`${prefix}:user:95001:sessions`);
  const live = (await Promise.all(refs.map((ref) => client.exists(`${prefix}:sess:${ref}`)))).filter((e) => e === 1);
  // Its deploy, queued with the previous key's ref, is stopped when a worker next reads its session (gone), as a cookie session's.
  t.deepEqual(live, [], 'no session of the token is left, under either key');
});

// A token session's ref is marked used when the session is made, so a generation whose record Redis
// expired (no tombstone) is never given a second session (test/bearer/token-session-expired-ref.test.ts).
// Across a rotation the mark of its name under the other key counts too: otherwise the new key's process
// made the second session under its own name, and the old key's moved it back onto the expired one's ref.
test.serial('a token session that expired in Redis before a rotation is not made again under its name, whichever key makes it', async (t) => {
  await restartWeb({ SECRET_KEY: KEY_A });
  stack.github.addUser({ id: 95_002, login: 'tokenlapsed' });
  const token = stack.github.issueToken('tokenlapsed');
  const apiKey = `rnd_tokenlapsed${'k'.repeat(24)}`;
  stack.render.addAccount({ apiKey, workspaces: [{ name: 'tokenlapsed ws' }] });
  stack.github.addRepo({ owner: 'tokenlapsed', name: 'app', branches: { main: { 'package.json': '{}', 'index.js': '' } } });
  const api = new Agent(stack.url, { authorization: `Bearer ${token}` });
  t.is((await api.post('/api/render/setup', { api_key: apiKey })).status, 200);
  const deploy = await api.post('/api/render/deploy', { github_repo: 'tokenlapsed/app', project_name: 'tokenlapsed-app' });
  t.is(deploy.status, 202, deploy.text); // no worker runs: it stays queued
  const askedRef = (await web!.deps.deployments.get(deploy.json.id as string))!.sessionRef;
  // Redis' TTL runs out with nobody reading the session (idle + 60 s in production).
  t.is(await stack.redis.client.del(web!.deps.sessions.keys.record(askedRef)), 1);

  await restartWeb({ SECRET_KEY: KEY_B, SECRET_KEY_PREVIOUS: KEY_A });
  t.is((await api.get('/api/session')).status, 200);
  t.is((await api.post('/api/render/setup', { api_key: apiKey })).status, 200);
  await restartWeb({ SECRET_KEY: KEY_A, SECRET_KEY_PREVIOUS: KEY_B }); // the other kind of process of the same overlap
  t.is((await api.get('/api/render/status')).json.configured, true, 'the token\'s new session and its key are found under either key');

  const revived = await web!.deps.sessions.loadByRef(askedRef);
  t.is(revived, undefined, 'the deploy asked in the expired session finds a live session under its ref');
});

test.serial('a token session moved by a rotation, then expired in Redis, is not made again under its new name after the rotation', async (t) => {
  await restartWeb({ SECRET_KEY: KEY_A });
  stack.github.addUser({ id: 95_003, login: 'tokenmoved' });
  const token = stack.github.issueToken('tokenmoved');
  const apiKey = `rnd_tokenmoved${'k'.repeat(24)}`;
  stack.render.addAccount({ apiKey, workspaces: [{ name: 'tokenmoved ws' }] });
  stack.github.addRepo({ owner: 'tokenmoved', name: 'app', branches: { main: { 'package.json': '{}', 'index.js': '' } } });
  const api = new Agent(stack.url, { authorization: `Bearer ${token}` });
  t.is((await api.post('/api/render/setup', { api_key: apiKey })).status, 200);
  const deploy = await api.post('/api/render/deploy', { github_repo: 'tokenmoved/app', project_name: 'tokenmoved-app' });
  t.is(deploy.status, 202, deploy.text); // no worker runs: it stays queued
  const askedRef = (await web!.deps.deployments.get(deploy.json.id as string))!.sessionRef;

  await restartWeb({ SECRET_KEY: KEY_B, SECRET_KEY_PREVIOUS: KEY_A });
  t.is((await api.get('/api/session')).status, 200); // moved to the new key's name; the old name points there
  const movedTo = await web!.deps.sessions.refsOf(askedRef);
  const newName = movedTo.find((ref) => ref !== askedRef)!;
  t.truthy(newName);
  // Redis' TTL runs out with nobody reading the session (idle + 60 s in production).
  t.is(await stack.redis.client.del(web!.deps.sessions.keys.record(newName)), 1);

  await restartWeb({ SECRET_KEY: KEY_B }); // the rotation over: nothing is looked up under the old key
  t.is((await api.get('/api/session')).status, 200);
  t.is((await api.post('/api/render/setup', { api_key: apiKey })).status, 200);
  const revived = await web!.deps.sessions.loadByRef(askedRef);
  t.is(revived, undefined, 'the deploy asked in the expired session finds a live session through its pointer');
});

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

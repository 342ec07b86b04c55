import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { Agent } from '../helpers/agent.js';
import { waitUntil } from '../helpers/wait.js';

// A token session's id is not random: HMAC(token id, generation) (server/bearer/tokenSessions.ts). The
// idle limit is enforced on read; Redis' TTL (idle + 60 s) is a backstop. A record that TTL removes,
// with nobody reading the session in between, leaves no tombstone, and the token's next request used to
// make a new session under the same id, so the same ref: a deploy queued in the expired session (or a
// Sentinel watch) found a live session of its user again, and with the same key stored again (a CI
// script's usual setup) the worker's credentials check passed. The ref is now marked used when its
// session is made (`sess-used:<ref>`), so the token's next session is a new generation.

let stack: Stack;
test.before(async () => { stack = await startStack(); });
test.after.always(async () => { await stack?.close(); });

test.serial('a token session whose record Redis expired is not made again under its ref: its queued deploy stays without consent', async (t) => {
  const login = 'expiredref';
  stack.github.addUser({ id: 97_100, login });
  const token = stack.github.issueToken(login);
  const apiKey = `rnd_${login}${'k'.repeat(24)}`;
  stack.render.addAccount({ apiKey, workspaces: [{ name: `${login} ws` }] });
  stack.github.addRepo({ owner: login, name: 'app', branches: { main: { 'package.json': '{"name":"app","scripts":{"start":"node index.js"}}', 'index.js': '' } } });
  const api = new Agent(stack.url, { authorization: `Bearer ${token}` });
  t.is((await api.post('/api/render/setup', { api_key: apiKey })).status, 200);
  const deployed = await api.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: `${login}-app` });
  t.is(deployed.status, 202, deployed.text); // no worker runs here: it stays queued

  const deps = stack.web.deps;
  const { client } = stack.redis;
  const asked = (await deps.deployments.get(deployed.json.id as string))!;
  const record = deps.sessions.keys.record(asked.sessionRef);

  // Redis' TTL runs out with nobody reading the session (idle + 60 s in production; shortened here).
  await client.pexpire(record, 1);
  t.true(await waitUntil('the record expired', async () => (await client.exists(record)) === 0, 5000, 20));
  t.is(await client.exists(deps.sessions.keys.tombstone(asked.sessionRef)), 0, 'no tombstone: nobody ended it');
  t.true(await waitUntil('the cached copy dropped', async () => (await deps.sessions.loadByRef(asked.sessionRef)) === undefined, 5000, 20));

  // The same token later: a new, empty session, and the same key stored in it again.
  const session = await api.get('/api/session');
  t.is(session.status, 200, session.text);
  const status = await api.get('/api/render/status');
  t.false(status.json.configured, 'the new session is empty');
  t.is((await api.post('/api/render/setup', { api_key: apiKey })).status, 200);

  // What the worker asks before it runs the queued deploy (workers/tasks/credentials.ts): the session by the record's ref.
  const now = await deps.sessions.loadByRef(asked.sessionRef);
  t.is(now, undefined, `the expired session's ref holds a live session again (${now?.render?.keyFingerprint === asked.keyFingerprint ? 'with the same key' : 'another key'})`);
  const refs = await client.smembers(`${stack.redis.prefix}:user:97100:sessions`);
  const live = refs.filter((ref) => ref !== asked.sessionRef);
  t.is(live.length, 1, 'the token\'s new session is under a ref of its own');
  t.truthy((await deps.sessions.loadByRef(live[0]!))?.render, 'and holds the key stored again');
  t.is(await client.exists(deps.sessions.keys.used(asked.sessionRef)), 1, 'what keeps the ref from a second session: its mark, left when its session was made');
});

import test from 'ava';
import { startOpsEnv, sleep, eventually, commandCalls, type OpsEnv, type ChildWeb } from './support/cluster.js';
import { Roamer, signInAcross, connectRenderKey } from './support/users.js';

// The session cache and the bearer token entry cache (server/sessions/cache.ts) stay correct only while
// Redis' client tracking reaches them. Two real web processes against one private Redis: after a
// FLUSHALL, and across a drop of the tracking connections (a logout going through one process while
// the other's tracking connection is down), no process answers from a copy of a session that ended.
// Serial: the tests flush Redis and kill its connections.
const run = process.env.REDIS_URL ? test.serial.skip : test.serial; // FLUSHALL and CLIENT KILL need a private redis-server

let env: OpsEnv;
let webs: ChildWeb[];
test.before(async () => {
  if (process.env.REDIS_URL) return;
  env = await startOpsEnv();
  webs = await Promise.all([env.spawnWeb(), env.spawnWeb()]);
});
test.after.always(async () => { await env?.close(); });

let nextUserId = 93_000;
function tokenFor(login: string): string {
  env.github.addUser({ id: nextUserId++, login, name: `${login} name` });
  return env.github.issueToken(login);
}
const githubChecks = (login: string) => env.github.calls.filter((c) => c.path === '/api/v3/user' && c.login === login).length;
async function bearerCall(web: ChildWeb, token: string, path: string, method = 'GET', body?: unknown) {
  const res = await fetch(`${web.url}${path}`, {
    method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() as Record<string, unknown> };
}
const cookieStatus = async (web: ChildWeb, cookie: string) => (await fetch(`${web.url}/api/session`, { headers: { cookie } })).status;

/** A signed-in browser and a bearer token, each with a Render key, warm in both processes' caches. */
async function warmUsers(name: string) {
  const browser = new Roamer(webs.map((w) => w.url));
  await signInAcross(env, browser, `${name}-browser`);
  await connectRenderKey(env, browser.at(0), `${name}-browser`);
  const login = `${name}-token`;
  const token = tokenFor(login);
  const apiKey = `rnd_${name.replace(/[^A-Za-z0-9]/g, '')}token${'k'.repeat(24)}`;
  env.render.addAccount({ apiKey, workspaces: [{ name: `${login} workspace` }] });
  const setup = await bearerCall(webs[0]!, token, '/api/render/setup', 'POST', { api_key: apiKey });
  if (setup.status !== 200) throw new Error(`bearer key setup: ${setup.status} ${JSON.stringify(setup.json)}`);
  const cookie = browser.at(0).cookieHeader();
  for (let i = 0; i < 2; i++) {
    for (const w of webs) {
      if ((await cookieStatus(w, cookie)) !== 200) throw new Error('browser session not served');
      if ((await bearerCall(w, token, '/api/render/status')).json.configured !== true) throw new Error('token session not served');
    }
  }
  return { browser, cookie, token, login };
}

/** Connections with client tracking on (each cache's own: `redir=` its own id), by id. */
async function trackingClients(): Promise<string[]> {
  const list = await env.redis.client.client('LIST') as string;
  return list.split('\n').filter((l) => /\bredir=\d+/.test(l)).map((l) => /\bid=(\d+)/.exec(l)![1]!);
}

const calls = (command: string) => commandCalls(env, command);

run('after a FLUSHALL no process serves a session or token entry from memory', async (t) => {
  const { cookie, token, login } = await warmUsers('flushed');
  const checksBefore = githubChecks(login);
  await env.redis.client.flushall();
  // Redis writes FLUSHALL's reply and the invalidations it sends the tracking connections in the same turn
  // of its event loop, the reply first: a request sent the instant the reply is read can reach a process
  // before its invalidation (10 in 300 under three CPU hogs). Any later answer from Redis comes after that
  // turn, so a request sent after it finds the invalidation already in the process's socket (0 in 900).
  // What an operator's FLUSHALL gets; the app's own ending writes wait for every process instead (fence.ts).
  await env.redis.client.ping();
  for (const w of webs) t.is(await cookieStatus(w, cookie), 401, 'the browser session is gone everywhere');
  for (const w of webs) {
    const res = await bearerCall(w, token, '/api/render/status');
    t.is(res.status, 200, 'the token starts a new session');
    t.is(res.json.configured, false, 'not the flushed session, which held a key');
  }
  t.true(githubChecks(login) > checksBefore, 'the flushed token entry was not used: GitHub was asked again');
});

run('a logout while the tracking connections are down: no process serves the ended session, and tracking comes back', async (t) => {
  const { browser, cookie, token } = await warmUsers('dropped');
  // Each cache sets tracking up on its own after its process starts: waited for, not assumed done.
  t.true(await eventually(async () => (await trackingClients()).length === 4), 'two caches per process track their keys');
  // webs[1] serves both sessions in a loop (its copies are warm) throughout.
  const served: Array<{ sentAt: number; answeredAt: number; cookie: number; configured: unknown }> = [];
  let reading = true;
  const reader = (async () => {
    while (reading) {
      const sentAt = performance.now();
      const [c, b] = await Promise.all([cookieStatus(webs[1]!, cookie), bearerCall(webs[1]!, token, '/api/render/status')]);
      served.push({ sentAt, answeredAt: performance.now(), cookie: c, configured: b.json.configured });
    }
  })();
  // Kill every tracking connection again and again (ioredis reconnects within ~200 ms) while both sessions end.
  let killing = true;
  let kills = 0;
  const killer = (async () => {
    while (killing) {
      for (const id of await trackingClients()) kills += Number(await env.redis.client.client('KILL', 'ID', id));
      await sleep(5);
    }
  })();
  let loggedOutAt = Infinity;
  let logoutSentAt = 0;
  try {
    while (served.length < 3) await sleep(20);
    t.true(await eventually(() => kills >= 4), 'every tracking connection was killed before the logouts');
    logoutSentAt = performance.now();
    const out = await browser.at(0).post('/api/auth/logout');
    t.true(out.status === 200 || out.status === 204, `logout: ${out.status}`);
    t.is((await bearerCall(webs[0]!, token, '/api/auth/logout', 'POST')).status, 200);
    loggedOutAt = performance.now();
    // Read while the tracking connections keep dropping (a few requests, however loaded the machine is).
    await eventually(() => served.filter((r) => r.sentAt > loggedOutAt).length >= 3);
  } finally {
    killing = false;
    await killer;
    reading = false;
    await reader;
  }
  const before = served.filter((r) => r.answeredAt < logoutSentAt);
  const after = served.filter((r) => r.sentAt > loggedOutAt);
  t.true(before.length > 0 && before.every((r) => r.cookie === 200 && r.configured === true), 'served while signed in');
  t.true(after.length > 0, 'requests were sent after the logouts');
  t.deepEqual(after.filter((r) => r.cookie !== 401 || r.configured !== false), [], 'nothing sent after the logouts was answered from an ended session');
  // Tracking is set up again on reconnect, and the caches fill again: a new session is read from Redis once.
  t.true(await eventually(async () => (await trackingClients()).length === 4), 'tracking re-established');
  const again = new Roamer(webs.map((w) => w.url));
  await signInAcross(env, again, 'dropped-again');
  const fresh = again.at(1).cookieHeader();
  t.is(await cookieStatus(webs[1]!, fresh), 200);
  const reads = await calls('hmget');
  for (let i = 0; i < 20; i++) t.is(await cookieStatus(webs[1]!, fresh), 200);
  t.true((await calls('hmget')) - reads <= 1, 'answered from the cache again');
});

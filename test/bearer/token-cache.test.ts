import test from 'ava';
import { startMonitor } from '../helpers/redisMonitor.js';
import { sharedFixture } from '../helpers/fixture.js';
import { startOpsEnv, sleep, eventually, type OpsEnv, type ChildWeb } from '../ops/support/cluster.js';

// Each web process keeps bearer token entries (`<prefix>:bearer:<HMAC(token)>`) in memory, dropped by
// Redis' invalidation messages like its session records (server/sessions/cache.ts). Two real web
// processes against one Redis: whatever one of them (or a Redis writer) does to a token's entry or
// session, the other stops answering from its copy before the next request.
// Serial: the tests watch Redis commands.

let env: OpsEnv;
let webs: ChildWeb[];
sharedFixture(test, () => startOpsEnv(), async (started) => {
  env = started;
  webs = await Promise.all([env.spawnWeb(), env.spawnWeb()]);
});

let nextUserId = 91_000;
function tokenFor(login: string): string {
  env.github.addUser({ id: nextUserId++, login, name: `${login} name` });
  return env.github.issueToken(login);
}
async function call(web: ChildWeb, token: string, path: string, method = 'GET', body?: unknown) {
  const res = await fetch(`${web.url}${path}`, {
    method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() as Record<string, unknown> };
}

/** Commands Redis ran on token entries while `during` ran (MONITOR on a connection of its own). */
async function entryCommands(during: () => Promise<void>): Promise<string[]> {
  const monitor = await startMonitor(env.redis.url); // a connection of its own
  const seen: string[] = [];
  const entryPrefix = `${env.redis.prefix}:bearer:`;
  monitor.on((args) => {
    if (args.some((a) => a.startsWith(entryPrefix))) seen.push(String(args[0]).toLowerCase());
  });
  try {
    await during();
    await sleep(50); // the last commands' echoes
  } finally {
    monitor.stop();
  }
  return seen;
}

test.serial('repeated bearer requests are answered without reading the token entry from Redis', async (t) => {
  const token = tokenFor('entry-reader');
  // Checked with GitHub on the first; the process that wrote the entry reads it once more, then both are warm.
  for (let i = 0; i < 2; i++) for (const w of webs) t.is((await call(w, token, '/api/session')).status, 200);
  const seen = await entryCommands(async () => {
    for (let i = 0; i < 20; i++) for (const w of webs) t.is((await call(w, token, '/api/session')).status, 200);
  });
  t.deepEqual(seen, [], 'no command on the token entry for 40 requests');
});

test.serial('signing out a token on one process while the other serves it: nothing sent after the sign-out runs on the old session', async (t) => {
  const token = tokenFor('entry-leaver');
  const apiKey = `rnd_entryleaver${'k'.repeat(24)}`;
  env.render.addAccount({ apiKey, workspaces: [{ name: 'entry-leaver workspace' }] });
  const setup = await call(webs[0]!, token, '/api/render/setup', 'POST', { api_key: apiKey });
  t.is(setup.status, 200, JSON.stringify(setup.json));
  // webs[1] serves the token in a loop (its copies are warm) while the sign-out goes through webs[0].
  const served: Array<{ sentAt: number; answeredAt: number; status: number; configured: unknown }> = [];
  let stop = false;
  const reader = (async () => {
    while (!stop) {
      const sentAt = performance.now();
      const { status, json } = await call(webs[1]!, token, '/api/render/status');
      served.push({ sentAt, answeredAt: performance.now(), status, configured: json.configured });
    }
  })();
  while (served.length < 3) await sleep(20);
  const logoutSentAt = performance.now();
  const out = await call(webs[0]!, token, '/api/auth/logout', 'POST');
  const loggedOutAt = performance.now();
  t.is(out.status, 200);
  // A few reads sent after the sign-out, however long each takes on a loaded machine (a fixed 300 ms
  // could pass with none sent).
  await eventually(() => served.filter((r) => r.sentAt > loggedOutAt).length >= 3);
  stop = true;
  await reader;
  // Before: the session holding the key. After: the token's next session, which holds no key.
  const before = served.filter((r) => r.answeredAt < logoutSentAt);
  const after = served.filter((r) => r.sentAt > loggedOutAt);
  t.true(before.length > 0 && before.every((r) => r.status === 200 && r.configured === true), 'served on the first session');
  t.true(after.length > 0, 'requests were sent after the sign-out');
  t.deepEqual(after.filter((r) => r.status !== 200 || r.configured !== false), [], 'nothing sent after the sign-out was answered from the ended session');
});

test.serial('a Redis writer deleting the token entry: every process checks the token with GitHub again', async (t) => {
  const token = tokenFor('entry-deleted');
  for (const w of webs) t.is((await call(w, token, '/api/session')).status, 200);
  env.github.revokeToken(token); // inside the re-check window: still served from the entry
  for (const w of webs) t.is((await call(w, token, '/api/session')).status, 200);
  const entries = await env.redis.client.keys(`${env.redis.prefix}:bearer:*`);
  await env.redis.client.del(...entries);
  // Redis may write the DEL's reply a moment before the invalidations of the same turn (server/sessions/cache.ts):
  // any later answer from Redis comes after them.
  await env.redis.client.ping();
  for (const w of webs) {
    const res = await call(w, token, '/api/session');
    t.is(res.status, 401, 'the copy of the deleted entry is gone: GitHub was asked and refused');
    t.is((res.json.error as { code: string }).code, 'github_token_invalid');
  }
});

test.serial('concurrent first requests for a new token, on both processes: the same user, one token session, one entry', async (t) => {
  const login = 'entry-first-burst';
  const token = tokenFor(login);
  const checks = () => env.github.calls.filter((c) => c.path === '/api/v3/user' && c.login === login).length;
  const burst = () => Promise.all(Array.from({ length: 12 }, (_, i) => call(webs[i % webs.length]!, token, '/api/session')));
  const first = await burst();
  t.deepEqual(first.map((r) => r.status), first.map(() => 200), JSON.stringify(first.find((r) => r.status !== 200)?.json));
  const users = new Set(first.map((r) => (r.json.user as { id: number }).id));
  t.is(users.size, 1, 'every request ran as the same user');
  const [userId] = [...users];
  t.true(checks() <= webs.length, `GitHub was asked at most once per process (${checks()})`);
  // Live sessions of this user: refs in its index whose record exists. The losers of the race must
  // join the winner's session, not start generations of their own (which would orphan the first).
  const live = async () => {
    const refs = await env.redis.client.smembers(`${env.redis.prefix}:user:${userId}:sessions`);
    const exists = await Promise.all(refs.map((ref) => env.redis.client.exists(`${env.redis.prefix}:sess:${ref}`)));
    return refs.filter((_, i) => exists[i] === 1);
  };
  t.is((await live()).length, 1, 'one token session');
  const entries = await env.redis.client.keys(`${env.redis.prefix}:bearer:*`);
  const uids = await Promise.all(entries.map((k) => env.redis.client.hget(k, 'uid')));
  t.is(uids.filter((u) => u === String(userId)).length, 1, 'one token entry');
  // The next requests, warm or not, stay on that session.
  const again = await burst();
  t.true(again.every((r) => r.status === 200));
  t.is((await live()).length, 1, 'still one token session');
});

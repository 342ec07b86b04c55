import test from 'ava';
import { startOpsEnv, sleep, eventually, commandCalls, type OpsEnv, type ChildWeb } from './support/cluster.js';
import { Roamer, signInAcross, connectRenderKey } from './support/users.js';

// Each web process keeps decrypted sessions in memory (server/sessions/cache.ts), dropped by Redis'
// invalidation messages. Two real web processes against one Redis: whatever one of them (or a Redis
// writer) does to a session, the other stops answering from its copy before the next request.
// Serial: the tests count Redis commands.

let env: OpsEnv;
let webs: ChildWeb[];
test.before(async () => {
  env = await startOpsEnv();
  webs = await Promise.all([env.spawnWeb(), env.spawnWeb()]);
});
test.after.always(async () => { await env?.close(); });

const calls = (command: string) => commandCalls(env, command);

const getSession = (url: string, cookie: string) => fetch(`${url}/api/session`, { headers: { cookie } });

test.serial('repeated reads of one session are answered from memory, not from Redis', async (t) => {
  const user = new Roamer(webs.map((w) => w.url));
  await signInAcross(env, user, 'cached-reader');
  const cookie = user.at(0).cookieHeader();
  t.is((await getSession(webs[0]!.url, cookie)).status, 200);
  const before = await calls('hmget');
  for (let i = 0; i < 20; i++) t.is((await getSession(webs[0]!.url, cookie)).status, 200);
  t.true((await calls('hmget')) - before <= 1, 'at most one record read for 20 requests');
});

test.serial('signing out on one process while the other serves the same cookie: every later request there is 401', async (t) => {
  const user = new Roamer(webs.map((w) => w.url));
  await signInAcross(env, user, 'cache-leaver');
  const cookie = user.at(0).cookieHeader();
  // webs[1] serves the cookie in a loop (its copy is warm) while the sign-out goes through webs[0].
  const served: Array<{ sentAt: number; answeredAt: number; status: number }> = [];
  let stop = false;
  const reader = (async () => {
    while (!stop) {
      const sentAt = performance.now();
      const { status } = await getSession(webs[1]!.url, cookie);
      served.push({ sentAt, answeredAt: performance.now(), status });
    }
  })();
  while (served.length < 3) await sleep(20); // the copy on webs[1] is warm
  const logoutSentAt = performance.now();
  const out = await user.at(0).post('/api/auth/logout');
  const loggedOutAt = performance.now();
  t.true(out.status === 200 || out.status === 204, `logout: ${out.status}`);
  // A few reads sent after the sign-out, however long each takes on a loaded machine (a fixed 300 ms
  // could pass with none sent).
  await eventually(() => served.filter((r) => r.sentAt > loggedOutAt).length >= 3);
  stop = true;
  await reader;
  // Answered before the sign-out was even sent: signed in. Sent after it was answered: signed out.
  const before = served.filter((r) => r.answeredAt < logoutSentAt);
  const after = served.filter((r) => r.sentAt > loggedOutAt);
  t.true(before.length > 0 && before.every((r) => r.status === 200), 'served while signed in');
  t.true(after.length > 0, 'requests were sent after the sign-out');
  t.deepEqual(after.filter((r) => r.status !== 401), [], 'nothing sent after the sign-out was answered from the old copy');
});

test.serial('clearing the key on one process: the other shows no key at its next request (the version does not change)', async (t) => {
  const user = new Roamer(webs.map((w) => w.url));
  await signInAcross(env, user, 'cache-clearer');
  await connectRenderKey(env, user.at(0), 'cache-clearer');
  const status = () => user.at(1).get('/api/render/status');
  t.true((await status()).json.configured);
  t.true((await status()).json.configured, 'warm on the second process');
  const cleared = await user.at(0).post('/api/render/clear-credentials');
  t.is(cleared.status, 200, cleared.text);
  t.false((await status()).json.configured, 'the cleared key is gone on the other process too');
});

test.serial('a Redis writer deleting the record: the cached copy is dropped as well', async (t) => {
  const user = new Roamer(webs.map((w) => w.url));
  await signInAcross(env, user, 'cache-deleted');
  const cookie = user.at(0).cookieHeader();
  for (const w of webs) t.is((await getSession(w.url, cookie)).status, 200);
  const records = await env.redis.client.keys(`${env.redis.prefix}:sess:*`);
  // Every session of this test file is deleted: the one just used is among them.
  await env.redis.client.del(...records);
  // Redis may write the DEL's reply a moment before the invalidations of the same turn (server/sessions/cache.ts):
  // any later answer from Redis comes after them.
  await env.redis.client.ping();
  for (const w of webs) t.is((await getSession(w.url, cookie)).status, 401);
});

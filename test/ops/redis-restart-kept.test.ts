import test from 'ava';
import { startOpsEnv, eventually, logLines, commandCalls, PROCESS_TEST_TIMEOUT_MS, PROGRESS_WAIT_MS, type OpsEnv, type ChildWeb } from './support/cluster.js';
import { Roamer, signInAcross, openEvents } from './support/users.js';

// Redis restarts with its data kept (persistence on) but every connection cut, while two web
// processes and a worker stay up. Sessions survive; what must come back by itself is each process's
// client tracking (its session cache's invalidations), the ending side's fence subscriptions, and the
// SSE hub's subscriber: after the restart a sign-out on one process still reaches the other's cache at
// once (and is answered on every process's ack, not at the fence's timeout), and live updates flow.
const run = process.env.REDIS_URL ? test.serial.skip : test.serial; // restarting redis-server needs a private one

const FENCE_MS = 20_000; // far past any ack: its warning can only mean a process did not answer
let env: OpsEnv;
let webs: ChildWeb[];
test.before(async () => {
  if (process.env.REDIS_URL) return;
  env = await startOpsEnv({ persistence: true });
  webs = await Promise.all([env.spawnWeb({ env: { SESSION_END_FENCE_MS: String(FENCE_MS) } }), env.spawnWeb({ env: { SESSION_END_FENCE_MS: String(FENCE_MS) } })]);
  await env.spawnWorker();
});
test.after.always(async () => { await env?.close(); });

/** Connections with client tracking on (each cache's own: `redir=` its own id). */
async function trackingClients(): Promise<number> {
  const list = await env.redis.client.client('LIST') as string;
  return list.split('\n').filter((l) => /\bredir=\d+/.test(l)).length;
}
const fenceSubscribers = async (): Promise<number> => Number(((await env.redis.client.pubsub('NUMSUB', `${env.config.redisPrefix}:session-fence`)) as [string, number])[1]);
const cookieStatus = async (web: ChildWeb, cookie: string) => (await fetch(`${web.url}/api/session`, { headers: { cookie } })).status;

run('Redis restarted with its data: tracking, fence and live updates come back; a sign-out on one process reaches the other at once', async (t) => {
  t.timeout(PROCESS_TEST_TIMEOUT_MS);
  const user = new Roamer(webs.map((w) => w.url));
  await signInAcross(env, user, 'kept-ann');
  const cookie = user.at(0).cookieHeader();
  const userId = (await user.at(0).get('/api/session')).json.user.id as number;
  t.true(await eventually(async () => (await trackingClients()) >= 4 && (await fenceSubscribers()) >= 3, PROGRESS_WAIT_MS), 'tracking set up before');
  const [tracking, fences] = [await trackingClients(), await fenceSubscribers()];

  await env.redis.restart({ downMs: 500 });
  t.true(await eventually(async () => (await Promise.all(webs.map(async (w) => (await fetch(`${w.url}/readyz`)).status))).every((s) => s === 200), PROGRESS_WAIT_MS, 100), 'ready again');
  for (const w of webs) t.is(await cookieStatus(w, cookie), 200, 'the session survived (persistence)');
  t.true(await eventually(async () => (await trackingClients()) === tracking && (await fenceSubscribers()) === fences, PROGRESS_WAIT_MS), `tracking and fence subscriptions back (${await trackingClients()}/${tracking}, ${await fenceSubscribers()}/${fences})`);

  // web 1 serves the session from memory again.
  for (let i = 0; i < 3; i++) t.is(await cookieStatus(webs[1]!, cookie), 200);
  const reads = await commandCalls(env, 'hmget');
  for (let i = 0; i < 20; i++) t.is(await cookieStatus(webs[1]!, cookie), 200);
  t.true((await commandCalls(env, 'hmget')) - reads <= 1, 'answered from the cache again');

  // Live updates through web 1's hub after the restart.
  const stream = await openEvents(webs[1]!.url, cookie);
  t.is(stream.status, 200);
  t.true(await eventually(() => stream.events.some((e) => e.event === 'subscribed'), PROGRESS_WAIT_MS), 'subscribed');
  await env.redis.client.publish(`${env.config.redisPrefix}:events:${userId}`, JSON.stringify({ id: 'dep-after-restart', status: 'live', updatedAt: new Date().toISOString() }));
  t.true(await eventually(() => stream.events.some((e) => e.data.includes('dep-after-restart')), 10_000), 'the update reached the stream');

  // A sign-out through web 0: answered on every process's ack (no fence timeout's warning), and web 1 refuses the session at once.
  const out = await user.at(0).post('/api/auth/logout');
  t.true(out.status < 300, `logout: ${out.status}`);
  t.is(await cookieStatus(webs[1]!, cookie), 401, 'web 1 no longer serves its copy');
  t.deepEqual(webs.flatMap((w) => logLines(w.output, 'session end: not every process confirmed dropping its cached copy in time; answering anyway')), []);
  await Promise.race([stream.ended, new Promise((r) => setTimeout(r, 10_000))]);
  t.true(stream.events.some((e) => e.event === 'session'), 'the stream ended with the session');
  stream.close();
});

import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { Redis, ReplyError } from 'ioredis';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { freePort } from '../helpers/ports.js';
import { startEntry, logLines, eventually } from './support/cluster.js';
import { CHILD_START_TIMEOUT_MS } from '../helpers/processes.js';
import { isRedisRefusingWrites, isRedisUnavailable } from '../../server/redis.js';
import { toAppError } from '../../server/middleware/errorHandler.js';

// Redis that answers PING and reads but refuses every write: maxmemory reached under the noeviction policy
// render.yaml sets (`OOM command not allowed…`), or a replica that takes no writes (`READONLY …`). /readyz
// checked only PING and a queue read, so it said ready while sign-in failed, and sign-in's failure was a
// 500 internal_error (found by an operations probe). Now readiness also writes (SET and DEL of a key of
// its own in one MULTI, server/routes/health.ts), and those refusals answer 503 storage_unavailable with
// Retry-After (isRedisRefusingWrites, server/middleware/errorHandler.ts toAppError).

let redis: TestRedis;
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { await redis?.client.config('SET', 'maxmemory', '0').catch(() => {}); await redis?.stop(); });

function startWebProcess(t: { teardown(fn: () => void): void }, port: number) {
  const web = startEntry('server/index.ts', {
    PATH: process.env.PATH ?? '', NODE_ENV: 'test', LOG_LEVEL: 'info', PORT: String(port), HOST: '127.0.0.1',
    BASE_URL: `http://127.0.0.1:${port}`, SECRET_KEY: randomBytes(32).toString('hex'), REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix,
    GITHUB_CLIENT_ID: 'Iv1.probeclient', GITHUB_CLIENT_SECRET: 'probe-secret-0123456789', GITHUB_OAUTH_URL: 'http://127.0.0.1:9', GITHUB_API_URL: 'http://127.0.0.1:9',
  });
  t.teardown(() => { web.proc.kill('SIGKILL'); });
  return web;
}

/** A web process on a free port, listening and ready (its base URL). */
async function readyWeb(t: ExecutionContext): Promise<string> {
  const port = await freePort();
  const web = startWebProcess(t, port);
  await eventually(() => logLines(web.output, 'web listening').length === 1 || web.proc.exitCode !== null, CHILD_START_TIMEOUT_MS);
  t.is(logLines(web.output, 'web listening').length, 1, web.output.join(''));
  const base = `http://127.0.0.1:${port}`;
  t.is((await fetch(`${base}/readyz`)).status, 200);
  return base;
}

test.serial('/readyz with Redis refusing writes (OOM, noeviction): not ready while sign-in fails', async (t) => {
  t.timeout(80_000);
  const base = await readyWeb(t);

  await redis.client.config('SET', 'maxmemory', '1');
  const write = await redis.client.set(`${redis.prefix}:probe`, 'x').then(() => 'ok', (e: Error) => e.message);
  t.regex(write, /OOM/, 'Redis now refuses writes');

  // Sign-in's first step writes the pre-auth session: it cannot work now.
  const login = await fetch(`${base}/api/auth/github/login`, { redirect: 'manual', headers: { 'sec-fetch-dest': 'document' } });
  const loginBody = await login.text();
  t.log(`sign-in start: ${login.status} ${loginBody.slice(0, 200)}`);
  t.true(login.status >= 500, `sign-in fails while Redis refuses writes: ${login.status}`);
  // …as a storage outage the client may retry, not an internal error.
  t.is(login.status, 503, loginBody);
  t.is(login.headers.get('retry-after'), '5');

  const ready = await fetch(`${base}/readyz`);
  const body = await ready.text();
  t.log(`/readyz: ${ready.status} ${body}`);
  t.is(ready.status, 503, `readiness tells the truth: ${body}`);
  t.like(JSON.parse(body) as object, { status: 'not_ready', checks: { redis: 'fail', queue: 'ok' } });

  // Memory freed: ready again at the next poll.
  await redis.client.config('SET', 'maxmemory', '0');
  t.is((await fetch(`${base}/readyz`)).status, 200);
  // Polling leaves nothing in Redis (the attack suites' "nothing changed" snapshots read every key).
  t.deepEqual(await redis.client.keys(`${redis.prefix}:readyz:*`), []);
});

// A replica of a primary that cannot be reached: it answers PING and reads, and refuses writes (READONLY).
// Turns the test's Redis into a replica for a moment: only a private redis-server, never a shared REDIS_URL.
(process.env.REDIS_URL ? test.serial.skip : test.serial)('/readyz with Redis a read-only replica: not ready, sign-in 503 storage_unavailable', async (t) => {
  t.timeout(80_000);
  const base = await readyWeb(t);

  await redis.client.call('REPLICAOF', '127.0.0.1', String(await freePort()));
  t.teardown(async () => { await redis.client.call('REPLICAOF', 'NO', 'ONE').catch(() => {}); });
  const write = await redis.client.set(`${redis.prefix}:probe`, 'x').then(() => 'ok', (e: Error) => e.message);
  t.regex(write, /^READONLY/, 'Redis now refuses writes');

  const login = await fetch(`${base}/api/auth/github/login`, { redirect: 'manual', headers: { 'sec-fetch-dest': 'document' } });
  const loginBody = await login.text();
  t.is(login.status, 503, loginBody);
  t.regex(loginBody, /"storage_unavailable"/);
  const ready = await fetch(`${base}/readyz`);
  const body = await ready.text();
  t.is(ready.status, 503, body);
  t.like(JSON.parse(body) as object, { status: 'not_ready', checks: { redis: 'fail' } });

  await redis.client.call('REPLICAOF', 'NO', 'ONE');
  t.is((await fetch(`${base}/readyz`)).status, 200);
});

test.serial('isRedisRefusingWrites: Redis\'s own OOM refusals (a command, a script, a MULTI) and READONLY, mapped to 503 storage_unavailable', async (t) => {
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  t.teardown(() => client.disconnect());
  const key = `${redis.prefix}:refusal`;
  await client.config('SET', 'maxmemory', '1');
  const refusals: unknown[] = [];
  try {
    for (const attempt of [
      () => client.set(key, '1'),
      () => client.eval("return redis.call('SET', KEYS[1], 'x')", 1, key),
      () => client.multi().set(key, '1').incr(key).exec(),
    ]) refusals.push(await attempt().then(() => null, (e: unknown) => e));
  } finally { await client.config('SET', 'maxmemory', '0'); }
  // A read-only replica's words (Redis 7), and Redis 6's wrapping of a script's refusal.
  refusals.push(new ReplyError("READONLY You can't write against a read only replica."));
  refusals.push(new ReplyError("ERR Error running script (call to f_0123): @user_script:1: -OOM command not allowed when used memory > 'maxmemory'."));
  for (const err of refusals) {
    t.true(isRedisRefusingWrites(err), String(err));
    const mapped = toAppError(err);
    t.is(mapped?.status, 503, String(err));
    t.is(mapped?.code, 'storage_unavailable');
    t.is(mapped?.headers['Retry-After'], '5');
  }
  // Not every reply error: a script's own failure, a wrong type, are bugs (500), not outages.
  for (const message of ['ERR syntax error', 'WRONGTYPE Operation against a key holding the wrong kind of value', 'EXECABORT Transaction discarded because of previous errors.']) {
    t.false(isRedisRefusingWrites(new ReplyError(message)), message);
    t.false(isRedisUnavailable(new ReplyError(message)), message);
  }
});

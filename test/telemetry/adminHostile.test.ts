import test from 'ava';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { createLogger } from '../../server/logger.js';
import { systemClock } from '../../server/clock.js';
import { createKeyring } from '../../server/crypto/keyring.js';
import { createAuditLog } from '../../server/audit/auditLog.js';
import { telemetryKeys } from '../../server/telemetry/keys.js';
import { createRecorder } from '../../server/telemetry/recorder.js';
import { createGuardStore } from '../../server/telemetry/guards.js';
import { DEFAULT_TELEMETRY } from '../../server/telemetry/options.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

// The operator CLI (scripts/admin.ts) run as an operator runs it, with broken or hostile surroundings.
// Before: a REDIS_URL reaching a server that is not Redis, or a Redis refusing the URL's password, printed
// ioredis' own words ("Unknown RESP type 72…", "WRONGPASS…") and named no setting; `unblock id:<n>` of an
// id the app has never seen exited 0 and wrote a grace period for it (`telemetry id:<n>` printed an empty
// report), where an unknown login is an error; one guard entry with a field of the wrong type (a login
// that is a number) crashed `blocks` ("(e.login ?? "?").padEnd is not a function"), listing no one.
let redis: TestRedis;
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { await redis?.stop(); });

function admin(args: string[], env: Record<string, string>, killAfterMs = 40_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/admin.ts', ...args], {
      env: { ...process.env, SANDBOX_DIR: '/nonexistent-admin-hostile-test', SLACK_WEBHOOK_URL: '', ...env },
    });
    let stdout = ''; let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.stdout.on('data', (c) => { stdout += c; });
    child.stderr.on('data', (c) => { stderr += c; });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

async function listen(onConn: (s: Socket) => void): Promise<{ server: Server; port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((s) => { sockets.push(s); s.on('error', () => {}); onConn(s); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as { port: number }).port, sockets };
}
async function close(l: { server: Server; sockets: Socket[] }) { for (const s of l.sockets) s.destroy(); await new Promise((r) => l.server.close(r)); }

test.serial('a REDIS_URL pointing at something that is not Redis (answers garbage): one clear line naming REDIS_URL, exit 1', async (t) => {
  const l = await listen((s) => { s.on('data', () => s.write('HTTP/1.1 400 Bad Request\r\n\r\n')); });
  try {
    const run = await admin(['blocks'], { REDIS_URL: `redis://:s3cret-pass@127.0.0.1:${l.port}/0`, REDIS_PREFIX: 'x', SECRET_KEY: randomBytes(32).toString('hex') });
    t.is(run.code, 1, `${run.stdout}${run.stderr}`);
    t.is(run.stderr.trim().split('\n').length, 1, run.stderr);
    t.false(run.stderr.includes('s3cret-pass'), run.stderr);
    t.regex(run.stderr, /REDIS_URL/, 'names the setting to fix, as for a Redis that does not answer');
    t.regex(run.stderr, /REDIS_URL=redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0 answers, but not as Redis does/, run.stderr);
    t.regex(run.stderr, /Nothing was read or changed\.$/m);
    t.false(/RESP|Please report/.test(run.stderr), `ioredis' own words: ${run.stderr}`);
  } finally { await close(l); }
});

test.serial('a Redis that refuses the URL\'s password, or wants one it does not give: one clear line naming REDIS_URL, exit 1', async (t) => {
  const prefix = `${redis.prefix}pw`;
  await redis.client.config('SET', 'requirepass', 'the-real-pass');
  try {
    const wrong = await admin(['blocks'], { REDIS_URL: redis.url.replace('redis://', 'redis://:wrong-pass@'), REDIS_PREFIX: prefix, SECRET_KEY: randomBytes(32).toString('hex') });
    t.is(wrong.code, 1, `${wrong.stdout}${wrong.stderr}`);
    t.is(wrong.stderr.trim().split('\n').length, 1, wrong.stderr);
    t.false(wrong.stderr.includes('wrong-pass'), wrong.stderr);
    t.regex(wrong.stderr, /REDIS_URL=redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ refused the URL's user name or password \(WRONGPASS\): set REDIS_URL/, wrong.stderr);
    t.regex(wrong.stderr, /Nothing was read or changed\.$/m);
    const none = await admin(['blocks'], { REDIS_URL: redis.url, REDIS_PREFIX: prefix, SECRET_KEY: randomBytes(32).toString('hex') });
    t.is(none.code, 1, `${none.stdout}${none.stderr}`);
    t.is(none.stderr.trim().split('\n').length, 1, none.stderr);
    t.regex(none.stderr, /REDIS_URL=\S+ wants a password the URL does not give \(NOAUTH\): set REDIS_URL/, none.stderr);
  } finally {
    await redis.client.config('SET', 'requirepass', '');
  }
});

/** An app's data: an audit trail and one user (4100, real-user) seen by telemetry. */
async function app(prefix: string, secretKey: Buffer) {
  const logger = createLogger({ level: 'silent' });
  const keys = telemetryKeys(prefix);
  const audit = createAuditLog({ redis: redis.client, prefix, clock: systemClock, keyring: createKeyring(secretKey) });
  const recorder = createRecorder({ redis: redis.client, keys, settings: DEFAULT_TELEMETRY, logger, flushMs: 3_600_000 });
  recorder.record({ userId: 4100, login: 'real-user', method: 'GET', route: '/api/session', status: 200, ms: 1, at: Date.now(), target: null, deploy: false });
  await recorder.close();
  await audit.append({ userId: 4100, action: 'sign_in', outcome: 'success', detail: { login: 'real-user' } });
  return { keys, audit, store: createGuardStore(redis.client, keys) };
}

test.serial('telemetry and unblock of an id the app has never seen say so, as for an unknown login, and grant nothing', async (t) => {
  const secretKey = randomBytes(32);
  const prefix = `${redis.prefix}ids`;
  const { keys, audit } = await app(prefix, secretKey);
  const env = { REDIS_URL: redis.url, REDIS_PREFIX: prefix, SECRET_KEY: secretKey.toString('hex') };
  const login = await admin(['unblock', 'nobody-seen'], env);
  t.is(login.code, 1, 'an unknown login is an error');
  const before = (await audit.verifyChain('global')).length;
  const byId = await admin(['unblock', 'id:999999999999999'], env);
  t.is(byId.code, 1, `an unknown id is not an error: ${byId.stdout}${byId.stderr}`);
  t.is(await redis.client.exists(keys.grace(999999999999999)), 0, 'a grace period was written for an id no one has');
  t.is(byId.stderr.trim().split('\n').length, 1, byId.stderr);
  t.regex(byId.stderr, /^no telemetry for id:999999999999999: .* neither throttled nor blocked\. Nothing was changed\.$/m, byId.stderr);
  t.is((await audit.verifyChain('global')).length, before, 'nothing audited');
  const report = await admin(['telemetry', 'id:999999999999999'], env);
  t.is(report.code, 1, `${report.stdout}${report.stderr}`);
  t.is(report.stdout, '');
  t.regex(report.stderr, /no telemetry for id:999999999999999/);
  // An id the app has seen still works, and so does one it only holds a throttle for (no telemetry, so no login to name it by).
  const seen = await admin(['telemetry', 'id:4100'], env);
  t.is(seen.code, 0, `${seen.stdout}${seen.stderr}`);
  t.regex(seen.stdout, /^real-user \(GitHub id 4100\)/);
  const now = Date.now();
  await createGuardStore(redis.client, keys).set(4300, { state: 'throttled', until: now + 600_000, since: now, strikes: 1, signal: 'requests', observed: 90, threshold: 40, login: 'only-blocked' });
  const lifted = await admin(['unblock', 'id:4300'], env);
  t.is(lifted.code, 0, `${lifted.stdout}${lifted.stderr}`);
  t.regex(lifted.stdout, /Lifted the throttle of 4300 \(id 4300\)/);
});

test.serial('blocks with a guard entry whose fields are of the wrong type: still lists the others, no crash', async (t) => {
  const secretKey = randomBytes(32);
  const prefix = `${redis.prefix}bad`;
  const { store, keys } = await app(prefix, secretKey);
  const now = Date.now();
  await store.set(4100, { state: 'blocked', until: now + 3_600_000, since: now, strikes: 3, signal: 'requests', observed: 900, threshold: 300, login: 'real-user' });
  await redis.client.hset(keys.guard, '4200', JSON.stringify({ state: 'throttled', until: now + 60_000, since: 'yesterday', strikes: 1, signal: 'requests', observed: 1, threshold: 1, login: 42 }));
  const run = await admin(['blocks'], { REDIS_URL: redis.url, REDIS_PREFIX: prefix, SECRET_KEY: secretKey.toString('hex') });
  t.is(run.code, 0, `${run.stdout}${run.stderr}`);
  t.regex(run.stdout, /blocked\s+real-user/, run.stdout + run.stderr);
});

test.serial('blocks: each guard entry the detector did not write is one line saying what is wrong, no terminal control printed; the app ignores it', async (t) => {
  const secretKey = randomBytes(32);
  const prefix = `${redis.prefix}lines`;
  const { store, keys } = await app(prefix, secretKey);
  const now = Date.now();
  await store.set(4100, { state: 'blocked', until: now + 3_600_000, since: now, strikes: 3, signal: 'requests', observed: 900, threshold: 300, login: 'real-user' });
  const good = { state: 'throttled', until: now + 60_000, since: now, strikes: 1, signal: 'requests', observed: 1, threshold: 1, login: 'x' };
  await redis.client.hset(keys.guard,
    '4200', JSON.stringify({ ...good, since: 'yesterday', login: 42 }),
    '4201', JSON.stringify({ ...good, login: '\u001b[2Jevil\nline' }),
    '4202', JSON.stringify({ ...good, until: 1e300 }),
    '4203', 'not json',
    'x\u001b[31m', JSON.stringify(good));
  const run = await admin(['blocks'], { REDIS_URL: redis.url, REDIS_PREFIX: prefix, SECRET_KEY: secretKey.toString('hex') });
  t.is(run.code, 0, `${run.stdout}${run.stderr}`);
  const lines = run.stdout.trim().split('\n');
  t.is(lines.length, 6, run.stdout);
  t.regex(lines[0]!, /^blocked\s+real-user\s+id 4100 /);
  t.regex(run.stdout, /^unreadable id 4200: a guard entry the detector did not write \(since is not a time; login is not a login\); the app ignores it, unblock id:4200 removes it$/m);
  t.regex(run.stdout, /^unreadable id 4201: .*login is not a login/m);
  t.regex(run.stdout, /^unreadable id 4202: .*until is not a time/m);
  t.regex(run.stdout, /^unreadable id 4203: .*not JSON/m);
  t.regex(run.stdout, /^unreadable field "x\\u001b\[31m": .*\(its field is not a user id\); the app ignores it$/m);
  t.false(run.stdout.includes('\u001b'), 'a terminal control reached the screen');
  // The app (guard cache, detector) sees only the decision the detector wrote.
  t.deepEqual([...(await store.all()).keys()], [4100]);
  t.is(await store.get(4200), null);
  // The line's advice works: the entry is removed, nothing is said to be lifted.
  const removed = await admin(['unblock', 'id:4200'], { REDIS_URL: redis.url, REDIS_PREFIX: prefix, SECRET_KEY: secretKey.toString('hex') });
  t.is(removed.code, 0, `${removed.stdout}${removed.stderr}`);
  t.is(await redis.client.hexists(keys.guard, '4200'), 0);
});

import test from 'ava';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createLogger } from '../../server/logger.js';
import { systemClock } from '../../server/clock.js';
import { createKeyring } from '../../server/crypto/keyring.js';
import { createAuditLog } from '../../server/audit/auditLog.js';
import { createSlackAlerter } from '../../server/alerts/slack.js';
import { createSecurityEvents } from '../../server/security/events.js';
import { telemetryKeys } from '../../server/telemetry/keys.js';
import { createRecorder } from '../../server/telemetry/recorder.js';
import { createGuardStore } from '../../server/telemetry/guards.js';
import { DEFAULT_TELEMETRY } from '../../server/telemetry/options.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

// The operator CLI (scripts/admin.ts) pointed at the wrong place or with the wrong key: run as an
// operator runs it, against a real Redis holding an app's data (a blocked user, an audit trail).

let redis: TestRedis;
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { await redis?.stop(); });

/** An app's data under `prefix`, signed with `secretKey`: its audit trail, and `login` (id `userId`) blocked by the detector. */
async function appWithBlockedUser(prefix: string, secretKey: Buffer, userId: number, login: string) {
  const logger = createLogger({ level: 'silent' });
  const keys = telemetryKeys(prefix);
  const audit = createAuditLog({ redis: redis.client, prefix, clock: systemClock, keyring: createKeyring(secretKey) });
  const events = createSecurityEvents({ audit, alerter: createSlackAlerter({ webhookUrl: null, logger }), redis: redis.client, prefix, logger, cooldownSec: 0 });
  const recorder = createRecorder({ redis: redis.client, keys, settings: DEFAULT_TELEMETRY, logger, flushMs: 3_600_000 });
  const now = Date.now();
  recorder.record({ userId, login, method: 'GET', route: '/api/session', status: 200, ms: 1, at: now, target: null, deploy: false });
  await recorder.close();
  await audit.append({ userId, action: 'sign_in', outcome: 'success', detail: { login } });
  const store = createGuardStore(redis.client, keys);
  await store.set(userId, { state: 'blocked', until: now + 3_600_000, since: now, strikes: 3, signal: 'requests', observed: 900, threshold: 300, login });
  await events.raise({ type: 'anomaly_blocked', userId, login, subject: `user:${userId}`, outcome: 'denied', detail: { login } });
  return { audit, store };
}

function admin(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/admin.ts', ...args], {
      env: { ...process.env, SANDBOX_DIR: '/nonexistent-admin-target-test', SLACK_WEBHOOK_URL: '', ...env },
    });
    let stdout = ''; let stderr = '';
    child.stdout.on('data', (c) => { stdout += c; });
    child.stderr.on('data', (c) => { stderr += c; });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('with a REDIS_PREFIX the app does not use, the CLI says it finds no app there (exit 1) instead of "no user is blocked", and writes nothing', async (t) => {
  const secretKey = randomBytes(32);
  const prefix = `${redis.prefix}app`;
  await appWithBlockedUser(prefix, secretKey, 31001, 'prefix-user');
  const wrong = `${redis.prefix}other`;
  const env = { REDIS_URL: redis.url, REDIS_PREFIX: wrong, SECRET_KEY: secretKey.toString('hex') };
  for (const args of [['blocks'], ['unblock', 'id:31001'], ['telemetry', 'id:31001']]) {
    const run = await admin(args, env);
    t.is(run.code, 1, `${args.join(' ')}: ${run.stdout}${run.stderr}`);
    t.false(/neither throttled nor blocked|No user is throttled/.test(run.stdout), `${args.join(' ')}: ${run.stdout}`);
    t.regex(run.stderr, new RegExp(`REDIS_PREFIX`), args.join(' '));
  }
  t.deepEqual(await redis.client.keys(`${wrong}:*`), [], 'nothing written under the wrong prefix');
  // With the app's prefix the same command sees the block.
  const right = await admin(['blocks'], { ...env, REDIS_PREFIX: prefix });
  t.is(right.code, 0, right.stderr);
  t.regex(right.stdout, /blocked\s+prefix-user/);
});

test('an unblock with a SECRET_KEY that is not the app\'s changes nothing and says why (exit 1): it could not be audited', async (t) => {
  const secretKey = randomBytes(32);
  const prefix = `${redis.prefix}key`;
  const { audit, store } = await appWithBlockedUser(prefix, secretKey, 32001, 'key-user');
  const run = await admin(['unblock', 'key-user'], { REDIS_URL: redis.url, REDIS_PREFIX: prefix, SECRET_KEY: randomBytes(32).toString('hex') });
  t.is(run.code, 1, run.stdout + run.stderr);
  t.false(/Lifted/.test(run.stdout), run.stdout);
  t.regex(run.stderr, /SECRET_KEY/);
  t.like(await store.get(32001), { state: 'blocked' }, 'the block stays: lifting it would have left no audit entry');
  t.is(await redis.client.exists(telemetryKeys(prefix).grace(32001)), 0, 'no grace period either');
  // With the app's key: lifted, and the trail has the operator's unblock.
  const right = await admin(['unblock', 'key-user'], { REDIS_URL: redis.url, REDIS_PREFIX: prefix, SECRET_KEY: secretKey.toString('hex') });
  t.is(right.code, 0, right.stderr);
  t.regex(right.stdout, /Lifted the block of key-user/);
  t.is(await store.get(32001), null);
  const trail = await audit.listForUser(32001, { limit: 10 });
  t.true(trail.entries.some((e) => (e.detail as { securityEvent?: string }).securityEvent === 'anomaly_unblocked'));
  t.true((await audit.verifyChain('global')).valid);
});

test('with Redis out of reach, the CLI says so in one line naming REDIS_URL (password hidden) and exits 1', async (t) => {
  // A port nothing listens on: taken from the system, then closed.
  const port = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => { const p = (srv.address() as { port: number }).port; srv.close(() => resolve(p)); });
  });
  const env = { REDIS_URL: `redis://:hunter2-redis-pass@127.0.0.1:${port}/0`, REDIS_PREFIX: 'down', SECRET_KEY: randomBytes(32).toString('hex') };
  for (const args of [['blocks'], ['unblock', 'someone'], ['telemetry', 'id:1']]) {
    const run = await admin(args, env);
    t.is(run.code, 1, `${args.join(' ')}: ${run.stdout}${run.stderr}`);
    t.is(run.stdout, '', args.join(' '));
    const lines = run.stderr.trim().split('\n');
    t.is(lines.length, 1, run.stderr);
    t.regex(lines[0]!, new RegExp(`REDIS_URL=redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}/0`), run.stderr);
    t.false(run.stderr.includes('hunter2-redis-pass'), 'the password is not printed');
    t.notRegex(run.stderr, /max retries|maxRetriesPerRequest/i, 'not ioredis\' words');
    t.regex(lines[0]!, /Nothing was read or changed/);
  }
});

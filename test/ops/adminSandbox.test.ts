import test from 'ava';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { runningPrivateRedis, startPrivateRedis } from '../../scripts/start/privateRedis.js';
import { privateRedisDir, secretKeyFile } from '../../scripts/start/stateDir.js';
import { telemetryKeys } from '../../server/telemetry/keys.js';
import { createGuardStore } from '../../server/telemetry/guards.js';
import { createAuditLog } from '../../server/audit/auditLog.js';
import { createKeyring } from '../../server/crypto/keyring.js';
import { systemClock } from '../../server/clock.js';

// `npm run admin` beside `npm start` (README: sandbox mode runs a private redis-server on a free port
// and generates SECRET_KEY into .sandbox/). The shell has neither: the CLI read whatever answered on
// 127.0.0.1:6379 ("No user is throttled or blocked" about another Redis) and, pointed at the right one,
// signed an unblock's audit entry with a random key.
const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'admin-sandbox-'));
const key = randomBytes(32).toString('hex');
// Its own prefix: if the CLI reaches some other Redis, it finds nothing of ours there.
const prefix = `admsb${randomBytes(4).toString('hex')}`;
let stopRedis: (() => Promise<void>) | undefined;
let redis: Redis | undefined;
test.after.always(async () => {
  redis?.disconnect();
  await stopRedis?.();
  rmSync(dir, { recursive: true, force: true });
});

function admin(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  // What the operator's shell has: no REDIS_URL, no SECRET_KEY, no GitHub credentials.
  const env = { PATH: process.env.PATH ?? '', SANDBOX_DIR: dir, REDIS_PREFIX: prefix };
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/admin.ts', ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = ''; let err = '';
    child.stdout.on('data', (c) => { out += String(c); });
    child.stderr.on('data', (c) => { err += String(c); });
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

test.serial('the admin commands read npm start\'s private Redis and sign with its key', async (t) => {
  t.timeout(60_000);
  writeFileSync(secretKeyFile(dir), key, { mode: 0o600 });
  const started = await startPrivateRedis(privateRedisDir(dir));
  stopRedis = () => started.stop();
  redis = new Redis(started.url);
  const keys = telemetryKeys(prefix);
  const userId = 9101;
  const now = Date.now();
  await createGuardStore(redis, keys).set(userId, { state: 'blocked', until: now + 3_600_000, since: now - 60_000, strikes: 3, signal: 'requests', observed: 900, threshold: 300, login: 'sandboxer' });
  await redis.hset(keys.user(userId), 'login', 'sandboxer');
  await redis.set(keys.login('sandboxer'), String(userId));

  const blocks = await admin('blocks');
  t.is(blocks.code, 0, blocks.err);
  t.regex(blocks.out, /blocked\s+sandboxer\s+id 9101/, blocks.out);
  if (!/sandboxer/.test(blocks.out)) return; // another Redis: write nothing there

  const lifted = await admin('unblock', 'sandboxer');
  t.is(lifted.code, 0, lifted.err);
  t.regex(lifted.out, /Lifted the block of sandboxer/);
  t.is(await redis.hget(keys.guard, String(userId)), null);
  // The unblock's audit entries are signed with the key npm start's processes use: both chains verify.
  const audit = createAuditLog({ redis, prefix, clock: systemClock, keyring: createKeyring(Buffer.from(key, 'hex')) });
  const mine = await audit.verifyChain({ userId });
  t.true(mine.valid, JSON.stringify(mine));
  t.true(mine.length >= 1);
  t.true((await audit.verifyChain('global')).valid);
});

test.serial('once npm start\'s Redis stops, it is no longer named', async (t) => {
  const redisDir = privateRedisDir(dir);
  t.truthy(runningPrivateRedis(redisDir));
  redis?.disconnect();
  redis = undefined;
  await stopRedis?.();
  stopRedis = undefined;
  t.is(runningPrivateRedis(redisDir), null);
});

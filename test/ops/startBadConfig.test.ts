import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { privateRedisDir } from '../../scripts/start/stateDir.js';

// `npm start` with a bad value stops before anything starts, saying what to fix as the production entry
// points do (bootConfig.test.ts). It checked the config only after its private redis-server was up, and
// exited past its cleanup: that server was left running, and the next `npm start` refused to start beside
// it ("A redis-server from an earlier run (pid N) still uses …"); a malformed REDIS_URL got the client's
// bare "URI malformed" or "Invalid URL" (found by an operations probe).
const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'start-badcfg-'));
const pidFile = join(privateRedisDir(dir), 'redis.pid');
const PASSWORD = 'pw-s3cret-4711';

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}
function redisPid(): number | null {
  if (!existsSync(pidFile)) return null;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

test.after.always(async () => {
  // Only a redis-server this file's npm start spawned, by its own pid (SIGKILL: its data dir is about to go).
  const pid = redisPid();
  if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 50 && pid && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  rmSync(dir, { recursive: true, force: true });
});

function npmStart(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
      cwd: root, env: { PATH: process.env.PATH ?? '', SANDBOX_DIR: dir, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c) => { output += String(c); });
    child.stderr.on('data', (c) => { output += String(c); });
    // A start that got past the check is the failure the assertions report: stop it.
    const bound = setTimeout(() => child.kill('SIGTERM'), 60_000);
    child.on('exit', (code) => { clearTimeout(bound); resolve({ code, output }); });
  });
}

test.serial('npm start with PORT=abc stops naming PORT, starts no redis-server, and the next start is refused for PORT alone', async (t) => {
  t.timeout(150_000);
  const first = await npmStart({ PORT: 'abc' });
  t.is(first.code, 1, first.output);
  t.regex(first.output, /PORT/);
  t.false(/^\s+at /m.test(first.output), `no stack trace: ${first.output}`);
  const pid = redisPid();
  t.false(pid !== null && alive(pid), `a private redis-server (pid ${pid}) outlived npm start's refusal`);
  const second = await npmStart({ PORT: 'abc' });
  t.is(second.code, 1, second.output);
  t.notRegex(second.output, /redis-server from an earlier run/);
});

for (const [name, url] of [
  ['a password with a stray %', `redis://:${PASSWORD}%zz@127.0.0.1:6390`],
  ['a port that is no number', `redis://:${PASSWORD}@red-abc:abc`],
  ['a database that is no number', `redis://:${PASSWORD}@127.0.0.1:6390/main`],
] as const) {
  test.serial(`npm start with REDIS_URL having ${name}: exit 1 with the config check's words, no password`, async (t) => {
    t.timeout(90_000);
    const { code, output } = await npmStart({ REDIS_URL: url });
    t.is(code, 1, output);
    t.false(output.includes(PASSWORD), output);
    t.regex(output, /REDIS_URL must/, output.trim());
  });
}

// npm start holds keys as the web and worker do (both run in its process): Node's http/net debug output is refused too.
test.serial('npm start with NODE_DEBUG=http stops before anything starts and says to unset it', async (t) => {
  t.timeout(90_000);
  const run = await npmStart({ NODE_DEBUG: 'http' });
  t.is(run.code, 1, run.output);
  t.regex(run.output, /Refusing to start: NODE_DEBUG .* Unset it\./);
  t.false(/^\s+at /m.test(run.output), `no stack trace: ${run.output}`);
  const pid = redisPid();
  t.false(pid !== null && alive(pid), `a private redis-server (pid ${pid}) was started`);
});

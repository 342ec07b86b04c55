import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TYPESCRIPT_ARGS } from '../helpers/processes.js';
import { freePort } from '../helpers/ports.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { listenErrorMessage } from '../../server/listenErrors.js';

// Values env.ts accepts can still fail at listen: a PORT another process holds, a HOST that is not an
// address of this machine. start:web crashed on them with Node's raw stack trace (the top-level await of
// startWeb in server/index.ts had no catch) naming neither PORT nor HOST, and npm start printed Node's bare
// words (found by an operations probe). README "Configuration": "a bad value stops the process with a
// message that says what to set". Now both print one line naming the setting (server/listenErrors.ts), exit 1.

const GOOD_KEY = 'ab'.repeat(32);
const root = fileURLToPath(new URL('../../', import.meta.url));
const WEB = fileURLToPath(new URL('../../server/index.ts', import.meta.url));

function run(args: string[], env: Record<string, string>, startedMsg: RegExp): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const chunks: string[] = [];
    const proc = spawn(process.execPath, args, { cwd: root, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    // A process that started anyway is the failure the assertions report: stop it.
    const started = () => { if (startedMsg.test(chunks.join(''))) proc.kill('SIGKILL'); };
    proc.stdout.on('data', (d) => { chunks.push(String(d)); started(); });
    proc.stderr.on('data', (d) => { chunks.push(String(d)); started(); });
    const bound = setTimeout(() => proc.kill('SIGKILL'), 60_000);
    // 'close', not 'exit': the process may exit before its pipes' last data reach us.
    proc.once('close', (code) => { clearTimeout(bound); resolve({ code, output: chunks.join('') }); });
  });
}

const boot = (env: Record<string, string>) =>
  run([...TYPESCRIPT_ARGS, WEB], { LOG_LEVEL: 'info', SECRET_KEY: GOOD_KEY, REDIS_URL: 'redis://127.0.0.1:1', ...env }, /"msg":"web listening"/);

async function holdPort(t: { teardown(fn: () => void): void }): Promise<number> {
  const port = await freePort();
  const holder: Server = createServer();
  await new Promise<void>((r) => holder.listen(port, '127.0.0.1', r));
  t.teardown(() => { holder.close(); });
  return port;
}

test('start:web with PORT already taken: exits 1 naming PORT, without a stack trace', async (t) => {
  t.timeout(70_000);
  const port = await holdPort(t);
  const { code, output } = await boot({ PORT: String(port), HOST: '127.0.0.1' });
  t.log(output.slice(0, 800));
  t.is(code, 1, output);
  t.true(output.includes('PORT'), `names PORT: ${output}`);
  t.false(/^\s+at /m.test(output), `no stack trace: ${output}`);
});

test('start:web with a HOST that is not an address of this machine: exits 1 naming HOST, without a stack trace', async (t) => {
  t.timeout(70_000);
  const { code, output } = await boot({ PORT: String(await freePort()), HOST: 'nothere.invalid' });
  t.log(output.slice(0, 800));
  t.is(code, 1, output);
  t.true(output.includes('HOST'), `names HOST: ${output}`);
  t.false(/^\s+at /m.test(output), `no stack trace: ${output}`);
});

test('npm start with PORT already taken: exits 1 with the same line naming PORT, without a stack trace', async (t) => {
  t.timeout(90_000);
  const redis: TestRedis = await startTestRedis();
  const dir = mkdtempSync(join(tmpdir(), 'start-listen-'));
  t.teardown(async () => { await redis.stop(); rmSync(dir, { recursive: true, force: true }); });
  const port = await holdPort(t);
  // REDIS_URL given: no private redis-server; sandbox mode (no GitHub credentials) with its state in dir.
  const { code, output } = await run(['--import', 'tsx', 'scripts/start.ts'], {
    SANDBOX_DIR: dir, PORT: String(port), HOST: '127.0.0.1', REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix, LOG_LEVEL: 'warn',
  }, /Render orchestrator running at/);
  t.log(output.slice(0, 800));
  t.is(code, 1, output);
  t.true(output.includes(listenErrorMessage({ code: 'EADDRINUSE' }, { host: '127.0.0.1', port })), `the line start:web prints: ${output}`);
  t.false(/^\s+at /m.test(output), `no stack trace: ${output}`);
});

test('listenErrorMessage: one line naming the setting to change for each way listen fails', (t) => {
  const at = { host: '10.9.8.7', port: 80 };
  const msg = (code: string) => listenErrorMessage(Object.assign(new Error(`listen ${code}`), { code }), at);
  t.regex(msg('EADDRINUSE'), /set PORT to a free port/);
  t.regex(msg('EACCES'), /Set PORT to 1024 or above/);
  t.regex(msg('EADDRNOTAVAIL'), /HOST 10\.9\.8\.7 is not an address of this machine\. Set HOST/);
  t.regex(msg('ENOTFOUND'), /HOST 10\.9\.8\.7 does not resolve.*Set HOST/);
  t.regex(msg('EWHATEVER'), /listen EWHATEVER\. Check HOST and PORT\./);
  for (const code of ['EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EWHATEVER']) t.false(msg(code).includes('\n'), code);
});

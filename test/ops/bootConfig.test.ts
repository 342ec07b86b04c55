import test from 'ava';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CHILD_START_TIMEOUT_MS, TYPESCRIPT_ARGS } from '../helpers/processes.js';
import { freePort } from '../helpers/ports.js';

// A bad environment at boot stops both entry points (server/index.ts, workers/index.ts) before they
// touch anything: exit code 1, the variable to fix named, no stack trace, no secret's value printed.

const ENTRIES = ['server/index.ts', 'workers/index.ts'];
const PASSWORD = 'pw-s3cret-4711';
const GOOD_KEY = 'ab'.repeat(32);

/** Run an entry point with exactly this environment until it exits (or says it started: then it is killed). */
async function boot(entry: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const port = await freePort();
  return new Promise((resolve) => {
    const chunks: string[] = [];
    const proc = spawn(process.execPath, [...TYPESCRIPT_ARGS, fileURLToPath(new URL(`../../${entry}`, import.meta.url))], {
      env: { PATH: process.env.PATH ?? '', PORT: String(port), LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    // A process that started despite the bad environment is a failure the assertions report: stop it.
    const started = () => { if (/"msg":"(web listening|worker started)"/.test(chunks.join(''))) proc.kill('SIGKILL'); };
    proc.stdout.on('data', (d) => { chunks.push(String(d)); started(); });
    proc.stderr.on('data', (d) => { chunks.push(String(d)); started(); });
    const bound = setTimeout(() => proc.kill('SIGKILL'), CHILD_START_TIMEOUT_MS);
    // 'close', not 'exit': the process may exit before its pipes' last data reach us (a CI run read '' here).
    proc.once('close', (code) => { clearTimeout(bound); resolve({ code, output: chunks.join('') }); });
  });
}

const cases: Array<{ name: string; env: Record<string, string>; names: string; secret?: string }> = [
  { name: 'REDIS_URL with a port that is no number', env: { REDIS_URL: `redis://:${PASSWORD}@red-abc:abc` }, names: 'REDIS_URL', secret: PASSWORD },
  { name: 'REDIS_URL with a password not percent-encoded', env: { REDIS_URL: `redis://:${PASSWORD}%zz@red-abc:6379` }, names: 'REDIS_URL', secret: PASSWORD },
  { name: 'REDIS_URL with a database that is no number', env: { REDIS_URL: `redis://:${PASSWORD}@red-abc:6379/main` }, names: 'REDIS_URL', secret: PASSWORD },
  { name: 'SECRET_KEY in hex with a digit missing', env: { SECRET_KEY: GOOD_KEY.slice(1) }, names: 'SECRET_KEY', secret: GOOD_KEY.slice(1) },
  // Any free port: the banner, the OAuth return and the sandbox's GitHub said localhost:0, and nobody could sign in.
  { name: 'PORT 0', env: { PORT: '0' }, names: 'PORT must be between 1 and 65535' },
  { name: 'GitHub credentials half set', env: { GITHUB_CLIENT_SECRET: PASSWORD }, names: 'GITHUB_CLIENT_ID', secret: PASSWORD },
  {
    name: 'production without BASE_URL',
    env: { NODE_ENV: 'production', SECRET_KEY: GOOD_KEY, GITHUB_CLIENT_ID: 'Iv1.0123456789abcdef', GITHUB_CLIENT_SECRET: PASSWORD },
    names: 'BASE_URL', secret: PASSWORD,
  },
];

for (const c of cases) {
  for (const entry of ENTRIES) {
    test(`${entry}: ${c.name} stops the process and says what to fix`, async (t) => {
      t.timeout(CHILD_START_TIMEOUT_MS + 10_000);
      const { code, output } = await boot(entry, c.env);
      t.is(code, 1, output);
      t.true(output.includes(c.names), `names ${c.names}: ${output}`);
      t.false(/^\s+at /m.test(output), `no stack trace: ${output}`);
      if (c.secret) t.false(output.includes(c.secret), `the value is not printed: ${output}`);
    });
  }
}

// Node's debug output for these would print request headers and session contents (Render keys): the web and
// the worker (which sends the keys to Render) refuse to start, with a good environment otherwise, before they
// load the app (SECURITY.md). The worker used to start with it.
for (const NODE_DEBUG of ['http', 'net', 'koa-session', 'fs,http']) {
  for (const entry of ENTRIES) {
    test(`${entry}: NODE_DEBUG=${NODE_DEBUG} stops the process and says to unset it`, async (t) => {
      t.timeout(CHILD_START_TIMEOUT_MS + 10_000);
      const { code, output } = await boot(entry, { NODE_DEBUG });
      t.is(code, 1, output);
      t.regex(output, /Refusing to start: NODE_DEBUG .* Unset it\./);
      t.false(/"msg":"(web listening|worker started)"/.test(output), output);
    });
  }
}

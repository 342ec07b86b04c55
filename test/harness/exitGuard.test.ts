import test from 'ava';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// The harness' guard against a test file whose process never exits (test/helpers/exitGuard.ts): ava waits
// for every file's process, and one client left reconnecting to its stopped Redis once hung the whole run.
// Each case runs ava itself on a fixture file (test/harness/fixtures/), with the guard's wait cut to 1 s.

// ava's command line (its package exports no path to it).
const AVA_CLI = fileURLToPath(new URL('../../node_modules/ava/entrypoints/cli.js', import.meta.url));

function avaOn(fixture: string): Promise<{ code: number | null; output: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, TEST_LINGER_EXIT_MS: '1000' };
  delete env.REDIS_URL;
  const child = spawn(process.execPath, [AVA_CLI, '--config', 'test/harness/fixtures/fixtures.config.js', `test/harness/fixtures/${fixture}`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => { output += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { output += c.toString(); });
  // Without the guard the leaking file never exits: the test ends it and fails, rather than waiting on it.
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) => child.on('exit', (code) => { clearTimeout(killer); resolve({ code, output }); }));
}

test('a file whose Redis client keeps reconnecting after its Redis stopped fails, naming what kept it alive, instead of hanging the run', async (t) => {
  const { code, output } = await avaOn('leaks.fixture.ts');
  t.is(code, 1, output);
  // What it names depends on where the client's reconnecting is (a retry timer, a connect on its way).
  t.regex(output, /still running 1000 ms after ava finished it; what keeps it alive: \S+/);
  t.regex(output, /leaks\.fixture\.ts exited with a non-zero exit code: 1/);
});

test('a file that lets go of everything it opened passes and exits by itself', async (t) => {
  const { code, output } = await avaOn('clean.fixture.ts');
  t.is(code, 0, output);
  t.notRegex(output, /still running/);
});

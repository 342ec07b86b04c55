import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// .ci/count-tests against a real ava run: passes, a failure whose message and source show ✔, a t.log
// line with ✔ and ✘, skip, todo, a known failure, and a test file that exits the process.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function run(cmd: string, args: string[], cwd: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env: { PATH: process.env.PATH ?? '', CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += String(d); });
    child.stderr.on('data', (d) => { out += String(d); });
    child.on('close', (code) => resolve({ code, out }));
  });
}

test('counts only ava\'s own per-test lines; run-level errors apart', async (t) => {
  t.timeout(240_000);
  const dir = mkdtempSync(join(tmpdir(), 'count-tests-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  writeFileSync(join(dir, 'a.test.mjs'), [
    "import test from 'ava';",
    "test('passes', (t) => { t.log('a log line with ✔ and ✘ inside'); t.pass(); });",
    "test('also passes ✔', (t) => { t.pass(); });",
    "test('fails', (t) => { t.fail('boom ✔'); });",
    "test.skip('skipped', (t) => { t.pass(); });",
    "test.todo('later');",
    "test.failing('known failing', (t) => { t.fail(); });",
  ].join('\n'));
  writeFileSync(join(dir, 'b.test.mjs'), "import test from 'ava';\ntest('exits the process', () => { process.exit(3); });\n");

  const ava = await run(process.execPath, [join(ROOT, 'node_modules/ava/entrypoints/cli.js'), 'a.test.mjs', 'b.test.mjs'], dir);
  t.is(ava.code, 1, ava.out);
  writeFileSync(join(dir, 'ava.log'), ava.out);
  const counted = await run('bash', [join(ROOT, '.ci/count-tests'), join(dir, 'ava.log')], dir);
  t.is(counted.code, 0, counted.out);
  t.is(counted.out.trim(), '2 passed, 1 failed, 1 skipped, 1 todo, 1 known failures; 2 run errors (timeouts, test files that failed to exit or crashed)', ava.out);
});

import test from 'ava';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TYPESCRIPT_ARGS } from '../helpers/processes.js';

// The web and worker processes' log (createLogger({ batchMs })) gathers lines before stdout's writer sees
// them (server/logger.ts): every line must still reach stdout, in order, while the process runs (within
// batchMs) and however it ends. Real processes, real stdout pipes.

const LOGGER = fileURLToPath(new URL('../../server/logger.ts', import.meta.url));
const GUARD_MS = 30_000;

/** A Node process that logs through a batched logger as `body` says; its stdout and exit. */
function run(body: string, opts: { batchMs: number; untilLine?: RegExp } = { batchMs: 60_000 }) {
  const script = `import { createLogger } from ${JSON.stringify(LOGGER)};\nconst logger = createLogger({ name: 'web', batchMs: ${opts.batchMs} });\n${body}`;
  const child = spawn(process.execPath, [...TYPESCRIPT_ARGS, '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => { err += String(d); });
  return new Promise<{ lines: Array<{ msg: string; i?: number; name?: string }>; code: number | null; stderr: string }>((resolve, reject) => {
    const guard = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no end in ${GUARD_MS} ms: ${err}`)); }, GUARD_MS);
    child.stdout.on('data', (d: Buffer) => {
      out += String(d);
      if (opts.untilLine?.test(out)) child.kill('SIGKILL'); // seen while it runs: no exit flush helped
    });
    child.once('close', (code) => {
      clearTimeout(guard);
      resolve({ lines: out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; i?: number }), code, stderr: err });
    });
  });
}

const indexes = (lines: Array<{ i?: number }>) => lines.filter((l) => typeof l.i === 'number').map((l) => l.i);
const upTo = (n: number) => Array.from({ length: n }, (_, i) => i);

test('lines gathered when the process ends on its own reach stdout, in order', async (t) => {
  const r = await run(`for (let i = 0; i < 300; i++) logger.info({ i, path: '/api/session' }, 'request');`);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(indexes(r.lines), upTo(300));
  t.true(r.lines.every((l) => l.name === 'web'));
});

test('lines gathered when the process calls process.exit reach stdout, in order (more than one batch)', async (t) => {
  // ~2,000 lines of ~90 bytes: several 16 KiB hand-ons while it runs, and a partial batch at exit.
  const r = await run(`for (let i = 0; i < 2000; i++) logger.info({ i, path: '/api/render/status' }, 'request');\nprocess.exit(3);`);
  t.is(r.code, 3, r.stderr);
  t.deepEqual(indexes(r.lines), upTo(2000));
});

test('a line logged while the process keeps running reaches stdout within batchMs', async (t) => {
  // Killed (SIGKILL: no exit handler runs) as soon as the line is seen: only the periodic hand-on can have written it.
  const r = await run(`logger.info({ i: 0 }, 'first');\nsetInterval(() => {}, 1_000);`, { batchMs: 50, untilLine: /"msg":"first"/ });
  t.deepEqual(r.lines.map((l) => l.msg), ['first']);
});

import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSandboxLogger, terminalLine } from '../../scripts/start/sandboxLog.js';

// npm start in sandbox mode: every line to .sandbox/app.log, the terminal only what needs a person.
const line = (o: Record<string, unknown>) => JSON.stringify({ time: Date.UTC(2026, 0, 1, 12, 30, 5), pid: 1, ...o });

test('the terminal skips access lines below error and prints warnings and errors readably', (t) => {
  t.is(terminalLine(line({ level: 30, msg: 'request', path: '/api/session', status: 200 })), null);
  t.is(terminalLine(line({ level: 40, msg: 'request', path: '/api/session', status: 401 })), null, 'a signed-out page load is no news');
  t.regex(terminalLine(line({ level: 50, msg: 'request', path: '/api/x', status: 500, requestId: 'r1' }))!, /^12:30:05 ERROR request \{"path":"\/api\/x","status":500\}\n$/);
  t.is(terminalLine(line({ level: 40, msg: 'Render unavailable during key check' })), '12:30:05 WARN Render unavailable during key check\n');
});

test('the file gets every line at the configured level, the redaction included', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sandbox-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'app.log');
  const { logger, flush, ready } = createSandboxLogger(file, 'info');
  logger.info({ path: '/api/meta', status: 200 }, 'request');
  logger.warn({ api_key: 'rnd_neverInTheLog000000' }, 'odd');
  // Opened asynchronously: a fixed 50 ms was not enough on a loaded machine (the file was not there yet).
  await ready;
  flush();
  const text = readFileSync(file, 'utf8');
  t.regex(text, /"msg":"request"/);
  t.regex(text, /"msg":"odd"/);
  t.false(text.includes('rnd_neverInTheLog'), 'the key is redacted in the file');
});

import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { launchChromium, newContext, screenshot } from './support/browser.js';
import { deployDemoApp } from './support/uiStack.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { freePort } from '../helpers/ports.js';
import { CHILD_START_TIMEOUT_MS } from '../helpers/processes.js';
import { DEMO } from '../../sandbox/seed.js';

// What a newcomer does: `npm start` with no credentials (the real scripts/start.ts in its own
// process), open the printed URL, sign in, paste the demo key, deploy a repo, watch it go live.
const root = fileURLToPath(new URL('../../', import.meta.url));
const sandboxDir = mkdtempSync(join(tmpdir(), 'npm-start-'));
let redis: TestRedis;
let browser: Browser;
let proc: ChildProcess | undefined;
const output: string[] = [];

test.before(async () => {
  [redis, browser] = await Promise.all([startTestRedis(), launchChromium()]);
});
test.after.always(async () => {
  if (proc && proc.exitCode === null) {
    const exited = new Promise((r) => proc!.once('exit', r));
    proc.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (proc.exitCode === null) proc.kill('SIGKILL');
  }
  await browser?.close();
  await redis?.stop();
  rmSync(sandboxDir, { recursive: true, force: true });
});

test('npm start in sandbox mode: sign in, connect the demo key, deploy, live', async (t) => {
  t.timeout(CHILD_START_TIMEOUT_MS + 90_000);
  const port = await freePort();
  proc = spawn(process.execPath, ['--import=tsx', 'scripts/start.ts'], {
    cwd: root,
    // No GitHub credentials: sandbox mode. A private Redis, a key and a state directory, so nothing on this machine is touched.
    env: { PATH: process.env.PATH ?? '', PORT: String(port), SANDBOX_DIR: sandboxDir, REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix, SECRET_KEY: randomBytes(32).toString('hex'), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout!.on('data', (d) => output.push(String(d)));
  proc.stderr!.on('data', (d) => output.push(String(d)));
  const url = await new Promise<string>((resolve, reject) => {
    // A bound on a start that hangs, not on its speed: under tsx at load 14+ (two files' Chromium, CPU
    // burners) the start took more than the 30 s this was.
    const timer = setTimeout(() => reject(new Error(`npm start printed no URL: ${output.join('')}`)), CHILD_START_TIMEOUT_MS);
    const check = () => {
      const m = /running at (http:\/\/\S+)/.exec(output.join(''));
      if (m) { clearTimeout(timer); resolve(m[1]!); }
    };
    proc!.stdout!.on('data', check);
    proc!.once('exit', (code) => reject(new Error(`npm start exited ${code}: ${output.join('')}`)));
  });
  t.regex(output.join(''), /SANDBOX MODE/);
  t.true(output.join('').includes(`Redis: REDIS_URL ${redis.url}`), 'an explicit REDIS_URL is used as given, and the banner says so');
  t.true(output.join('').includes(DEMO.renderApiKey), 'the banner names the demo key');

  const { context, page, problems } = await newContext(browser);
  await page.goto(url);
  await page.locator('#sandbox-banner').waitFor();
  await deployDemoApp(page, url, 60_000);
  t.true(await page.getByTestId('timeline').locator('[data-status="build_in_progress"]').count() >= 1, 'it moved through Render\'s phases');
  // Render builds the branch's head as GitHub has it: one commit, not "built by Render" beside another "checked when requested".
  await page.getByTestId('commit-built').waitFor();
  t.is(await page.getByTestId('commit-checked').count(), 0, 'the commit Render built is the one checked when the deploy was requested');
  await screenshot(page, 'npm-start-sandbox-live-desktop');
  t.deepEqual(problems, []);
  await context.close();
});

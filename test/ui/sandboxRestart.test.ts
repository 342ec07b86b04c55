import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { launchChromium, newContext, screenshot } from './support/browser.js';
import { deployDemoApp } from './support/uiStack.js';
import { freePort } from '../helpers/ports.js';

// A sandbox that survives real use: the real `npm start` script with no REDIS_URL and no GitHub
// credentials starts its own Redis, serves the GitHub simulator on its own origin, logs requests to a
// file, and after a stop and a start still has the service it deployed, which can be redeployed.
const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sandbox-restart-'));
let browser: Browser;
let running: { proc: ChildProcess; output: string[] } | undefined;

test.before(async () => { browser = await launchChromium(); });
test.after.always(async () => {
  if (running) await stopStart(running.proc);
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function stopStart(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
  if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
}

async function npmStart(port: number): Promise<{ proc: ChildProcess; output: string[]; url: string }> {
  const output: string[] = [];
  // No REDIS_URL, no SECRET_KEY, no GitHub credentials: everything comes from SANDBOX_DIR.
  const proc = spawn(process.execPath, ['--import=tsx', 'scripts/start.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: String(port), SANDBOX_DIR: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running = { proc, output };
  proc.stdout.on('data', (d) => output.push(String(d)));
  proc.stderr.on('data', (d) => output.push(String(d)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start printed no URL: ${output.join('')}`)), 60_000);
    proc.stdout.on('data', () => {
      const m = /running at (http:\/\/\S+)/.exec(output.join(''));
      if (m) { clearTimeout(timer); resolve(m[1]!); }
    });
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`npm start exited ${code}: ${output.join('')}`)); });
  });
  return { proc, output, url };
}

test('npm start keeps the sandbox world across a restart: the service is still there and redeploys', async (t) => {
  t.timeout(240_000);
  const port = await freePort();
  const first = await npmStart(port);
  const banner = first.output.join('');
  const redisPort = /private redis-server on 127\.0\.0\.1:(\d+)/.exec(banner)?.[1];
  t.truthy(redisPort, `the banner says which Redis: ${banner}`);
  t.not(redisPort, '6379', 'never the shared default port');
  t.regex(banner, /listening on 127\.0\.0\.1:/, 'loopback only unless HOST says otherwise');

  const { context, page, problems } = await newContext(browser);
  // Every request the browser makes goes to the app's one origin: sign-in works through one forwarded port.
  const origins = new Set<string>();
  page.on('request', (r) => { if (!r.url().startsWith('https://avatars.githubusercontent.com/')) origins.add(new URL(r.url()).origin); });
  await page.goto(first.url);
  await deployDemoApp(page, first.url, 90_000);
  t.deepEqual([...origins], [new URL(first.url).origin]);

  // Requests went to the log file, not to the terminal.
  t.false(first.output.join('').includes('"msg":"request"'), 'no request lines on the terminal');
  t.regex(readFileSync(join(dir, 'app.log'), 'utf8'), /"path":"\/api\/render\/deploy".*"msg":"request"/);

  // Leave the page first: its live stream would otherwise log the server going away.
  await page.goto('about:blank');
  t.deepEqual(problems, []);
  await stopStart(first.proc);
  t.is(first.proc.exitCode, 0, first.output.join(''));
  t.false(existsSync(join(dir, 'redis', 'redis.pid')), 'the private redis-server stopped with it');

  const second = await npmStart(port);
  await page.goto(second.url);
  const card = page.getByTestId('service-card').filter({ hasText: 'hello-node' });
  await card.waitFor({ timeout: 30_000 });
  t.is(await page.getByTestId('service-card').count(), 1, 'the same service, not a second one');
  await card.getByTestId('service-redeploy').click();
  await page.waitForURL(/#\/deployments\//);
  await page.locator('#deployment-status[data-status="live"]').waitFor({ timeout: 90_000 });
  await screenshot(page, 'sandbox-restart-redeployed');
  t.deepEqual(problems, []);
  await context.close();
});

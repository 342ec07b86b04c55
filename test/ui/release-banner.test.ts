import anyTest from 'ava';
import { appendFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Browser } from 'playwright-core';
import type { UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { takingTurns } from './support/turns.js';
import { createLogger } from '../../server/logger.js';
import { startWeb, type WebProcess } from '../../server/web.js';
import { findPackageRoot } from '../../server/routes/ui.js';

const test = takingTurns(anyTest);

// Runs in the browser (page.evaluate); this Node-only project does not load the DOM types.
declare const location: any;

// A deploy on Render replaces the web process; a tab opened before keeps running the modules it loaded
// (hash routing: the document is never fetched again) against the new server's API, silently and for as
// long as it stays open. A deploy that changed the UI must be said in that tab, with a reload; one that
// left web/ as it was must not ask anyone to reload.
let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

const started: WebProcess[] = [];
const roots: string[] = [];
test.after.always(async () => {
  for (const web of started) await web.close(2_000).catch(() => {});
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** The web process replaced, on the same address (what a deploy on Render does), serving `webRoot`'s UI. */
async function redeploy(webRoot?: string): Promise<void> {
  await (started.at(-1) ?? stack.web).close(2_000);
  const sink = new Writable({ write(_c, _e, cb) { cb(); } });
  started.push(await startWeb({ config: stack.config, logger: createLogger({ level: 'warn', destination: sink }), host: '127.0.0.1', appOptions: { webRoot } }));
}

test('a tab open across a deploy that changed the UI is told, and offered a reload; an unchanged UI is not', async (t) => {
  const { context, page } = await stack.signedInWithKey(browser, 'upgradetab', []);
  await page.getByTestId('key-status').waitFor();
  const banner = page.locator('#release-banner');

  // Same release (web/ unchanged): the tab carries on, no banner.
  await redeploy();
  await page.goto(`${stack.url}/#/`);
  await page.goto(`${stack.url}/#/settings`);
  await page.getByTestId('key-status').waitFor({ timeout: 15_000 });
  t.true(await banner.isHidden(), 'a deploy that left the UI as it was asks no one to reload');

  // A new release: one stylesheet changed.
  const next = mkdtempSync(join(tmpdir(), 'ui-release-'));
  roots.push(next);
  cpSync(join(findPackageRoot(), 'web'), next, { recursive: true });
  appendFileSync(join(next, 'assets', 'app.css'), '\n/* the next release */\n');
  await redeploy(next);
  await page.evaluate(() => { location.hash = '#/'; });
  await page.getByTestId('user-login').waitFor();
  const told = await banner.filter({ hasText: /updated/i }).waitFor({ timeout: 10_000 }).then(() => true, () => false);
  t.true(told, 'the tab still runs the old release\'s modules against the new server, and nothing says so');
  if (told) {
    t.is(await banner.getAttribute('role'), 'status');
    await page.getByTestId('release-reload').click();
    await page.getByTestId('user-login').waitFor({ timeout: 15_000 });
    await page.goto(`${stack.url}/#/settings`);
    await page.getByTestId('key-status').waitFor({ timeout: 15_000 });
    t.true(await banner.isHidden(), 'reloaded: the page is of the new release');
  }
  await context.close();
});

import anyTest from 'ava';
import { appendFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Browser } from 'playwright-core';
import type { UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { focusedElement, listenToAnnouncer } from './support/browser.js';
import { takingTurns } from './support/turns.js';
import { createLogger } from '../../server/logger.js';
import { startWeb, type WebProcess } from '../../server/web.js';
import { findPackageRoot } from '../../server/routes/ui.js';

const test = takingTurns(anyTest);

// Runs in the browser (page.evaluate); this Node-only project does not load the DOM types.
declare const document: any;
declare const location: any;
declare const MutationObserver: any;

// Accessibility of the release banner ("Render Deployer has been updated… Reload"): a screen-reader
// user must hear of it once (not at every API answer after), and reach its Reload from the keyboard.
// #release-banner is `hidden` (so out of the accessibility tree) until it is shown, and gets its role=status
// and its text in the same task it is shown: a live region that appears with its content is not one whose
// content changed, and screen readers do not read it out (only role=alert is, as it appears; the block
// banner's role). What a screen reader is sure to hear is the page's announcer, there from the page's load.
let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

const started: WebProcess[] = [];
const roots: string[] = [];
test.after.always(async () => {
  for (const web of started) await web.close(2_000).catch(() => {});
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** The web process replaced on the same address (a deploy on Render), serving a UI changed from this one. */
async function deployNewRelease(): Promise<void> {
  const next = mkdtempSync(join(tmpdir(), 'ui-release-a11y-'));
  roots.push(next);
  cpSync(join(findPackageRoot(), 'web'), next, { recursive: true });
  appendFileSync(join(next, 'assets', 'app.css'), '\n/* the next release */\n');
  await (started.at(-1) ?? stack.web).close(2_000);
  const sink = new Writable({ write(_c, _e, cb) { cb(); } });
  started.push(await startWeb({ config: stack.config, logger: createLogger({ level: 'warn', destination: sink }), host: '127.0.0.1', appOptions: { webRoot: next } }));
}

test('the release banner is said once through the announcer, drawn once however many answers follow, and its Reload is the stop after "Skip to content"', async (t) => {
  const { context, page } = await stack.signedInWithKey(browser, 'a11yrelease', []);
  await page.getByTestId('key-status').waitFor();
  await listenToAnnouncer(page);
  await deployNewRelease();

  await page.evaluate(() => { location.hash = '#/'; });
  const banner = page.locator('#release-banner');
  await banner.filter({ hasText: /updated/i }).waitFor({ timeout: 10_000 });
  // Redrawn at each later answer, the banner would be said again each time (and its Reload lose focus).
  await page.evaluate(() => {
    (globalThis as any).bannerChanges = 0;
    new MutationObserver(() => { (globalThis as any).bannerChanges += 1; }).observe(document.getElementById('release-banner'), { childList: true, subtree: true, characterData: true, attributes: true });
  });
  // More answers, each naming the new release: the settings page, the dashboard, the settings page again.
  for (const hash of ['#/settings', '#/', '#/settings']) {
    await page.evaluate((h) => { location.hash = h; }, hash);
    await page.getByRole('heading', { level: 1 }).waitFor();
    await page.waitForTimeout(400);
  }
  t.is(await page.evaluate(() => (globalThis as any).bannerChanges), 0, 'the banner is left as it is by later answers');
  const said = (await page.evaluate(() => (globalThis as any).said as string[])).filter((s) => /updated/i.test(s));
  t.is(said.length, 1, `the update is said once through the announcer: ${JSON.stringify(said)} (the banner itself appeared as a live region with its text, which screen readers do not reliably read out)`);

  // Keyboard: the page's first stop is "Skip to content"; Tab from it reaches Reload next, before the header.
  await page.locator('#skip-link').focus();
  await page.keyboard.press('Tab');
  t.is(await focusedElement(page), 'release-reload');
  t.is(await page.getByRole('button', { name: 'Reload' }).count(), 1, 'Reload is a button by that name');
  await context.close();
});

import test from 'ava';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './support/browser.js';
import { startDeployments, startUiStack, type UiStack } from './support/uiStack.js';

// Ten tabs of one user hold the server's cap of live update streams. A tab opening a deployment page replaces its
// stream with one that follows the deployment's log, opening the new one before closing the old (no update lost in
// between): at the cap the new one was refused (429), and the tab fell back to polling for 30 s, its log by polls
// (found by a probe of shared computers and many tabs). The old stream now goes, and the new one is asked for alone.
let stack: UiStack;
let browser: Browser;
test.before(async () => { [stack, browser] = await Promise.all([startUiStack(), launchChromium()]); });
test.after.always(async () => { await browser?.close(); await stack?.closeAll(); });

const live = (p: Page) => p.locator('#live-mode[data-mode=live]').waitFor();

test('at the cap of ten streams, a tab opening a deployment page gets its log stream and stays live', async (t) => {
  t.timeout(115_000);
  const { context, page, problems } = await stack.signedInWithKey(browser, 'capuser', []);
  await startDeployments(page, 'capuser', ['no-such-repo']);
  const depId = await page.evaluate(async () => ((await (await fetch('/api/render/my-deployments?limit=1')).json()) as { deployments: Array<{ id: string }> }).deployments[0]!.id);
  await page.goto(`${stack.url}/#/`);
  await live(page);
  const state = await context.storageState();
  const others: Page[] = [];
  for (let i = 1; i < 10; i++) {
    const other = await (await browser.newContext({ storageState: state })).newPage();
    await other.goto(`${stack.url}/#/`);
    await live(other);
    others.push(other);
  }
  const followed = page.waitForResponse((r) => r.url().includes(`/api/events?logs=${depId}`) && r.status() === 200, { timeout: 15_000 });
  await page.goto(`${stack.url}/#/deployments/${depId}`);
  await page.locator('#deployment-status').waitFor();
  t.truthy(await followed.catch(() => null), 'the log stream was opened (not refused until a retry 30 s later)');
  await live(page);
  t.is(await page.locator('#live-mode').getAttribute('data-mode'), 'live');
  for (const other of others) await other.context().close();
  t.deepEqual(problems.filter((p) => !p.includes('429')), []);
  await context.close();
});

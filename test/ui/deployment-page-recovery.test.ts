import anyTest from 'ava';

// The deployment page after it missed what happened (found by a probe). A read that failed during a network cut
// left "Could not refresh this deployment" beside the Live status the page drew once back, for good (only the next
// action cleared it); and a Cancel refused because the deploy had just gone live (409 deployment_finished) left the
// old status and an enabled Cancel until an update was heard (behind a buffering proxy: the stream watchdog's
// ~37 s). The next update now takes the refresh error away, and a 409 reads the deployment again
// (web/assets/view-deployment.js).

import type { Browser, Page } from 'playwright-core';
import { DESKTOP } from '../ui/support/browser.js';
import { deployThroughForm, renderIds, type UiStack } from '../ui/support/uiStack.js';
import { useBrowserStack } from '../ui/support/browserStack.js';
import { streamsViaProxy } from '../ui/support/streamProxy.js';
import { takingTurns } from '../ui/support/turns.js';

const test = takingTurns(anyTest);
let stack: UiStack;
let browser: Browser;
useBrowserStack(test, { stack: { renderOptions: { manualDeploys: true } } }, (b) => ({ stack, browser } = b));

const serverStatus = (page: Page, id: string) => page.evaluate(async (d) => ((await (await fetch(`/api/render/deployments/${d}`)).json()) as { status: string }).status, id);

test('cancel racing the deploy going live: the page shows live and drops Cancel', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'racer', ['site'], DESKTOP);
  t.teardown(() => context.close());
  const proxy = await streamsViaProxy(t, page, stack.url);
  const id = await deployThroughForm(page, 'racer/site');
  const { deployId } = await renderIds(page, id);
  await page.locator('#live-mode[data-mode=live]').waitFor();
  await page.getByTestId('cancel').click();
  // The deploy goes live while the confirmation is open; the stream's update is slow to arrive.
  for (const s of proxy.streams) s.hold();
  for (let i = 0; i < 3; i++) stack.render.advanceDeploy(deployId);
  for (let i = 0; i < 200 && (await serverStatus(page, id)) !== 'live'; i++) await page.waitForTimeout(100);
  t.is(await serverStatus(page, id), 'live');
  await page.getByTestId('cancel-confirm').click();
  await page.locator('.status-card .flash .notice').waitFor();
  const flash = await page.locator('.status-card .flash').innerText();
  await page.waitForTimeout(3000);
  const shown = await page.locator('#deployment-status').getAttribute('data-status');
  const cancelButtons = await page.getByTestId('cancel').count();
  t.log(`flash "${flash}", shown ${shown}, cancel buttons ${cancelButtons}`);
  for (const s of proxy.streams) s.release();
  t.is(shown, 'live', 'the cancel was refused because the deploy ended: the page should read it again and show live');
  t.is(cancelButtons, 0, 'Cancel stays offered on a deploy that is live');
  t.deepEqual(problems.filter((p) => !/409/.test(p)), []);
});

test('network cut while a deployment page is open: once back, the page shows live and no stale error', async (t) => {
  const { context, page } = await stack.signedInWithKey(browser, 'cutuser', ['site'], DESKTOP);
  t.teardown(() => context.close());
  const proxy = await streamsViaProxy(t, page, stack.url);
  const id = await deployThroughForm(page, 'cutuser/site');
  const { deployId } = await renderIds(page, id);
  await page.locator('#live-mode[data-mode=live]').waitFor();
  await page.waitForTimeout(500);

  // The network goes: every request fails, the open stream is cut.
  const cut = (route: any) => route.abort('internetdisconnected');
  await page.route('**/api/**', cut);
  for (const s of proxy.streams) s.cut();
  // The page notices (polling or connecting), and its catch-up reads fail meanwhile.
  await page.locator('#live-mode[data-mode=polling]').waitFor({ timeout: 30_000 });
  await page.waitForTimeout(1500);
  const during = await page.locator('.status-card .flash').innerText();
  t.log(`during the cut: flash "${during}", logs status "${await page.getByTestId('logs-status').innerText()}"`);

  for (let i = 0; i < 3; i++) stack.render.advanceDeploy(deployId);
  await page.unroute('**/api/**', cut);

  await page.locator('#deployment-status[data-status="live"]').waitFor({ timeout: 30_000 });
  await page.waitForTimeout(4000);
  const flash = await page.locator('.status-card .flash').innerText();
  const logsStatus = await page.getByTestId('logs-status').innerText();
  t.log(`after: flash "${flash}", logs status "${logsStatus}", mode ${await page.locator('#live-mode').getAttribute('data-mode')}`);
  t.is(await page.getByRole('link', { name: /Open the live site/ }).count(), 1);
  t.notRegex(flash, /Could not refresh/, 'the page shows the deployment live and still says it could not refresh it');
  t.notRegex(logsStatus, /Could not read/);
});

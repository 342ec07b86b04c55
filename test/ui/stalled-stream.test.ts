import anyTest from 'ava';
import type { Browser } from 'playwright-core';
import { DESKTOP, newContext } from './support/browser.js';
import { connectKey, deployThroughForm, renderIds, type UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { streamsViaProxy } from './support/streamProxy.js';

const test = anyTest;

// A live stream that stops arriving without closing (a buffering proxy, a half-open connection) left the
// page stuck for good, still saying "Live updates on" over a stale status: the server's keepalive was an
// SSE comment, which EventSource never passes to page code, and the page only heard `open` and `error`.
// The keepalive is now a `ping` event naming its interval, and web/assets/live.js reconnects (and catches
// up) a stream silent for a few intervals. The interval is shortened here so the test runs in seconds.
const KEEPALIVE_MS = 1000;

let stack: UiStack;
let browser: Browser;
useBrowserStack(test, { appOptions: { events: { keepAliveMs: KEEPALIVE_MS } }, stack: { renderOptions: { manualDeploys: true } } }, (b) => ({ stack, browser } = b));

test('a stream that goes silent (a proxy holding it, no close): the page shows the deploy live or says live updates are off', async (t) => {
  const { context, page } = await newContext(browser, DESKTOP);
  t.teardown(() => context.close());
  const proxy = await streamsViaProxy(t, page, stack.url);
  const apiKey = stack.renderAccount('stalled');
  stack.addNodeRepo('stalled', 'shop');
  await stack.signInBrowser(page, 'stalled');
  await connectKey(page, apiKey);
  const id = await deployThroughForm(page, 'stalled/shop');
  const { deployId } = await renderIds(page, id);
  await page.locator('#live-mode[data-mode=live]').waitFor();
  const stalled = proxy.streams.at(-1)!;
  // The page has heard this stream's keepalive (and so its interval) before the proxy starts holding it.
  for (let i = 0; !stalled.fromServer.includes('event: ping'); i++) {
    if (i === 600) throw new Error(`no keepalive on the stream: ${JSON.stringify(stalled.fromServer.slice(-300))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  stalled.hold();
  for (let i = 0; i < 3; i++) stack.render.advanceDeploy(deployId);
  // A cap for "never" (the old behaviour), many keepalive intervals long; the page acts after a few.
  const outcome = await Promise.race([
    page.locator('#deployment-status[data-status="live"]').waitFor({ timeout: 48_000 }).then(() => 'shown live'),
    page.locator('#live-mode:not([data-mode=live])').waitFor({ timeout: 48_000 }).then(() => 'mode left live'),
  ]).catch(() => 'nothing');
  const shown = await page.locator('#deployment-status').getAttribute('data-status');
  const mode = await page.locator('#live-mode').innerText();
  t.log(`${outcome}; page status ${shown}; mode "${mode}"; server sent live on the held stream: ${stalled.fromServer.includes('"status":"live"')}`);
  t.not(outcome, 'nothing', `page still says "${shown}" and "${mode}" long after its stream went silent`);
});

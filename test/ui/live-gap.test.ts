import test from 'ava';
import type { Browser, Page, Route } from 'playwright-core';
import { DESKTOP } from './support/browser.js';
import { deployThroughForm, type UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';

// An update published while no event stream is subscribed is never sent again. The page must catch up
// when its stream opens: here the stream is held (as a slow proxy or a reopen to follow logs would) while
// the deploy goes live, and the page — which loaded the deploy still building — must show it live.

let stack: UiStack;
let browser: Browser;
useBrowserStack(test, { stack: { renderOptions: { manualDeploys: true } } }, (b) => ({ stack, browser } = b));

async function serverRecord(page: Page, id: string): Promise<{ status: string; deployId?: string | null }> {
  return page.evaluate(async (d) => (await fetch(`/api/render/deployments/${d}`)).json() as Promise<{ status: string; deployId?: string | null }>, id);
}

async function waitFor<T>(probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const found = await probe();
    if (found !== undefined) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('never happened');
}

test('a deploy that goes live while the page has no open event stream shows live once the stream opens', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'gapuser', ['site'], DESKTOP);
  const id = await deployThroughForm(page, 'gapuser/site');
  const deployId = await waitFor(async () => (await serverRecord(page, id)).deployId ?? undefined);

  // Hold every new event stream until released; the page then reloads and loads the deploy still building.
  const held: Route[] = [];
  await page.route('**/api/events**', (route) => { held.push(route); });
  await page.reload();
  await page.locator('#deployment-status').waitFor();
  await waitFor(async () => (held.length > 0 ? true : undefined));
  t.not(await page.locator('#deployment-status').getAttribute('data-status'), 'live');

  for (let i = 0; i < 3; i++) stack.render.advanceDeploy(deployId);
  await waitFor(async () => ((await serverRecord(page, id)).status === 'live' ? true : undefined));
  t.not(await page.locator('#deployment-status').getAttribute('data-status'), 'live', 'no stream yet: the page could not know');

  await page.unroute('**/api/events**');
  // A stream the page already closed (it reopens one to follow the deploy's logs) may refuse to continue.
  for (const route of held) await route.continue().catch(() => undefined);
  await page.locator('#deployment-status[data-status="live"]').waitFor({ timeout: 30_000 });
  t.deepEqual(problems, []);
  await context.close();
});

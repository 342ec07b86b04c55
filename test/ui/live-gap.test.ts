import test from 'ava';
import type { Browser, Page, Route } from 'playwright-core';
import { DESKTOP } from './support/browser.js';
import { deployThroughForm, type UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';

// Code inside page.evaluate runs in the browser; these stand in for the DOM types this (Node-only) project does not load.
declare const document: any;
declare const window: any;
declare const location: any;
declare const MutationObserver: any;

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
  // The message names the page's live mode: a page that fell back to polling could know, and the test's premise failed.
  const mode = await page.locator('#live-mode').getAttribute('data-mode');
  t.not(await page.locator('#deployment-status').getAttribute('data-status'), 'live', `no stream yet: the page could not know (live mode: ${mode})`);

  await page.unroute('**/api/events**');
  // A stream the page already closed (it reopens one to follow the deploy's logs) may refuse to continue.
  for (const route of held) await route.continue().catch(() => undefined);
  await page.locator('#deployment-status[data-status="live"]').waitFor({ timeout: 30_000 });
  t.deepEqual(problems, []);
  await context.close();
});

// Each page view reads its data once. Before, the page read the deployment and its log page on load and
// again when its stream opened (the catch-up for a gap there was not: the view could have read after the
// stream subscribed), and once more when the stream was reopened to follow the logs.
test('a page view reads the deployment and its first log page once', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'onceuser', ['site'], DESKTOP);
  const id = await deployThroughForm(page, 'onceuser/site');
  await waitFor(async () => (await serverRecord(page, id)).deployId ?? undefined);
  const userId = await page.evaluate(async () => ((await (await fetch('/api/session')).json()) as { user: { id: number } }).user.id);

  const reads: string[] = [];
  page.on('request', (r) => {
    const path = new URL(r.url()).pathname;
    if (path.startsWith(`/api/render/deployments/${id}`)) reads.push(path.slice(`/api/render/deployments/${id}`.length) || 'record');
  });
  await page.reload();
  // A log line published on the user's channel reaches the page only over the stream that follows
  // the logs, after that stream opened: once it shows, every read the opens caused has been made.
  const marker = `marker line ${Date.now()}`;
  const message = JSON.stringify({ type: 'logs', deploymentId: id, lines: [{ id: `marker-${Date.now()}`, timestamp: new Date().toISOString(), message: marker, phase: 'build' }] });
  await waitFor(async () => {
    await stack.redis.client.publish(`${stack.redis.prefix}:events:${userId}`, message);
    return (await page.getByTestId('logs').getByText(marker).count()) > 0 ? true : undefined;
  });
  t.deepEqual(reads.sort(), ['/logs', 'record'], 'one read of the record and one of its log page');
  t.deepEqual(problems, []);
  await context.close();
});

// The first view is drawn once the stream is open. A page chosen while it was opening (a link, a typed
// address) is that first view, drawn once: it used to be drawn on the hash change and again when the
// stream opened, and the second drawing replaced a form the person may already have typed into.
test('a page chosen while the stream opens is drawn once, when it is open', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'earlyuser', ['site'], DESKTOP);
  await page.goto(`${stack.url}/#/`);
  const held: Route[] = [];
  await page.route('**/api/events**', (route) => { held.push(route); });
  await page.reload();
  await page.getByTestId('user-login').filter({ hasText: 'earlyuser' }).waitFor();
  await waitFor(async () => (held.length > 0 ? true : undefined));

  // Count each drawing of the settings page into <main>, then choose it while the stream is held.
  await page.evaluate(() => {
    const main = document.getElementById('main');
    window.settingsDrawn = 0;
    new MutationObserver((records: Array<{ addedNodes: Iterable<any> }>) => {
      for (const r of records) for (const n of r.addedNodes) if (n.querySelector?.('h1')?.textContent === 'Settings') window.settingsDrawn++;
    }).observe(main, { childList: true });
    location.hash = '#/settings';
  });
  await page.unroute('**/api/events**');
  for (const route of held) await route.continue().catch(() => undefined);
  await page.locator('#live-mode[data-mode="live"]').waitFor();
  await page.getByTestId('render-key-section').waitFor();
  await page.getByTestId('render-key-section').getByRole('button', { name: 'Replace key' }).click();
  await page.getByTestId('render-key-input').fill('rnd_typedAfterTheFirstDrawing');
  t.is(await page.evaluate(() => window.settingsDrawn as number), 1, 'drawn once');
  t.is(await page.getByTestId('render-key-input').inputValue(), 'rnd_typedAfterTheFirstDrawing');
  t.deepEqual(problems, []);
  await context.close();
});

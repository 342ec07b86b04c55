import anyTest from 'ava';
import type { Browser, Page } from 'playwright-core';
import { failedDeployments, redeployFromPage, serviceMadeOutside, type UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

// Code inside page.evaluate runs in the browser; this stands in for the DOM types this (Node-only) project does not load.
declare const document: any;

// A list read again (a deployment started elsewhere, a reconnect) reads as far as it was paged and a page
// more, but the API answers 100 rows at most: rows "Load older…" brought past them were dropped, and
// "Load older" offered again what had been listed.

let stack: UiStack;
let browser: Browser;
// Deploys on Render's side go live at once here, and a service takes more than 100 of them (Render allows 10 a minute).
const INSTANT = { created: 0, build_in_progress: 0, pre_deploy_in_progress: 0, update_in_progress: 0 };
useBrowserStack(test, { stack: { renderOptions: { phaseMs: INSTANT, rateLimits: { deploy: { limit: 500 } } } } }, (b) => ({ stack, browser } = b));

/** The listed rows' ids, in order. */
const rowIds = (page: Page, testId: string, key: string) =>
  page.getByTestId(testId).evaluateAll((rows, k) => rows.map((row) => (row as unknown as { dataset: Record<string, string> }).dataset[k] ?? ''), key);

/** Presses "Load older …" until it is gone. */
async function loadAll(page: Page, button: string, testId: string) {
  const older = page.getByRole('button', { name: button });
  await older.waitFor();
  while (await older.isVisible()) {
    const count = await page.getByTestId(testId).count();
    await older.click();
    await page.getByTestId(testId).nth(count).waitFor();
  }
}

/** The value `read` answers once it equals `expected`, or after 15 s, whatever it is then. */
async function settles<T>(read: () => Promise<T>, expected: T): Promise<T> {
  let value = await read();
  for (let i = 0; i < 150 && JSON.stringify(value) !== JSON.stringify(expected); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    value = await read();
  }
  return value;
}

test('the deployments list read again after more than 100 rows were loaded: every row stays, none twice, nothing more to load', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'long-list', []);
  t.deepEqual([...new Set(await failedDeployments(page, 'long-list', Array.from({ length: 125 }, (_, i) => `old-${i}`)))], [202]);
  await page.goto(`${stack.url}/#/`);
  await loadAll(page, 'Load older deployments', 'deployment-row');
  const loaded = await rowIds(page, 'deployment-row', 'deploymentId');
  t.is(loaded.length, 125);

  // A deployment started elsewhere: the list is read again (100 rows and its page more asked).
  t.deepEqual(await failedDeployments(page, 'long-list', ['long-new']), [202]);
  await page.locator('[data-testid=deployment-row] .row__title', { hasText: 'long-new' }).waitFor();
  const after = await settles(async () => (await rowIds(page, 'deployment-row', 'deploymentId')).slice(1), loaded);
  t.deepEqual(after, loaded, 'the 125 rows loaded before, in order, after the new one');
  t.false(await page.getByRole('button', { name: 'Load older deployments' }).isVisible(), 'nothing older to load');
  t.deepEqual(problems, []);
  await context.close();
});

test('a service\'s deploy history read again after more than 100 deploys were loaded: every deploy stays, nothing more to load', async (t) => {
  const { context, page, problems, apiKey } = await stack.signedInWithKey(browser, 'long-history', []);
  const { render, serviceId } = await serviceMadeOutside(stack, apiKey, { login: 'long-history', name: 'long-history' });
  for (let i = 0; i < 125; i++) await render.triggerDeploy(serviceId, {});
  await page.goto(`${stack.url}/#/services/${serviceId}`);
  await loadAll(page, 'Load older deploys', 'history-row');
  const loaded = await rowIds(page, 'history-row', 'deployId');
  t.is(loaded.length, 126, 'the deploy that created the service and 125 more');

  // A redeploy from this tab: the history is read again (100 deploys asked).
  const status = await redeployFromPage(page, serviceId);
  t.is(status, 202);
  // The new deploy on top is drawn by the history's read again.
  await page.waitForFunction((known: string[]) => {
    const first = document.querySelector('[data-testid=history-row]')?.dataset.deployId;
    return Boolean(first) && !known.includes(first);
  }, loaded, { timeout: 30_000 });
  const after = await settles(async () => (await rowIds(page, 'history-row', 'deployId')).slice(1), loaded);
  t.deepEqual(after, loaded, 'the 126 deploys loaded before, in order, after the new one');
  t.false(await page.getByRole('button', { name: 'Load older deploys' }).isVisible(), 'nothing older to load');
  t.deepEqual(problems, []);
  await context.close();
});

import anyTest from 'ava';
import type { Browser } from 'playwright-core';
import { newContext, screenshot } from './support/browser.js';
import type { UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

// Issue 18: a user the anomaly detector blocked sees a clear banner (what happened, when it lifts,
// that running deploys continue) on load and on any call; it is gone once the block is lifted.

let stack: UiStack;
let browser: Browser;
useBrowserStack(test, { stack: { telemetry: { syncMs: 100 } } }, (b) => ({ stack, browser } = b));

/** A new tab signed in as `login`, and that user's id. */
async function signedInTab(login: string) {
  const { page, problems } = await newContext(browser);
  await stack.signInBrowser(page, login);
  const userId = await page.evaluate(async () => ((await (await fetch('/api/session')).json()) as { user: { id: number } }).user.id);
  return { page, problems, userId };
}

/** What the detector writes when an anomaly persists (server/telemetry/detector.ts), until `until`, known to the web at once. */
async function block(userId: number, login: string, until: number) {
  const { telemetry } = stack.web.deps;
  await telemetry.store.set(userId, { state: 'blocked', until, since: Date.now(), strikes: 3, signal: 'requests', observed: 900, threshold: 300, login });
  await telemetry.guards.sync();
}

test('a blocked account sees the banner with when it lifts; lifted, the app works again; screenshot', async (t) => {
  t.timeout(120_000);
  const { page, problems, userId } = await signedInTab('blocked-ui');
  const { telemetry } = stack.web.deps;
  await page.getByRole('link', { name: 'New deploy' }).first().click();

  await block(userId, 'blocked-ui', Date.now() + 25 * 60_000);

  // An in-app call (the dashboard lists deployments and services) answers 429: the banner appears.
  await page.getByRole('link', { name: 'Dashboard' }).first().click();
  const banner = page.locator('#block-banner');
  await banner.getByTestId('block-banner-title').waitFor();
  t.regex(await banner.innerText(), /Your account is temporarily blocked\. It lifts at \d\d?:\d\d.*\(in 2[45] minutes\)\. Deploys already running continue\./s);
  t.regex(await banner.getByTestId('block-banner-reason').innerText(), /until \d\d:\d\d UTC/);
  // The time named is the first whole minute at or after the lift, not the minute it falls in (10:15:50 is not "10:15").
  const named = await banner.evaluate((el) => {
    const { dataset, textContent } = el as unknown as { dataset: { liftsAt: string }; textContent: string };
    const firstMinute = Math.ceil(Date.parse(dataset.liftsAt) / 60_000) * 60_000;
    return { text: textContent, time: new Date(firstMinute).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }), liftsAt: dataset.liftsAt };
  });
  t.true(named.text.includes(`It lifts at ${named.time} (`), `${named.text} (lifts at ${named.liftsAt})`);
  t.is(await banner.getAttribute('role'), 'alert');

  // A reload: the session itself is refused, the banner explains it.
  await page.reload();
  await banner.getByTestId('block-banner-title').waitFor();
  await page.getByText('The app loads again when the block lifts').waitFor();
  await screenshot(page, 'anomaly-block-banner');

  await telemetry.store.remove(userId);
  await telemetry.guards.sync();
  await page.reload();
  await page.getByTestId('user-login').filter({ hasText: 'blocked-ui' }).waitFor();
  t.true(await banner.isHidden(), 'no banner once the block is lifted');
  t.deepEqual(problems, []);
});

test('a sign-out takes the banner and the last announcement with it: the next user of the tab is not told of the block', async (t) => {
  t.timeout(120_000);
  const { page, problems, userId } = await signedInTab('blocked-leaver');
  const { telemetry } = stack.web.deps;

  // Something announced to this user: Sentinel's save with nothing to save.
  await page.getByRole('link', { name: 'Security' }).first().click();
  await page.getByTestId('sentinel-save').click();
  const announcer = page.locator('#announcer');
  await announcer.filter({ hasText: 'Nothing to save' }).waitFor({ state: 'attached' });

  await block(userId, 'blocked-leaver', Date.now() + 25 * 60_000);
  await page.getByRole('link', { name: 'Dashboard' }).first().click();
  const banner = page.locator('#block-banner');
  await banner.getByTestId('block-banner-title').waitFor();

  // Signing out is not refused by a block; the page it leaves says nothing of this user's.
  await page.getByTestId('sign-out').click();
  await page.getByText('You are signed out.').waitFor();
  t.true(await banner.isHidden(), 'no banner on the signed-out page');
  t.is(await banner.innerText(), '');
  t.is(await banner.getAttribute('role'), null);
  t.is(await announcer.textContent(), '', 'nothing left in the live region');

  // The next user signs in in the same tab: no banner for them either, and the app works.
  await stack.signInBrowser(page, 'after-blocked');
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  t.true(await banner.isHidden());
  await telemetry.store.remove(userId);
  await telemetry.guards.sync();
  t.deepEqual(problems, []);
});

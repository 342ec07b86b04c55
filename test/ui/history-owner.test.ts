import anyTest from 'ava';
import type { Browser, Page } from 'playwright-core';
import { DESKTOP } from './support/browser.js';
import { deployThroughForm, type UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { takingTurns } from './support/turns.js';

// One at a time: tests here sign in through the GitHub simulator, which approves one user at a time.
const test = takingTurns(anyTest, 1);

// A sign-out replaced only the address it was on: the tab's history still held the previous user's
// entries. After someone else signed in in the same tab, Back drew them (route() on hashchange checked
// nothing): the new user's page read the previous user's deployment id (the record, its logs, the log
// stream with ?opened=address), each a 404 the server noted against the new user
// (`foreign_id_in_page_address`) and counted toward their many-404s probe event. Each entry the app draws
// is now tagged with its user (`claimEntry`, web/assets/app.js); another user's opens the dashboard.

// Code inside page.evaluate runs in the browser.
declare const document: { getElementById(id: string): { children: Iterable<{ setAttribute(name: string, value: string): void }>; querySelector(selector: string): unknown } };
declare const navigation: { currentEntry: { index: number } };

let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

/**
 * Back one entry, and wait for the page it lands on to be drawn for `login`: a new view with its heading,
 * unless the entry has this one's address in this document (no hash change: nothing is drawn again).
 */
async function back(page: Page, login: string): Promise<void> {
  await page.evaluate(() => { for (const el of document.getElementById('main').children) el.setAttribute('data-before', 'yes'); });
  const address = page.url();
  await page.goBack();
  await page.waitForFunction((sameAddress) => {
    const main = document.getElementById('main');
    return main.querySelector(':scope > :not([data-before]) h1') !== null || (sameAddress && main.querySelector(':scope > [data-before]') !== null);
  }, page.url() === address);
  await page.getByTestId('user-login').filter({ hasText: login }).waitFor();
}

/** Whether the tab can go back within the app's entries (the Navigation API's index of this one). */
const canGoBack = (page: Page) => page.evaluate(() => navigation.currentEntry.index > 0);

/**
 * Every request the page made for `needle` up to now: a request of the page's own made last, and seen,
 * comes after those made before it.
 */
async function requestsSoFar(page: Page, seen: string[], needle: string): Promise<string[]> {
  await Promise.all([
    page.waitForRequest((req) => req.url().includes('/api/meta?flush')),
    page.evaluate(() => fetch('/api/meta?flush')),
  ]);
  return seen.filter((url) => url.includes(needle));
}

/** A's deployment, A back on the dashboard (a hash change: an entry after the deployment's) and signed out. */
async function deployedThenSignedOut(login: string, serviceName: string) {
  const { context, page, problems } = await stack.signedInWithKey(browser, login, [`${login}-app`], DESKTOP);
  const id = await deployThroughForm(page, `${login}/${login}-app`, { serviceName });
  await page.getByText(serviceName).first().waitFor();
  await page.goto(`${stack.url}/#/`);
  await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
  await page.getByTestId('sign-out').click();
  await page.getByTestId('sign-in').waitFor();
  return { context, page, problems, id };
}

test('Back after another user signed in in the same tab: A\'s deployment is neither shown nor read as B', async (t) => {
  t.timeout(120_000);
  const { context, page, problems, id } = await deployedThenSignedOut('histownera', 'hist-secret-svc');
  await stack.signInBrowser(page, 'histownerb', { here: true });
  const requests: string[] = [];
  page.on('request', (req) => requests.push(req.url()));
  let steps = 0;
  while (await canGoBack(page)) {
    await back(page, 'histownerb');
    steps++;
    t.false(page.url().includes(id), `Back #${steps} left A's deployment in the address: ${page.url()}`);
    t.false((await page.locator('body').innerText()).includes('hist-secret-svc'), `Back #${steps} shows A's service`);
  }
  t.true(steps >= 2, `went back past A's deployment entry (${steps} steps)`);
  t.deepEqual(await requestsSoFar(page, requests, id), [], 'no read of A\'s deployment after B signed in');
  t.deepEqual(problems, []);
  await context.close();
});

test('the same user signing in again in the tab: Back still opens their own deployment page', async (t) => {
  t.timeout(120_000);
  const { context, page, problems, id } = await deployedThenSignedOut('histownerc', 'hist-own-svc');
  await stack.signInBrowser(page, 'histownerc', { here: true });
  await back(page, 'histownerc'); // the entry the sign-out left at the dashboard
  await back(page, 'histownerc');
  t.is(new URL(page.url()).hash, `#/deployments/${id}`);
  await page.getByText('hist-own-svc').first().waitFor();
  t.deepEqual(problems, []);
  await context.close();
});

// Back after the sign-out, into A's deployment, then a reload: the address looked like a link the tab was
// opened on (anyone's), and was opened after B's sign-in.
test('a reload on A\'s page reached by Back after the sign-out: B signing in there starts at the dashboard and reads nothing of A\'s', async (t) => {
  t.timeout(120_000);
  const { context, page, problems, id } = await deployedThenSignedOut('histownerd', 'hist-reload-svc');
  await page.goBack();
  await page.waitForURL(`${stack.url}/#/deployments/${id}`);
  await page.reload();
  await page.getByTestId('signin').waitFor();
  const requests: string[] = [];
  page.on('request', (req) => requests.push(req.url()));
  await stack.signInBrowser(page, 'histownere', { here: true });
  await page.locator('#main h1').first().waitFor();
  t.is(new URL(page.url()).hash, '', 'not A\'s page');
  await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
  t.deepEqual(await requestsSoFar(page, requests, id), [], 'no read of A\'s deployment after B signed in');
  t.deepEqual(problems, []);
  await context.close();
});

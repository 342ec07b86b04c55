import anyTest, { type ExecutionContext } from 'ava';
import type { Browser, Page, Route } from 'playwright-core';
import { DESKTOP, newContext } from './support/browser.js';
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
declare const history: { state: unknown; replaceState(state: unknown, unused: string, url: string): void };
declare const sessionStorage: { setItem(key: string, value: string): void; length: number; key(index: number): string | null; getItem(key: string): string | null };
declare const location: { hash: string };

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

/** A's deployment, A back on the dashboard (a hash change: an entry after the deployment's). */
async function deployedOnDashboard(login: string, serviceName: string) {
  const { context, page, problems } = await stack.signedInWithKey(browser, login, [`${login}-app`], DESKTOP);
  const id = await deployThroughForm(page, `${login}/${login}-app`, { serviceName });
  await page.getByText(serviceName).first().waitFor();
  await page.goto(`${stack.url}/#/`);
  await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
  return { context, page, problems, id };
}

/**
 * deployedOnDashboard, then signed out: the sign-out's answer read (the stream's word of the end can draw the
 * sign-in page first, and the answer's Clear-Site-Data, come during the next sign-in, would clear its cookies).
 */
async function deployedThenSignedOut(login: string, serviceName: string) {
  const deployed = await deployedOnDashboard(login, serviceName);
  await deployed.page.getByTestId('sign-out').click();
  await deployed.page.getByText('You are signed out.').waitFor();
  return deployed;
}

/** A gate the test opens: `opened` resolves once `open()` is called. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => { open = resolve; });
  return { open, opened };
}

/**
 * A reload of the page on its way: its new page asked for and held, the page shown still running. Resolves
 * with what lets it through (and resolves once it has loaded).
 */
async function reloadOnItsWay(page: Page): Promise<() => Promise<void>> {
  const asked = gate();
  const answer = gate();
  const isPage = (url: URL) => url.pathname === '/';
  const hold = async (route: Route) => {
    asked.open();
    await answer.opened;
    await route.continue();
  };
  await page.route(isPage, hold);
  const reloaded = page.reload();
  await asked.opened;
  return async () => {
    answer.open();
    await reloaded;
    await page.unroute(isPage, hold);
  };
}

/**
 * An observer put in the page shown, which asks for /api/meta?said once its main area says `text`. Resolves
 * with what waits for that request: seen while a reload is on its way, when Playwright and DevTools both
 * wait for the reload's page instead of reading this one.
 */
async function whenSaid(page: Page, text: string): Promise<() => Promise<unknown>> {
  const said = page.waitForRequest((req) => req.url().endsWith('/api/meta?said'), { timeout: 0 });
  await page.evaluate(`(() => {
    const main = document.getElementById('main');
    const says = () => main.textContent.includes(${JSON.stringify(text)});
    const tell = () => { void fetch('/api/meta?said'); };
    if (says()) return tell();
    const watch = new MutationObserver(() => { if (says()) { watch.disconnect(); tell(); } });
    watch.observe(main, { childList: true, subtree: true, characterData: true });
  })()`);
  return () => said;
}

/**
 * The sign-in page at A's address (a reload let through): B signs in (`signIn`: there, or in another tab
 * whose sign-in this one follows), and this page starts at the dashboard, reading nothing of A's deployment.
 */
async function signsInAtDashboard(t: ExecutionContext, page: Page, id: string, signIn: () => Promise<unknown>): Promise<void> {
  await page.getByTestId('signin').waitFor();
  const requests: string[] = [];
  page.on('request', (req) => requests.push(req.url()));
  await signIn();
  await page.locator('#main h1').first().waitFor();
  t.is(new URL(page.url()).hash, '', 'not A\'s page');
  await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
  t.deepEqual(await requestsSoFar(page, requests, id), [], 'no read of A\'s deployment after B signed in');
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
  await signsInAtDashboard(t, page, id, () => stack.signInBrowser(page, 'histownere', { here: true }));
  t.deepEqual(problems, []);
  await context.close();
});

// The sign-out's own answer came after the stream's word of its end (which drew the sign-in page and cleared
// the address), and cleared the address again: of whichever entry the tab was on by then. Back into A's
// deployment with a reload on its way there, the reload came back with A's address and without the entry's
// tag (Chromium commits a reload whose entry changed meanwhile as a new entry, without its state), and B
// signing in there landed on A's page: the test above, on a loaded machine, about 1 run in 15.
test('the sign-out answered after Back into A\'s page, a reload there on its way: B signing in there starts at the dashboard and reads nothing of A\'s', async (t) => {
  t.timeout(120_000);
  const { context, page, problems, id } = await deployedOnDashboard('histownerf', 'hist-late-svc');
  // The server signs A out when asked (its stream tells the page, which draws the sign-in page); the answer waits.
  const logoutAnswer = gate();
  const holdLogout = async (route: Route) => {
    const response = await route.fetch();
    await logoutAnswer.opened;
    await route.fulfill({ response });
  };
  await page.route('**/api/auth/logout', holdLogout);
  await page.getByTestId('sign-out').click();
  await page.getByTestId('sign-in').waitFor();
  await page.goBack();
  await page.waitForURL(`${stack.url}/#/deployments/${id}`);
  const answered = await whenSaid(page, 'You are signed out.');
  const letReloadThrough = await reloadOnItsWay(page);
  logoutAnswer.open();
  await answered();
  await letReloadThrough();
  await page.unroute('**/api/auth/logout', holdLogout);
  await signsInAtDashboard(t, page, id, () => stack.signInBrowser(page, 'histownerg', { here: true }));
  t.deepEqual(problems, []);
  await context.close();
});

/**
 * A on their deployment's page, a reload of it on its way when A signs out in another tab of the browser:
 * this tab hears of it and clears its address (showSignedOut) before the reload is let through. Chromium
 * brings the reload back on A's address without the entry's tag, and the sign-out's Clear-Site-Data has
 * emptied this tab's sessionStorage meanwhile.
 */
async function reloadedUntaggedAfterSignOutElsewhere(login: string, serviceName: string) {
  const { context, page, problems } = await stack.signedInWithKey(browser, login, [`${login}-app`], DESKTOP);
  const id = await deployThroughForm(page, `${login}/${login}-app`, { serviceName });
  await page.getByText(serviceName).first().waitFor();
  const other = await context.newPage();
  await other.goto(`${stack.url}/#/settings`);
  await other.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
  const ended = await whenSaid(page, 'Your session has ended.');
  const letReloadThrough = await reloadOnItsWay(page);
  await other.getByTestId('sign-out').click();
  await other.getByText('You are signed out.').waitFor();
  await ended();
  await letReloadThrough();
  return { context, page, other, problems, id };
}

// Untagged, the reloaded address was taken for a link the tab was opened on (anyone's): B signing in there
// landed on A's deployment page, and B signing in in another tab made this one load as B on it.
test('a reload on A\'s page on its way when A signs out in another tab: B signing in there starts at the dashboard and reads nothing of A\'s', async (t) => {
  t.timeout(120_000);
  const { context, page, problems, id } = await reloadedUntaggedAfterSignOutElsewhere('histownerh', 'hist-held-svc');
  t.is(new URL(page.url()).hash, `#/deployments/${id}`, 'the reload came back on A\'s address');
  t.is(await page.evaluate(() => history.state), null, 'the reload came back untagged');
  await signsInAtDashboard(t, page, id, () => stack.signInBrowser(page, 'histowneri', { here: true }));
  t.deepEqual(problems, []);
  await context.close();
});

test('a reload on A\'s page on its way when A signs out in another tab: B signing in in the other tab loads this one at the dashboard, reading nothing of A\'s', async (t) => {
  t.timeout(120_000);
  const { context, page, other, problems, id } = await reloadedUntaggedAfterSignOutElsewhere('histownerj', 'hist-held-other-svc');
  await page.getByTestId('signin').waitFor();
  t.is(new URL(page.url()).hash, `#/deployments/${id}`, 'the reload came back on A\'s address');
  await signsInAtDashboard(t, page, id, async () => {
    await stack.signInBrowser(other, 'histownerk', { here: true });
    await page.getByTestId('user-login').filter({ hasText: 'histownerk' }).waitFor();
  });
  t.deepEqual(problems, []);
  await context.close();
});

// What the tests above may not cost: an untagged reload is anyone's when it reloads a link the tab was opened on.
test('a link opened signed out and reloaded before signing in: the sign-in still opens it', async (t) => {
  t.timeout(120_000);
  const { context, page, problems } = await newContext(browser, DESKTOP);
  await page.goto(`${stack.url}/#/security`);
  await page.getByTestId('signin').waitFor();
  await page.reload();
  await page.getByTestId('signin').waitFor();
  await stack.signInBrowser(page, 'histownerl', { here: true });
  await page.getByRole('heading', { level: 1, name: 'Security' }).waitFor();
  t.is(new URL(page.url()).hash, '#/security');
  t.deepEqual(problems, []);
  await context.close();
});

// page-owners lives in sessionStorage, which anything on the origin (an older version of the page, an
// extension, a hand in devtools) may have left malformed: the page still loads, and an entry it cannot read
// owns nothing, so a reload it names opens the dashboard (the safe side), never another user's page.
test('a malformed page-owners note is read as no note: the page loads, and the reload it names opens the dashboard', async (t) => {
  t.timeout(120_000);
  const { context, page, problems } = await newContext(browser, DESKTOP);
  await stack.signInBrowser(page, 'histownerm');
  await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
  for (const note of ['{not json', '{"#/security":1}', JSON.stringify([1, 'x', null, ['#/security'], ['#/security', { id: 1 }]])]) {
    await page.evaluate((text) => {
      history.replaceState(null, '', '/#/security');
      sessionStorage.setItem('page-owners', text);
    }, note);
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    t.is(new URL(page.url()).hash, '', note);
  }
  t.deepEqual(problems, []);
  await context.close();
});

// A session that ends without a sign-out here (an expiry, a cookie gone: a read's 401, which sends no
// Clear-Site-Data) left the tab's page-owners note as it was: the previous user's id and their deployment
// addresses, in sessionStorage for the next person at the tab to read. The note now goes with the session.
/** Everything in the tab's sessionStorage, as one JSON text. */
const tabStorage = (page: Page) => page.evaluate(() => {
  const all: Record<string, string | null> = {};
  for (let i = 0; i < sessionStorage.length; i++) { const key = sessionStorage.key(i)!; all[key] = sessionStorage.getItem(key); }
  return JSON.stringify(all);
});

/** A signed in with a key, on their new deployment's page: its id and A's user id. */
async function onOwnDeployment(login: string, serviceName: string) {
  const opened = await stack.signedInWithKey(browser, login, [`${login}-app`], DESKTOP);
  const id = await deployThroughForm(opened.page, `${login}/${login}-app`, { serviceName });
  await opened.page.getByText(serviceName).first().waitFor();
  const userId = await opened.page.evaluate(async () => ((await (await fetch('/api/session')).json()) as { user: { id: number } }).user.id);
  return { ...opened, id, userId };
}

test('a session ended by a 401 (no sign-out): the tab keeps no note of the previous user\'s id or addresses', async (t) => {
  t.timeout(120_000);
  const { context, page, problems, id, userId } = await onOwnDeployment('histownern', 'hist-expired-svc');
  t.true((await tabStorage(page)).includes(id), 'signed in, the note names the deployment\'s address');
  await context.clearCookies();
  await page.evaluate(() => { location.hash = '#/'; });
  await page.getByText('Your session has ended.').waitFor();
  const left = await tabStorage(page);
  t.false(left.includes(id), left);
  t.false(left.includes(String(userId)), left);
  t.deepEqual(problems, []);
  await context.close();
});

// The same, with the end seen only at a page load (the session expired while the tab was closed or left): no
// document of the session saw it end, so the note stayed, and the next user's sign-in added to it.
test('a session found ended at a page load: the tab keeps no note of the previous user\'s id or addresses', async (t) => {
  t.timeout(120_000);
  const { context, page, problems, id, userId } = await onOwnDeployment('histownero', 'hist-reloaded-svc');
  await context.clearCookies();
  await page.reload();
  await page.getByTestId('signin').waitFor();
  const left = await tabStorage(page);
  t.false(left.includes(id), left);
  t.false(left.includes(String(userId)), left);
  t.deepEqual(problems, []);
  await context.close();
});

import anyTest from 'ava';
import type { Browser } from 'playwright-core';
import { newContext } from './support/browser.js';
import { serviceMadeOutside, type UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { takingTurns } from './support/turns.js';

// One at a time: tests here click "Sign in" themselves, and the GitHub simulator approves one user at a time.
const test = takingTurns(anyTest, 1);

// Code inside page.evaluate runs in the browser.
declare const sessionStorage: { getItem(key: string): string | null };
declare const location: { hash: string };

// A signed-out visitor opening a link to one of the app's pages (a deployment someone shared, a page whose
// session timed out) was shown the sign-in page, and after GitHub's round trip landed on the dashboard:
// the page asked for was lost (the OAuth callback answers with a redirect to /). The page is kept in the
// tab's sessionStorage when "Sign in" is clicked and opened after the sign-in. Whoever signs in after an
// explicit sign-out starts at the dashboard, not on the page the previous user left. (UX walkthrough.)

let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

test('sign-in returns to the page the signed-out visitor opened; a sign-in after a sign-out starts at the dashboard', async (t) => {
  t.timeout(120_000);
  const { context, page, problems } = await newContext(browser);
  stack.github.addUser({ id: 818_181, login: 'deeplinker', name: 'Deep Linker' });

  // Declined on GitHub first: the sign-in page again (at /?auth_error=…), and the second try is still
  // for the page asked for.
  stack.github.setAuthorizingUser(null);
  await page.goto(`${stack.url}/#/security`);
  await page.getByTestId('signin').waitFor();
  await page.getByTestId('sign-in').click();
  await page.getByText('You declined access on GitHub').waitFor();
  stack.github.setAuthorizingUser('deeplinker');
  await page.getByTestId('sign-in').click();
  await page.getByTestId('user-login').filter({ hasText: 'deeplinker' }).waitFor();
  await page.getByRole('heading', { level: 1, name: 'Security' }).waitFor();
  t.is(new URL(page.url()).hash, '#/security', 'back on the page asked for');
  t.is(await page.locator('[data-nav=security][aria-current=page]').count(), 1);

  // A reload afterwards stays where it is; the remembered page is used once.
  await page.goto(`${stack.url}/#/settings`);
  await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
  await page.goto(`${stack.url}/`);
  await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
  t.is(new URL(page.url()).hash, '', 'the dashboard, not the page remembered at the sign-in');

  // Signed out on a page: the address no longer names it, and the next sign-in in this tab lands on the
  // dashboard.
  await page.goto(`${stack.url}/#/security`);
  await page.getByRole('heading', { level: 1, name: 'Security' }).waitFor();
  await page.getByTestId('sign-out').click();
  await page.getByText('You are signed out.').waitFor();
  t.is(new URL(page.url()).hash, '', 'the signed-out page does not carry the previous user\'s page');
  await page.getByTestId('sign-in').click();
  await page.getByTestId('user-login').filter({ hasText: 'deeplinker' }).waitFor();
  await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();

  // An address that names no page of the app is not remembered.
  await page.getByTestId('sign-out').click();
  await page.getByText('You are signed out.').waitFor();
  await page.goto(`${stack.url}/#/services/..%2F..%2Fapi`);
  await page.getByTestId('signin').waitFor();
  await page.getByTestId('sign-in').click();
  await page.getByTestId('user-login').filter({ hasText: 'deeplinker' }).waitFor();
  t.is(await page.evaluate(() => sessionStorage.getItem('return-to')), null);
  t.deepEqual(problems, []);
  await context.close();
});

// The page a tab shows when its session ends elsewhere (signed out in another tab, expired, another user
// signed in over it) is the previous user's: a link to their service or deployment. The next person to
// sign in in that tab, or in another tab (this one then loads the app too), starts at the dashboard; the
// same user signing in again comes back to it. (Review of what a shared browser carries between users.)
test('a session ended on a page while this tab was not the one signing out: the next user starts at the dashboard, the same user returns to the page', async (t) => {
  t.timeout(120_000);
  const { context, page: first, apiKey, problems } = await stack.signedInWithKey(browser, 'pageowner', []);
  const { serviceId } = await serviceMadeOutside(stack, apiKey, { login: 'pageowner', name: 'owners-api' });
  const second = await context.newPage();
  const openService = async () => {
    await second.goto(`${stack.url}/#/services/${serviceId}`);
    await second.getByRole('heading', { level: 1, name: 'owners-api' }).waitFor();
  };
  const signOutInFirst = async () => {
    await first.goto('about:blank'); // a load of the app, whatever the tab showed
    await first.goto(`${stack.url}/#/settings`);
    await first.getByTestId('sign-out').click();
    await first.getByText('You are signed out.').waitFor();
    await second.getByTestId('signin').waitFor({ timeout: 15_000 });
  };
  await openService();
  await signOutInFirst();

  // The same user, signing in again in the tab whose session ended on the page: back on it.
  stack.github.setAuthorizingUser('pageowner');
  await second.getByTestId('sign-in').click();
  await second.getByTestId('user-login').filter({ hasText: 'pageowner' }).waitFor();
  // (Its Render key went with the session that ended: the page asks for one.)
  await second.waitForURL(`${stack.url}/#/services/${serviceId}`);
  // The first tab, signed out, hears of the sign-in and loads the app as that user: waited for, so that
  // its reload does not cut short the next navigation there.
  await first.getByTestId('user-login').filter({ hasText: 'pageowner' }).waitFor({ timeout: 15_000 });

  // Someone else signing in in that tab: the dashboard, not the previous user's service.
  await signOutInFirst();
  stack.github.addUser({ id: 828_282, login: 'nextinline', name: 'Next In Line' });
  stack.github.setAuthorizingUser('nextinline');
  await second.getByTestId('sign-in').click();
  await second.getByTestId('user-login').filter({ hasText: 'nextinline' }).waitFor();
  await second.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
  t.is(new URL(second.url()).hash, '', 'not the previous user\'s page');
  t.deepEqual(problems, []);
  await context.close();
});

test('another user signs in in one tab: a tab left on the previous user\'s page loads the app as the new user at the dashboard', async (t) => {
  t.timeout(120_000);
  const { context, page: first, apiKey } = await stack.signedInWithKey(browser, 'lefttabowner', []);
  const { serviceId } = await serviceMadeOutside(stack, apiKey, { login: 'lefttabowner', name: 'left-api' });
  const second = await context.newPage();
  await second.goto(`${stack.url}/#/services/${serviceId}`);
  await second.getByRole('heading', { level: 1, name: 'left-api' }).waitFor();

  // Signed out and another user signed in, in the first tab; the second tab hears of both.
  await first.getByTestId('sign-out').click();
  await first.getByText('You are signed out.').waitFor();
  await second.getByTestId('signin').waitFor({ timeout: 15_000 });
  await stack.signInBrowser(first, 'lefttabnext');
  await second.getByTestId('user-login').filter({ hasText: 'lefttabnext' }).waitFor({ timeout: 15_000 });
  await second.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
  t.is(new URL(second.url()).hash, '', 'not the previous user\'s page');

  await context.close();
});

// After a sign-out here, Back returns to the previous user's pages (the sign-in page, their address). Clicking
// "Sign in" there took that address for a link someone opened, and the next user landed on the previous
// user's service after signing in (a 404, which the server counts as a probe of another user's id).
test('Back after a sign-out, into the previous user\'s page: the next user to sign in starts at the dashboard', async (t) => {
  t.timeout(120_000);
  const { context, page, apiKey, problems } = await stack.signedInWithKey(browser, 'backowner', []);
  const { serviceId } = await serviceMadeOutside(stack, apiKey, { login: 'backowner', name: 'back-api' });
  await page.goto(`${stack.url}/#/services/${serviceId}`);
  await page.getByRole('heading', { level: 1, name: 'back-api' }).waitFor();
  await page.evaluate(() => { location.hash = '#/settings'; });
  await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
  await page.getByTestId('sign-out').click();
  await page.getByText('You are signed out.').waitFor();
  await page.goBack();
  await page.waitForURL(`${stack.url}/#/services/${serviceId}`);
  await page.getByTestId('signin').waitFor();

  stack.github.addUser({ id: 838_383, login: 'backnext', name: 'Back Next' });
  stack.github.setAuthorizingUser('backnext');
  await page.getByTestId('sign-in').click();
  await page.getByTestId('user-login').filter({ hasText: 'backnext' }).waitFor();
  await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
  t.is(new URL(page.url()).hash, '', 'not the previous user\'s page');
  t.deepEqual(problems, []);
  await context.close();
});

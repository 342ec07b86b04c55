import anyTest from 'ava';
import type { Browser } from 'playwright-core';
import { newContext } from './support/browser.js';
import { type UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

// Code inside page.evaluate runs in the browser.
declare const sessionStorage: { getItem(key: string): string | null };

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

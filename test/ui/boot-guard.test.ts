import anyTest from 'ava';
import type { Browser } from 'playwright-core';
import type { UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { newContext } from './support/browser.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

// A page loaded while the app was being deployed can get modules of two releases (asset URLs are not
// versioned), and one module that fails (a missing export, a 404 during the switch) stops the whole graph:
// the page said "Loading…" for good, with nothing to do but guess at a reload.
let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

test('a module of the app that cannot load: the page says so and offers a reload, instead of "Loading…" for good', async (t) => {
  const { context, page } = await newContext(browser);
  // One module of "another release": it lacks an export app.js imports from it.
  await page.route('**/assets/view-notfound.js', (route) => route.fulfill({ status: 200, contentType: 'text/javascript; charset=utf-8', body: 'export const somethingElse = 1;\n' }));
  await page.goto(`${stack.url}/`);
  const reload = page.getByTestId('boot-reload');
  await reload.waitFor({ timeout: 10_000 });
  t.regex(await page.locator('#boot-status').innerText(), /The app could not load/);
  t.is(await page.locator('#boot-status').getAttribute('role'), 'alert');
  // Reloaded with the module as it is: the app starts, and the guard leaves it alone.
  await page.unroute('**/assets/view-notfound.js');
  await reload.click();
  await page.getByTestId('sign-in').waitFor();
  t.is(await page.getByTestId('boot-reload').count(), 0);
  await context.close();
});

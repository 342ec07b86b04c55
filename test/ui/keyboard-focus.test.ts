import test from 'ava';
import type { Browser, Page } from 'playwright-core';
import { newContext } from './support/browser.js';
import { connectKey, type UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { createRenderClient } from '../../server/render/client.js';

// Code inside page.evaluate runs in the browser; these stand in for the DOM types this (Node-only) project does not load.
declare const document: any;

// A keyboard-only user on a service's settings page: after pressing a button, focus stays where they
// were (the pressed button, or the field an error is about), never dropped to <body>, from where the
// next Tab starts again at the top of the page.

let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

/** The focused element's data-testid and aria-invalid. */
const focused = (page: Page) => page.evaluate(() => {
  const el = document.activeElement;
  return { testId: el?.getAttribute('data-testid') ?? el?.tagName ?? null, invalid: el?.getAttribute('aria-invalid') ?? null };
});

test('service settings with the keyboard: focus stays on the pressed button, or moves to the field in error', async (t) => {
  const apiKey = 'rnd_keyboardfocus' + 'x'.repeat(20);
  const account = stack.render.addAccount({ apiKey, workspaces: [{ name: 'Keyboard workspace' }] });
  const render = createRenderClient({ baseUrl: stack.render.url, apiKey });
  const { service } = await render.createService({
    type: 'web_service', name: 'keyboard-api', ownerId: account.ownerId, repo: 'https://github.com/key-user/api', branch: 'main', autoDeploy: 'yes',
    serviceDetails: { runtime: 'node', plan: 'starter', region: 'oregon', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'npm start' } },
  });
  const { context, page, problems } = await newContext(browser);
  await stack.signInBrowser(page, 'key-user');
  await connectKey(page, apiKey);
  await page.goto(`${stack.url}/#/services/${service!.id}`);
  await page.getByRole('heading', { level: 1, name: 'keyboard-api' }).waitFor();

  // An env var saved by pressing Enter on "Save variable": focus is on that button again.
  await page.getByTestId('env-key').fill('API_URL');
  await page.locator('[data-testid=env-form] [data-testid=env-value]').fill('https://api.example.com');
  await page.getByTestId('env-save').focus();
  await page.keyboard.press('Enter');
  await page.locator('[data-testid=env-list] li[data-key=API_URL]').waitFor();
  await page.locator('#announcer').filter({ hasText: 'API_URL saved' }).waitFor();
  await page.locator('[data-testid=env-save]:not([aria-busy])').waitFor();
  t.deepEqual(await focused(page), { testId: 'env-save', invalid: null });

  // A name the server refuses: focus goes to the name field, which carries the message.
  await page.getByTestId('env-key').fill('1BAD');
  await page.locator('[data-testid=env-form] [data-testid=env-value]').fill('x');
  await page.getByTestId('env-save').focus();
  await page.keyboard.press('Enter');
  await page.getByText('Variable names are letters, digits and _').waitFor();
  t.deepEqual(await focused(page), { testId: 'env-key', invalid: 'true' });

  // Scaling: a bad health check path puts focus on it; a good save keeps focus on "Save settings".
  await page.getByTestId('health-check').fill('no-slash');
  await page.getByTestId('settings-save').focus();
  await page.keyboard.press('Enter');
  await page.getByText('A health check path starts with /').waitFor();
  t.deepEqual(await focused(page), { testId: 'health-check', invalid: 'true' });
  await page.getByTestId('health-check').fill('/healthz');
  await page.getByTestId('settings-save').focus();
  await page.keyboard.press('Enter');
  await page.locator('#announcer').filter({ hasText: 'Settings saved' }).waitFor();
  t.deepEqual(await focused(page), { testId: 'settings-save', invalid: null });
  t.deepEqual(problems, []);
  await context.close();
});

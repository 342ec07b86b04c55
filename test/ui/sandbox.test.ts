import anyTest from 'ava';
import type { Browser } from 'playwright-core';
import { DESKTOP, PHONE, horizontalOverflow, newContext, screenshot } from './support/browser.js';
import type { UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { DEMO } from '../../sandbox/seed.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

let stack: UiStack;
let browser: Browser;
useBrowserStack(test, { appOptions: { sandbox: { renderApiKey: DEMO.renderApiKey, login: DEMO.login } } }, (b) => ({ stack, browser } = b));

test('sandbox mode: a banner with the demo key, which the settings page can fill in', async (t) => {
  const { context, page, problems } = await newContext(browser);
  stack.render.addAccount({ apiKey: DEMO.renderApiKey, workspaces: [{ name: 'Demo workspace' }] });
  await page.goto(stack.url + '/');
  const banner = page.locator('#sandbox-banner');
  await banner.getByText('Sandbox mode.').waitFor();
  t.is(await page.getByTestId('demo-key').innerText(), DEMO.renderApiKey);
  for (const [label, size] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
    await page.setViewportSize(size);
    const o = await horizontalOverflow(page);
    t.true(o.scrollWidth <= o.innerWidth, `sandbox banner @ ${label}: ${o.culprits.join(', ')}`);
    await screenshot(page, `sandbox-signin-${label}`);
  }
  await page.setViewportSize(DESKTOP);

  await stack.signInBrowser(page, DEMO.login);
  await page.getByTestId('connect-key-link').click();
  await page.getByTestId('use-demo-key').click();
  t.is(await page.getByTestId('render-key-input').inputValue(), DEMO.renderApiKey);
  await page.getByTestId('render-key-submit').click();
  await page.getByTestId('key-status').waitFor();
  t.regex(await page.getByTestId('key-status').innerText(), /Connected/);

  // Clearing the key goes back to the form.
  await page.getByTestId('clear-key').click();
  await page.getByTestId('clear-key-confirm').click();
  await page.getByTestId('render-key-input').waitFor();
  await page.getByText('Your Render API key was removed').waitFor();
  const status = await page.evaluate(async () => ((await (await fetch('/api/render/status')).json()) as { configured: boolean }).configured);
  t.false(status, 'the key is gone on the server');
  t.deepEqual(problems, []);
  await context.close();
});

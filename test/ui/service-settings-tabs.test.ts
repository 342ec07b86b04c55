import test from 'ava';
import type { Browser, Page } from 'playwright-core';
import { useBrowserStack } from './support/browserStack.js';
import { serviceMadeOutside, type UiStack } from './support/uiStack.js';

// The service settings page open in two tabs: what one tab removes, the other then removes too (or
// finds gone). The second removal finds nothing on Render: its tab shows the item gone, not an error
// beside a row that stays whatever is clicked.

let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

test('an env var, a secret file and a domain removed in one tab, then in the other: the other tab drops the row and says it was already gone', async (t) => {
  t.timeout(120_000);
  const { context, page: first, apiKey } = await stack.signedInWithKey(browser, 'tabsremove', []);
  const { render, serviceId: id } = await serviceMadeOutside(stack, apiKey, { login: 'tabsremove', name: 'tabs-remove' });
  await render.putEnvVar(id, 'OLD_TOKEN', 'old-token-value');
  await render.putSecretFile(id, 'old.pem', 'old-file-content');
  await render.addCustomDomain(id, 'old.tabs-remove.example.com');

  const second = await context.newPage();
  const rows = (page: Page) => ({
    env: page.locator('[data-testid=env-list] li[data-key=OLD_TOKEN]'),
    file: page.locator('[data-testid=file-list] li[data-key="old.pem"]'),
    domain: page.locator('[data-testid=domain-row][data-domain="old.tabs-remove.example.com"]'),
  });
  for (const page of [first, second]) {
    await page.goto(`${stack.url}/#/services/${id}`);
    for (const row of Object.values(rows(page))) await row.waitFor();
  }

  const removeIn = async (page: Page, which: 'env' | 'file' | 'domain') => {
    const row = rows(page)[which];
    const testId = which === 'domain' ? 'domain-remove' : 'kv-delete';
    await row.getByTestId(testId).click();
    await row.getByTestId(`${testId}-confirm`).click();
    await row.waitFor({ state: 'detached' });
  };
  for (const which of ['env', 'file', 'domain'] as const) {
    await removeIn(first, which);
    await removeIn(second, which);
  }
  const section = async (testId: string) => second.getByTestId(testId).innerText();
  t.regex(await section('env-section'), /OLD_TOKEN was already removed/);
  t.regex(await section('file-section'), /old\.pem was already removed/);
  t.regex(await section('domains-section'), /old\.tabs-remove\.example\.com was already removed/);
  for (const testId of ['env-section', 'file-section', 'domains-section']) t.notRegex(await section(testId), /not found/i);
  t.deepEqual(await render.listEnvVars(id), []);
  await context.close();
});

import anyTest from 'ava';
import type { Browser, Page } from 'playwright-core';
import { serviceMadeOutside, type UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

// A row's buttons name the item they act on: a screen reader heard "Remove, Remove, Remove" on the deploy
// form's variables and "Show, Change, Delete" on every variable, file and domain of the settings page
// (found by a UX walkthrough).
let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

/** How many buttons have exactly this accessible name. */
const buttons = (page: Page, name: string) => page.getByRole('button', { name, exact: true }).count();

test('deploy form: each variable\'s Remove and Show name the variable, and follow its name as it is edited', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'namer', ['app']);
  await page.getByRole('link', { name: 'New deploy' }).first().click();
  await page.getByTestId('deploy-submit').waitFor();
  for (const key of ['FOO', 'BAR', 'BAZ']) {
    await page.getByTestId('env-add').click();
    await page.getByTestId('env-name').last().fill(key);
  }
  for (const key of ['FOO', 'BAR', 'BAZ']) {
    t.is(await buttons(page, `Remove ${key}`), 1, `Remove ${key}`);
    t.is(await buttons(page, `Show value of ${key}`), 1, `Show value of ${key}`);
    t.is(await page.getByRole('textbox', { name: `Value of ${key}`, exact: true }).count(), 1);
  }
  t.is(await buttons(page, 'Remove'), 0, 'no row button named only "Remove"');

  // Renamed: the row's buttons follow. Emptied: named by its place until it has a name again.
  await page.getByTestId('env-name').first().fill('DATABASE_URL');
  t.is(await buttons(page, 'Remove DATABASE_URL'), 1);
  t.is(await buttons(page, 'Remove FOO'), 0);
  await page.getByTestId('env-name').nth(1).fill('');
  t.is(await buttons(page, 'Remove variable 2'), 1);

  // The button named for a variable removes that one.
  await page.getByRole('button', { name: 'Remove DATABASE_URL', exact: true }).click();
  t.deepEqual(await page.getByTestId('env-name').evaluateAll((els) => els.map((el) => (el as unknown as { value: string }).value)), ['', 'BAZ']);
  t.is(await buttons(page, 'Remove BAZ'), 1);
  t.is(await buttons(page, 'Remove variable 1'), 1);
  t.deepEqual(problems, []);
  await context.close();
});

test('settings page: each variable\'s, file\'s and domain\'s buttons name it', async (t) => {
  const { context, page, problems, apiKey } = await stack.signedInWithKey(browser, 'set-namer', []);
  const { render, serviceId } = await serviceMadeOutside(stack, apiKey, { login: 'set-namer', name: 'named-api' });
  for (const key of ['FOO', 'BAR']) await render.putEnvVar(serviceId, key, `${key.toLowerCase()}-value`);
  await page.goto(`${stack.url}/#/services/${serviceId}`);
  await page.getByRole('heading', { level: 1, name: 'named-api' }).waitFor();
  await page.locator('[data-testid=env-list] li[data-key=BAR]').waitFor();
  for (const key of ['FOO', 'BAR']) {
    for (const name of [`Show value of ${key}`, `Change ${key}`, `Delete ${key}`]) t.is(await buttons(page, name), 1, name);
  }
  // Shown, its button says Hide for that variable.
  await page.getByRole('button', { name: 'Show value of FOO', exact: true }).click();
  await page.getByRole('button', { name: 'Hide value of FOO', exact: true }).waitFor();
  t.is(await page.locator('[data-testid=env-list] li[data-key=FOO]').getByTestId('revealed').innerText(), 'foo-value');
  t.is(await buttons(page, 'Show value of BAR'), 1);

  await page.getByTestId('file-name').fill('credentials.json');
  await page.getByTestId('file-content').fill('{}');
  await page.getByTestId('file-save').click();
  await page.locator('[data-testid=file-list] li[data-key="credentials.json"]').waitFor();
  for (const name of ['Show credentials.json', 'Change credentials.json', 'Delete credentials.json']) t.is(await buttons(page, name), 1, name);

  await page.getByTestId('domain-name').fill('named.example.com');
  await page.getByTestId('domain-add').click();
  await page.locator('[data-testid=domain-row][data-domain="named.example.com"]').waitFor();
  for (const name of ['Verify named.example.com', 'Remove named.example.com']) t.is(await buttons(page, name), 1, name);

  // The named Delete deletes that variable.
  await page.getByRole('button', { name: 'Delete BAR', exact: true }).click();
  await page.locator('[data-testid=env-list] li[data-key=BAR]').getByTestId('kv-delete-confirm').click();
  await page.locator('[data-testid=env-list] li[data-key=BAR]').waitFor({ state: 'detached' });
  t.is(await buttons(page, 'Delete FOO'), 1);
  t.deepEqual(problems, []);
  await context.close();
});

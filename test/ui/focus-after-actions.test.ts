import anyTest from 'ava';
import type { Browser } from 'playwright-core';
import { serviceMadeOutside, type UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { takingTurns } from './support/turns.js';
import { focusedElement, focusSettles, listenToAnnouncer, saidOnce } from './support/browser.js';

const test = takingTurns(anyTest);

// A keyboard and screen-reader user on a service's settings page: a question closed with Keep or Escape
// leaves focus on the button that asked it; adding or removing a domain is said, as saving or deleting a
// variable is; a row found already removed elsewhere does not drop focus to <body>.
let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

test('a deploy history rollback asked, then Keep (Enter) or Escape: focus is back on "Roll back to this", not dropped to <body>', async (t) => {
  t.timeout(120_000);
  const { context, page, problems, apiKey } = await stack.signedInWithKey(browser, 'a11y-rollback', []);
  const { render, serviceId: id } = await serviceMadeOutside(stack, apiKey, { login: 'a11y-rollback', name: 'a11y-rollback' });
  await render.triggerDeploy(id, {});
  for (let i = 0; i < 300 && (await render.listDeploys(id)).filter((d) => d.status === 'live' || d.status === 'deactivated').length < 2; i++) await new Promise((r) => setTimeout(r, 20));
  await page.goto(`${stack.url}/#/services/${id}`);
  const older = page.locator('[data-testid=history-row][data-status=deactivated]');
  await older.getByTestId('history-rollback').waitFor();

  // Enter on "Roll back to this" asks; Tab to Keep, Enter: the question closes.
  await older.getByTestId('history-rollback').focus();
  await page.keyboard.press('Enter');
  t.is(await focusedElement(page), 'history-rollback-confirm');
  await page.keyboard.press('Tab');
  t.is(await focusedElement(page), 'BUTTON Keep');
  await page.keyboard.press('Enter');
  t.is(await older.getByTestId('history-rollback-confirm').count(), 0, 'Keep closed the question');
  t.is(await focusedElement(page), 'history-rollback', 'focus is on the button that asked, not on <body>');

  // Escape answers Keep, as it does for every other question of the app (confirmButton).
  await older.getByTestId('history-rollback').focus();
  await page.keyboard.press('Enter');
  await page.keyboard.press('Escape');
  t.is(await older.getByTestId('history-rollback-confirm').count(), 0, 'Escape closed the question');
  t.is(await focusedElement(page), 'history-rollback');
  t.deepEqual(problems, []);
  await context.close();
});

test('a custom domain added and removed with the keyboard is said to a screen reader, as a variable saved or deleted is', async (t) => {
  t.timeout(120_000);
  const { context, page, problems, apiKey } = await stack.signedInWithKey(browser, 'a11y-domains', []);
  const { render, serviceId: id } = await serviceMadeOutside(stack, apiKey, { login: 'a11y-domains', name: 'a11y-domains' });
  await render.addCustomDomain(id, 'first.a11y-domains.example.com');
  await page.goto(`${stack.url}/#/services/${id}`);
  await page.locator('[data-testid=domain-row][data-domain="first.a11y-domains.example.com"]').waitFor();
  await listenToAnnouncer(page);

  // A second domain: the list's status line says the same as before, so nothing else would be read out.
  await page.getByTestId('domain-name').fill('second.a11y-domains.example.com');
  await page.getByTestId('domain-add').focus();
  await page.keyboard.press('Enter');
  const row = page.locator('[data-testid=domain-row][data-domain="second.a11y-domains.example.com"]');
  await row.waitFor();
  await page.locator('[data-testid=domain-add]:not([aria-busy])').waitFor();
  t.true((await saidOnce(page, /second\.a11y-domains\.example\.com/)).some((s) => /second\.a11y-domains\.example\.com.*added/.test(s)), 'the added domain is announced');

  await row.getByTestId('domain-remove').focus();
  await page.keyboard.press('Enter');
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Enter');
  await row.waitFor({ state: 'detached' });
  t.true((await saidOnce(page, /second\.a11y-domains\.example\.com.*removed/)).some((s) => /second\.a11y-domains\.example\.com.*removed/.test(s)), 'the removed domain is announced');
  t.deepEqual(problems, []);
  await context.close();
});

test('a variable, a file and a domain removed on Render meanwhile, then removed here with the keyboard: focus is on the section, not on <body>', async (t) => {
  t.timeout(120_000);
  const { context, page, problems, apiKey } = await stack.signedInWithKey(browser, 'a11y-gone', []);
  const { render, serviceId: id } = await serviceMadeOutside(stack, apiKey, { login: 'a11y-gone', name: 'a11y-gone' });
  await render.putEnvVar(id, 'GONE_TOKEN', 'gone-token-value');
  await render.putSecretFile(id, 'gone.pem', 'gone-file-content');
  await render.addCustomDomain(id, 'gone.a11y-gone.example.com');
  await page.goto(`${stack.url}/#/services/${id}`);
  const rows = {
    env: page.locator('[data-testid=env-list] li[data-key=GONE_TOKEN]'),
    file: page.locator('[data-testid=file-list] li[data-key="gone.pem"]'),
    domain: page.locator('[data-testid=domain-row][data-domain="gone.a11y-gone.example.com"]'),
  };
  for (const row of Object.values(rows)) await row.waitFor();
  // Removed on the Render Dashboard: no event reaches this page.
  await render.deleteEnvVar(id, 'GONE_TOKEN');
  await render.deleteSecretFile(id, 'gone.pem');
  await render.deleteCustomDomain(id, 'gone.a11y-gone.example.com');

  const cases = [
    ['env', 'kv-delete', 'env-section', 'GONE_TOKEN was already removed', 'H2 Environment variables'],
    ['file', 'kv-delete', 'file-section', 'gone.pem was already removed', 'H2 Secret files'],
    ['domain', 'domain-remove', 'domains-section', 'gone.a11y-gone.example.com was already removed', 'H2 Custom domains'],
  ] as const;
  for (const [which, testId, section, said, heading] of cases) {
    const row = rows[which];
    await row.getByTestId(testId).focus();
    await page.keyboard.press('Enter');
    await page.keyboard.press('Shift+Tab'); // from Keep to the confirm button
    await page.keyboard.press('Enter');
    await row.waitFor({ state: 'detached' });
    await page.getByTestId(section).getByText(said).waitFor();
    t.is(await focusSettles(page, heading), heading, `${which}: focus on its section's heading`);
  }
  t.deepEqual(problems.filter((p) => !/404/.test(p)), []);
  await context.close();
});

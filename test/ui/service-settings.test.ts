import anyTest from 'ava';
import type { Browser } from 'playwright-core';
import { horizontalOverflow, newContext, PHONE, screenshot } from './support/browser.js';
import { connectKey, serviceMadeOutside, type UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

// Issue 15: the service settings page in Chromium, reached from the dashboard's service card: edit
// an env var (value hidden until shown), toggle auto-deploy, add a custom domain and see its DNS
// records; a bad domain is refused on its field; a rollback from the history turns auto-deploy off
// first. Screenshots at 1280 px and 375 px.

let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

test('settings page: env var edit and reveal, auto-deploy toggle, a custom domain with its DNS records; desktop and phone screenshots', async (t) => {
  t.timeout(120_000);
  const apiKey = 'rnd_settingspage' + 'x'.repeat(20);
  stack.render.addAccount({ apiKey, workspaces: [{ name: 'Settings workspace' }] });
  const { render, serviceId } = await serviceMadeOutside(stack, apiKey, { login: 'set-user', name: 'settings-api', region: 'frankfurt' });
  await render.putEnvVar(serviceId, 'DATABASE_URL', 'postgres://db-password-123@db/app');

  const { page, problems } = await newContext(browser);
  await stack.signInBrowser(page, 'set-user', { id: 616_161, name: 'Set User' });
  await connectKey(page, apiKey);

  // From the dashboard's card to the page.
  await page.goto(`${stack.url}/#/`);
  await page.locator(`[data-testid=service-card][data-service-id=${serviceId}]`).getByTestId('service-settings').click();
  // The page's own h1 (the dashboard card has a heading with the same name, which can match while the
  // settings view is still loading: the meta line was read empty once in CI).
  await page.getByRole('heading', { level: 1, name: 'settings-api' }).waitFor();
  t.regex(await page.getByTestId('service-meta').innerText(), /frankfurt/);

  // Env vars: the value is hidden until asked for, and the page says the read is audited.
  const envRow = page.locator('[data-testid=env-list] li[data-key=DATABASE_URL]');
  await envRow.waitFor();
  t.false((await page.getByTestId('env-section').innerText()).includes('db-password-123'));
  t.regex(await page.getByTestId('env-section').innerText(), /Render audit log/);
  await envRow.getByTestId('reveal').click();
  await envRow.getByTestId('revealed').filter({ hasText: 'postgres://db-password-123@db/app' }).waitFor();
  // A bad name is refused on its field; then a real edit.
  await page.getByTestId('env-key').fill('1BAD');
  await page.getByTestId('env-value').fill('x');
  await page.getByTestId('env-save').click();
  await page.getByText('Variable names are letters, digits and _').waitFor();
  await page.getByTestId('env-key').fill('API_URL');
  await page.getByTestId('env-value').fill('https://api.example.com');
  await page.getByTestId('env-save').click();
  await page.locator('[data-testid=env-list] li[data-key=API_URL]').waitFor();
  await page.getByTestId('apply-redeploy').waitFor();
  t.is((await render.getEnvVar(serviceId, 'API_URL')).value, 'https://api.example.com');

  // Auto-deploy off.
  const auto = page.getByTestId('auto-deploy');
  t.true(await auto.isChecked());
  await auto.uncheck();
  await page.getByTestId('auto-deploy-note').filter({ hasText: 'does not deploy on push' }).waitFor();
  t.is((await render.getService(serviceId)).autoDeploy, 'no');

  // A domain: a bad one refused on the field, a good one listed with its DNS records.
  await page.getByTestId('domain-name').fill('https://shop.example.com/');
  await page.getByTestId('domain-add').click();
  await page.getByText('Enter a domain such as app.example.com').waitFor();
  await page.getByTestId('domain-name').fill('shop.example.com');
  await page.getByTestId('domain-add').click();
  const domainRow = page.locator('[data-testid=domain-row][data-domain="shop.example.com"]');
  await domainRow.waitFor();
  t.is(await domainRow.getByTestId('domain-status').innerText(), 'Waiting for DNS');
  t.regex(await domainRow.getByTestId('domain-dns').innerText(), /CNAME\s+shop\.example\.com\s+settings-api\.onrender\.com/);
  // A wildcard domain is taken as Render takes it.
  await page.getByTestId('domain-name').fill('*.shop.example.com');
  await page.getByTestId('domain-add').click();
  const wildRow = page.locator('[data-testid=domain-row][data-domain="*.shop.example.com"]');
  await wildRow.waitFor();
  t.regex(await wildRow.getByTestId('domain-dns').innerText(), /CNAME\s+\*\.shop\.example\.com\s+settings-api\.onrender\.com/);
  t.deepEqual((await render.listCustomDomains(serviceId)).map((d) => d.name), ['shop.example.com', '*.shop.example.com']);

  // The deploy history lists Render's deploys.
  await page.locator('[data-testid=history-row]').first().waitFor();
  await screenshot(page, 'service-settings-1280');
  t.deepEqual((await horizontalOverflow(page)).culprits, []);

  // Rollback offers to turn auto-deploy off (Render's rollback leaves it on: the next push would undo it).
  await render.updateService(serviceId, { autoDeploy: 'yes' });
  await render.triggerDeploy(serviceId, {});
  for (let i = 0; i < 300 && (await render.listDeploys(serviceId)).filter((d) => d.status === 'live' || d.status === 'deactivated').length < 2; i++) await new Promise((r) => setTimeout(r, 20));
  await page.reload();
  const older = page.locator('[data-testid=history-row][data-status=deactivated]');
  await older.getByTestId('history-rollback').click();
  t.true(await older.getByTestId('rollback-auto-off').isChecked(), 'turning auto-deploy off is offered, and on by default');
  await older.getByTestId('history-rollback-confirm').click();
  await page.waitForURL(/#\/deployments\/dpl-/);
  t.is((await render.getService(serviceId)).autoDeploy, 'no');

  await page.goto(`${stack.url}/#/services/${serviceId}`);
  await page.setViewportSize(PHONE);
  await page.reload();
  await page.locator('[data-testid=domain-row]').first().waitFor();
  await page.locator('[data-testid=history-row]').first().waitFor();
  await screenshot(page, 'service-settings-375');
  const overflow = await horizontalOverflow(page);
  t.true(overflow.scrollWidth <= overflow.innerWidth, `no horizontal scrolling at 375 px: ${overflow.culprits.join(', ')}`);
  t.deepEqual(problems, [], 'no console errors, no CSP violations');
});

test('settings page: a saved instance count and plan say so on the page, and the header names the new plan', async (t) => {
  // The only word of a save was to a screen reader ("Nothing changed." was shown, a save not), and the
  // header kept the old plan until a reload (found by a UX walkthrough).
  t.timeout(120_000);
  const { context, page, problems, apiKey } = await stack.signedInWithKey(browser, 'set-scaler', []);
  const { serviceId } = await serviceMadeOutside(stack, apiKey, { login: 'set-scaler', name: 'scaled-api' });
  const previewId = stack.render.addPreview(serviceId, { pullRequest: 42 });
  // On the dashboard the preview's card says whose it is; the service's own card does not.
  await page.goto(`${stack.url}/#/`);
  await page.locator(`[data-testid=service-card][data-service-id=${previewId}]`).getByTestId('preview-of').getByText('Pull request preview of scaled-api').waitFor();
  t.is(await page.locator(`[data-testid=service-card][data-service-id=${serviceId}]`).getByTestId('preview-of').count(), 0);
  await page.goto(`${stack.url}/#/services/${serviceId}`);
  await page.getByRole('heading', { level: 1, name: 'scaled-api' }).waitFor();
  t.regex(await page.getByTestId('service-meta').innerText(), /starter/);
  await page.getByTestId('preview-services').getByRole('link', { name: 'scaled-api-pr-42' }).waitFor();
  await page.getByTestId('num-instances').fill('2');
  await page.getByTestId('plan').selectOption('standard');
  await page.getByTestId('settings-save').click();
  await page.getByTestId('settings-flash').getByText('Saved on Render.').waitFor();
  t.true(await page.getByTestId('settings-flash').getByText('Saved on Render.').isVisible());
  t.regex(await page.getByTestId('service-meta').innerText(), /standard/);
  t.is(await page.getByTestId('num-instances').inputValue(), '2');
  // A save's answer does not list previews (not read): the page keeps the ones it had.
  t.true(await page.getByTestId('preview-services').getByRole('link', { name: 'scaled-api-pr-42' }).isVisible());
  t.is(await page.getByTestId('preview-services-partial').count(), 0);
  // A workspace with more services than the look reads (501 newer previews): the page says there may be
  // more, and a save keeps saying so.
  for (let n = 1000; n < 1501; n++) stack.render.addPreview(serviceId, { pullRequest: n });
  await page.reload();
  await page.getByTestId('preview-services-partial').waitFor();
  t.regex(await page.getByTestId('preview-services-partial').innerText(), /may be more previews.*Render Dashboard/);
  await page.getByTestId('num-instances').fill('3');
  await page.getByTestId('settings-save').click();
  await page.getByTestId('settings-flash').getByText('Saved on Render.').waitFor();
  t.true(await page.getByTestId('preview-services-partial').isVisible());
  t.deepEqual(problems, []);
  await context.close();
});

test('settings page: a custom domain\'s Verify says on the page what Render found', async (t) => {
  // The result went only to a screen reader: the button said "Checking…", then nothing changed (found by
  // a UX walkthrough).
  t.timeout(120_000);
  const { context, page, problems, apiKey } = await stack.signedInWithKey(browser, 'set-verifier', []);
  const { serviceId } = await serviceMadeOutside(stack, apiKey, { login: 'set-verifier', name: 'verified-api' });
  await page.goto(`${stack.url}/#/services/${serviceId}`);
  await page.getByRole('heading', { level: 1, name: 'verified-api' }).waitFor();
  await page.getByTestId('domain-name').fill('verify.example.com');
  await page.getByTestId('domain-add').click();
  const row = page.locator('[data-testid=domain-row][data-domain="verify.example.com"]');
  await row.waitFor();
  await row.getByTestId('domain-verify').click();
  await page.getByText('verify.example.com: Render does not see the DNS records yet.').and(page.locator('.notice')).waitFor();
  stack.render.configureDns('verify.example.com');
  await row.getByTestId('domain-verify').click();
  await page.getByText('verify.example.com verified.').and(page.locator('.notice')).waitFor();
  // The list is read again after the answer is said: the row follows.
  await row.getByTestId('domain-status').filter({ hasText: 'Verified' }).waitFor();
  t.deepEqual(problems, []);
  await context.close();
});

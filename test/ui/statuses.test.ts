import anyTest from 'ava';
import type { Browser } from 'playwright-core';
import { DESKTOP, screenshot } from './support/browser.js';
import { deployThroughForm, type UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

// Issue 12 part 3 in the browser: replaced deploys, service cards by their latest deploy, deleted
// services, and the commit Render built.

let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

test('replaced deploys say so and link to what replaced them; cards show the latest outcome; deleted services offer nothing', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'stat-ui', ['shop', 'broken-build', 'old-blog'], DESKTOP);
  stack.render.failBuilds({ repo: 'https://github.com/stat-ui/broken-build' }, 'build_failed');

  const firstId = await deployThroughForm(page, 'stat-ui/shop');
  await page.locator('#deployment-status[data-status="live"]').waitFor({ timeout: 20_000 });
  // The commit Render built is shown; a new service builds the branch head, so the one we checked is shown beside it when they differ.
  const built = await page.getByTestId('commit-built').innerText();
  t.regex(built, /^[0-9a-f]{7,12}$/);
  t.is(await page.getByTestId('rollback').count(), 0, 'no rollback on the deploy that is live now');

  // Two redeploys: the first deploy is replaced by the second, which is replaced by the third.
  await page.getByTestId('redeploy').click();
  await page.waitForURL((url) => !url.hash.endsWith(firstId));
  const secondId = page.url().split('#/deployments/')[1]!;
  await page.locator('#deployment-status[data-status="live"]').waitFor({ timeout: 20_000 });
  await page.getByTestId('redeploy').click();
  await page.waitForURL((url) => !url.hash.endsWith(secondId));
  const thirdId = page.url().split('#/deployments/')[1]!;
  await page.locator('#deployment-status[data-status="live"]').waitFor({ timeout: 20_000 });

  await page.goto(`${stack.url}/#/deployments/${firstId}`);
  await page.locator('#deployment-status[data-status="deactivated"]').waitFor();
  t.is(await page.locator('#deployment-status .badge__text').innerText(), 'Deactivated');
  t.regex(await page.getByTestId('state-note').innerText(), /replaced by a newer deploy/i);
  t.is(await page.getByTestId('rollback').count(), 1, 'a replaced deploy can be rolled back to');
  await page.getByTestId('replaced-by-link').click();
  await page.waitForURL((url) => url.hash.endsWith(secondId));
  await page.locator('#deployment-status[data-status="deactivated"]').waitFor();
  await page.getByTestId('replaced-by-link').click();
  await page.waitForURL((url) => url.hash.endsWith(thirdId));
  await page.locator('#deployment-status[data-status="live"]').waitFor();
  t.is(await page.getByTestId('rollback').count(), 0);

  // A broken build and a service we will delete.
  await deployThroughForm(page, 'stat-ui/broken-build');
  await page.locator('#deployment-status[data-status="build_failed"]').waitFor({ timeout: 20_000 });
  const blogId = await deployThroughForm(page, 'stat-ui/old-blog');
  await page.locator('#deployment-status[data-status="live"]').waitFor({ timeout: 20_000 });

  await page.getByRole('link', { name: 'Dashboard', exact: true }).click();
  const card = (name: string) => page.getByTestId('service-card').filter({ has: page.locator('.service__name', { hasText: new RegExp(`^${name}$`) }) });
  await card('broken-build').waitFor();
  t.is(await card('broken-build').getAttribute('data-state'), 'deploy_failed');
  t.is(await card('broken-build').getByTestId('service-state').locator('.badge__text').innerText(), 'Deploy failed', 'not "Active"');
  t.regex(await card('broken-build').getByTestId('service-latest-deploy').innerText(), /Build failed/);
  t.is(await card('shop').getAttribute('data-state'), 'live');
  // The deployments list and the cards are read side by side: the cards can be drawn first.
  await page.getByTestId('deployment-row').nth(4).waitFor();
  t.deepEqual(await page.getByTestId('deployment-row').locator('.badge').evaluateAll((els) => els.map((e) => (e as any).dataset.status)),
    ['live', 'build_failed', 'live', 'deactivated', 'deactivated'], 'one live deploy per service');
  await screenshot(page, 'dashboard-statuses-desktop');

  // Delete old-blog from its card: its deployment says "service deleted" and offers no redeploy.
  await card('old-blog').getByTestId('service-delete').click();
  await card('old-blog').getByTestId('service-delete-confirm').click();
  await page.getByTestId('service-deleted').first().waitFor();
  // The row's text (what a screen reader reads for its link) keeps the words apart: not "@ mainredeploy", "@ mainwas live".
  const metas = await page.getByTestId('deployment-row').locator('.row__meta').evaluateAll((els) => els.map((e) => (e.textContent ?? '').replace(/\s+/g, ' ')));
  t.true(metas.includes('stat-ui/shop @ main redeploy replaced by a newer deploy'), metas.join(' | '));
  t.true(metas.includes('stat-ui/old-blog @ main was live'), metas.join(' | '));
  await page.goto(`${stack.url}/#/deployments/${blogId}`);
  await page.getByTestId('state-note').getByText('Service deleted').waitFor();
  await page.locator('#deployment-status[data-status="service_deleted"]').waitFor();
  t.is(await page.locator('#deployment-status .badge__text').innerText(), 'Service deleted', 'not "Live" any more');
  t.is(await page.getByTestId('redeploy').count(), 0);
  t.is(await page.getByRole('link', { name: /View on Render|Open the live site/ }).count(), 0);
  await screenshot(page, 'deployment-service-deleted-desktop');
  t.deepEqual(problems, []);
  await context.close();
});

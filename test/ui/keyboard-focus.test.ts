import anyTest from 'ava';
import type { Browser, Page } from 'playwright-core';
import { focusedElement, newContext } from './support/browser.js';
import { connectKey, failedDeployments, redeployFromPage, serviceMadeOutside, startDeployments, type UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

// Code inside page.evaluate runs in the browser; these stand in for the DOM types this (Node-only) project does not load.
declare const document: any;

// A keyboard-only user on a service's settings page: after pressing a button, focus stays where they
// were (the pressed button, or the field an error is about), never dropped to <body>, from where the
// next Tab starts again at the top of the page.

let stack: UiStack;
let browser: Browser;
// Render allows 10 deploys a minute per service; the 'Load older deploys' test triggers 21 on one service.
useBrowserStack(test, { stack: { renderOptions: { rateLimits: { deploy: { limit: 100 } } } } }, (b) => ({ stack, browser } = b));

/** The focused element's data-testid and aria-invalid. */
const focused = (page: Page) => page.evaluate(() => {
  const el = document.activeElement;
  return { testId: el?.getAttribute('data-testid') ?? el?.tagName ?? null, invalid: el?.getAttribute('aria-invalid') ?? null };
});

/**
 * What has focus once it is `expected` (its data-testid, or its text for a heading), or after 20 s, whatever
 * it is then. Focus moves once the action's requests have answered (a key cleared and the session read
 * again, a service suspended and the cards read again): seconds on a loaded CI machine, where 5 s was short.
 */
async function focusSettles(page: Page, expected: string): Promise<string | null> {
  const now = () => page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return 'BODY';
    return el.getAttribute('data-testid') ?? el.textContent;
  });
  await page.waitForFunction((want) => {
    const el = document.activeElement;
    return el && el !== document.body && (el.getAttribute('data-testid') ?? el.textContent) === want;
  }, expected, { timeout: 20_000 }).catch(() => {});
  return now();
}

test('service settings with the keyboard: focus stays on the pressed button, or moves to the field in error', async (t) => {
  const apiKey = 'rnd_keyboardfocus' + 'x'.repeat(20);
  stack.render.addAccount({ apiKey, workspaces: [{ name: 'Keyboard workspace' }] });
  const { serviceId } = await serviceMadeOutside(stack, apiKey, { login: 'key-user', name: 'keyboard-api' });
  const { context, page, problems } = await newContext(browser);
  await stack.signInBrowser(page, 'key-user');
  await connectKey(page, apiKey);
  await page.goto(`${stack.url}/#/services/${serviceId}`);
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

  // A variable and a domain removed: their rows go, and focus goes to their section's heading.
  const envRow = page.locator('[data-testid=env-list] li[data-key=API_URL]');
  await envRow.getByTestId('kv-delete').focus();
  await page.keyboard.press('Enter');
  t.is(await focusSettles(page, 'kv-delete-keep'), 'kv-delete-keep', 'a destructive question starts on Keep');
  await page.keyboard.press('Shift+Tab'); // to its "Delete"
  await page.keyboard.press('Enter');
  await envRow.waitFor({ state: 'detached' });
  t.is(await focusSettles(page, 'Environment variables'), 'Environment variables');
  await page.getByTestId('domain-name').fill('keyboard.example.com');
  await page.getByTestId('domain-add').focus();
  await page.keyboard.press('Enter');
  const domainRow = page.locator('[data-testid=domain-row][data-domain="keyboard.example.com"]');
  await domainRow.waitFor();
  await domainRow.getByTestId('domain-remove').focus();
  await page.keyboard.press('Enter');
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Enter');
  await domainRow.waitFor({ state: 'detached' });
  t.is(await focusSettles(page, 'Custom domains'), 'Custom domains');
  t.deepEqual(problems, []);
  await context.close();
});

test('key, deploy and service actions with the keyboard: focus lands on what replaced the pressed button', async (t) => {
  const { context, page, problems, apiKey } = await stack.signedInWithKey(browser, 'key-actions', ['slow-app']);
  const press = async (testId: string) => { await page.getByTestId(testId).focus(); await page.keyboard.press('Enter'); };

  // Settings: the key cleared, then connected again.
  await page.goto(`${stack.url}/#/settings`);
  await press('clear-key');
  await press('clear-key-confirm');
  t.is(await focusSettles(page, 'render-key-input'), 'render-key-input', 'the form asking for a key');
  await page.keyboard.type(apiKey);
  await page.keyboard.press('Enter');
  await page.getByTestId('key-status').waitFor();
  t.is(await focusSettles(page, 'Render API key'), 'Render API key', 'the section saying it is connected');
  // Replacing it begun, then given up: back on "Replace key".
  await press('replace-key');
  t.is(await focusSettles(page, 'render-key-input'), 'render-key-input');
  await page.getByRole('button', { name: 'Cancel' }).focus();
  await page.keyboard.press('Enter');
  t.is(await focusSettles(page, 'replace-key'), 'replace-key');

  // A deploy canceled while Render is slow to create its service: focus stays in its status card.
  stack.render.setFault({ method: 'POST', route: '/services', kind: 'latency', ms: 4000, count: 1, apiKey });
  await page.getByRole('link', { name: 'New deploy' }).first().click();
  await page.getByTestId('repo-search').fill('slow-app');
  await page.locator('[data-testid=repo-option][data-repo="key-actions/slow-app"]').click();
  await page.getByTestId('detected-stack-name').waitFor();
  await press('deploy-submit');
  await page.waitForURL(/#\/deployments\//);
  await press('cancel');
  await press('cancel-confirm');
  await page.locator('#deployment-status[data-status="canceled"]').waitFor();
  // It never had a service: no actions are left, and focus goes to the page's heading.
  t.is(await focusSettles(page, 'slow-app'), 'slow-app');

  // Dashboard: a service suspended (focus on its Resume), then deleted (focus on the services heading).
  await page.goto(`${stack.url}/#/`);
  await page.getByTestId('service-card').first().waitFor();
  const serviceId = await page.getByTestId('service-card').first().getAttribute('data-service-id');
  const card = page.locator(`[data-testid=service-card][data-service-id="${serviceId}"]`);
  await card.getByTestId('service-suspend').focus();
  await page.keyboard.press('Enter');
  t.is(await focusSettles(page, 'service-resume'), 'service-resume');
  // Delete asks first, on Keep: Enter twice (or held) on Delete deleted the service on Render when the
  // question started on its confirm button (found by a review); Escape keeps it too.
  await card.getByTestId('service-delete').focus();
  await page.keyboard.press('Enter');
  t.is(await focusSettles(page, 'service-delete-keep'), 'service-delete-keep', 'a destructive question starts on Keep');
  await page.keyboard.press('Enter');
  t.is(await focusSettles(page, 'service-delete'), 'service-delete', 'a second Enter keeps the service');
  await page.keyboard.press('Enter');
  await page.keyboard.press('Escape');
  t.is(await focusSettles(page, 'service-delete'), 'service-delete', 'Escape keeps it');
  t.true(await card.isVisible());
  await page.keyboard.press('Enter');
  await page.keyboard.press('Shift+Tab'); // from Keep to "Delete service"
  await page.keyboard.press('Enter');
  await card.waitFor({ state: 'detached' });
  t.is(await focusSettles(page, 'Render services'), 'Render services');
  t.deepEqual(problems, []);
  await context.close();
});

test('security page with the keyboard: a refused Slack webhook is focused with its message, on save and on a test message', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'key-security', []);
  await page.goto(`${stack.url}/#/security`);
  await page.getByTestId('sentinel-enabled').check();
  await page.getByTestId('sentinel-slack').fill('https://evil.example.com/hook');
  await page.getByTestId('sentinel-save').focus();
  await page.keyboard.press('Enter');
  await page.getByText('Only Slack incoming webhooks').waitFor();
  t.deepEqual(await focused(page), { testId: 'sentinel-slack', invalid: 'true' });

  await page.getByTestId('sentinel-test').focus();
  await page.keyboard.press('Enter');
  t.is(await focusSettles(page, 'sentinel-slack'), 'sentinel-slack');
  t.deepEqual(problems, []);
  await context.close();
});

test('"Load more repositories" with the keyboard: the last page focuses the first repository it brought', async (t) => {
  const repos = Array.from({ length: 32 }, (_, i) => `many-${String(i).padStart(2, '0')}`);
  const { context, page, problems } = await stack.signedInWithKey(browser, 'key-many', repos);
  await page.getByRole('link', { name: 'New deploy' }).first().click();
  const more = page.getByRole('button', { name: 'Load more repositories' });
  await more.waitFor();
  t.is(await page.getByTestId('repo-option').count(), 30);
  await more.focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('repo-option').nth(30).waitFor();
  const focusedRepo = await page.evaluate(() => document.activeElement?.getAttribute('data-repo') ?? document.activeElement?.tagName);
  t.is(focusedRepo, await page.getByTestId('repo-option').nth(30).getAttribute('data-repo'));
  t.deepEqual(problems, []);
  await context.close();
});

test('a deployment that is not yours (or not there): focus is on the heading that says so', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'key-notfound', []);
  await page.goto(`${stack.url}/#/`);
  await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
  await page.goto(`${stack.url}/#/deployments/dpl-aaaaaaaaaaaaaaaaaaaa`);
  await page.getByRole('heading', { level: 1, name: 'Deployment not found' }).waitFor();
  t.is(await focusSettles(page, 'Deployment not found'), 'Deployment not found');
  t.deepEqual(problems, []);
  await context.close();
});

test('Sign out with the keyboard: focus is on the sign-in page\'s heading, not dropped to the page', async (t) => {
  // The Sign out button went with the signed-in page and focus fell to <body>; the "You are signed out." notice was
  // not read out (found by a probe of shared computers).
  const { context, page, problems } = await stack.signedInWithKey(browser, 'key-signout', []);
  await page.getByTestId('sign-out').focus();
  await page.keyboard.press('Enter');
  await page.getByText('You are signed out.').waitFor();
  t.is(await focusSettles(page, 'Deploy your GitHub repositories to Render'), 'Deploy your GitHub repositories to Render');
  await page.keyboard.press('Tab');
  t.is(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'sign-in', 'the next Tab reaches Sign in');
  t.deepEqual(problems, []);
  await context.close();
});

test('"Load older deploys" and "Load older deployments" with the keyboard: after the last page, focus is on the first row it brought', async (t) => {
  const { context, page, problems, apiKey } = await stack.signedInWithKey(browser, 'key-older', []);
  // 22 deploys on a service (Render's list pages by 20 here), and 21 deployments of the user's own.
  const { render, serviceId } = await serviceMadeOutside(stack, apiKey, { login: 'key-older', name: 'older-api' });
  for (let i = 0; i < 21; i++) await render.triggerDeploy(serviceId, {});
  t.deepEqual([...new Set(await failedDeployments(page, 'key-older', Array.from({ length: 21 }, (_, i) => `gone-${i}`)))], [202]);

  // Render runs a service's deploys one at a time (~1.4 s each here): the 22 take ~30 s, and while the
  // newest listed is on its way the page reads its history again every 6 s, as far as it was paged and a
  // page more (all 22, "Load older deploys" gone). A slow machine between the first drawing and the press
  // would then count 22 rows, or press a hidden button. The page's timers are held while it is on the
  // service page (no timed read), and let go for the dashboard (its reloads wait 300 ms).
  await page.clock.install();
  await page.clock.pauseAt(Date.now() + 1_000);
  await page.goto(`${stack.url}/#/services/${serviceId}`);
  const olderDeploys = page.getByRole('button', { name: 'Load older deploys' });
  await olderDeploys.waitFor();
  t.is(await page.getByTestId('history-row').count(), 20);
  await olderDeploys.focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('history-row').nth(20).waitFor();
  const twentyFirst = await page.getByTestId('history-row').nth(20).getAttribute('data-deploy-id');
  t.is(await page.evaluate(() => document.activeElement?.closest('[data-testid=history-row]')?.getAttribute('data-deploy-id') ?? 'not in a row'), twentyFirst, `focus: ${await focusedElement(page)}`);

  await page.goto(`${stack.url}/#/`);
  await page.clock.resume();
  const olderDeployments = page.getByRole('button', { name: 'Load older deployments' });
  await olderDeployments.waitFor();
  await olderDeployments.focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('deployment-row').nth(20).waitFor();
  const lastRow = await page.getByTestId('deployment-row').nth(20).getAttribute('data-deployment-id');
  const focusedRow = () => page.evaluate(() => document.activeElement?.closest('[data-testid=deployment-row]')?.getAttribute('data-deployment-id') ?? 'not in a row');
  t.is(await focusedRow(), lastRow, `focus: ${await focusedElement(page)}`);

  // A deployment started elsewhere (another tab, CI) reloads the list: the older page stays, and so does focus.
  t.deepEqual(await startDeployments(page, 'key-older', ['gone-new']), [202]);
  await page.locator('[data-testid=deployment-row] .row__title', { hasText: 'gone-new' }).waitFor();
  t.is(await page.getByTestId('deployment-row').count(), 22, 'the older page is still listed');
  t.is(await focusedRow(), lastRow, `focus after the reload: ${await focusedElement(page)}`);
  t.deepEqual(problems, []);
  await context.close();
});

test('a reload of the deployments list that answers before a "Load older deployments" click: no row listed twice', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'key-reload-race', []);
  t.deepEqual([...new Set(await failedDeployments(page, 'key-reload-race', Array.from({ length: 21 }, (_, i) => `race-${i}`)))], [202]);

  await page.goto(`${stack.url}/#/`);
  const older = page.getByRole('button', { name: 'Load older deployments' });
  await older.waitFor();
  // The click's page is held on its way to the server while a deployment started elsewhere makes the
  // list reload (its first 20 and a page more), and that reload answers first.
  let release!: () => Promise<void>;
  const held = new Promise<void>((resolve) => {
    void page.route((url) => url.pathname === '/api/render/my-deployments' && url.searchParams.has('cursor'), (route) => {
      release = () => route.continue();
      resolve();
    });
  });
  const lastShown = await page.getByTestId('deployment-row').last().getAttribute('data-deployment-id');
  await older.click();
  await held;
  t.deepEqual(await startDeployments(page, 'key-reload-race', ['race-new']), [202]);
  await page.locator('[data-testid=deployment-row] .row__title', { hasText: 'race-new' }).waitFor();
  await page.getByTestId('deployment-row').nth(21).waitFor();
  const answered = page.waitForResponse((res) => new URL(res.url()).searchParams.has('cursor'));
  await release();
  await answered;
  await page.waitForFunction(() => !document.querySelector('[aria-busy=true]'));
  const ids = await page.getByTestId('deployment-row').evaluateAll((rows: any[]) => rows.map((r) => r.getAttribute('data-deployment-id')));
  t.is(ids.length, 22, 'the 22 deployments, each once');
  t.is(new Set(ids).size, ids.length, 'no row twice');
  // The button is gone (everything is listed): focus is on the first row past those shown at the click.
  t.is(await page.evaluate(() => document.activeElement?.closest('[data-testid=deployment-row]')?.getAttribute('data-deployment-id') ?? 'not in a row'), ids[ids.indexOf(lastShown) + 1], `focus: ${await focusedElement(page)}`);
  t.deepEqual(problems, []);
  await context.close();
});

test('the service page\'s deploy history read again after a redeploy (this tab or another) keeps the older deploys loaded', async (t) => {
  // 5d112f8 reads the history again on a redeploy event; it read the first 20 again, so the deploys
  // loaded with 'Load older deploys' vanished and the button came back (the dashboard's 77545b6 case).
  const { context, page, apiKey } = await stack.signedInWithKey(browser, 'key-history-reload', []);
  const { render, serviceId } = await serviceMadeOutside(stack, apiKey, { login: 'key-history-reload', name: 'history-reload' });
  for (let i = 0; i < 21; i++) await render.triggerDeploy(serviceId, {});
  await page.goto(`${stack.url}/#/services/${serviceId}`);
  const older = page.getByRole('button', { name: 'Load older deploys' });
  await older.waitFor();
  await older.click();
  await page.getByTestId('history-row').nth(20).waitFor();
  const before = await page.getByTestId('history-row').count();
  t.true(before >= 22, `${before} rows`);

  const reread = page.waitForResponse((res) => { const url = new URL(res.url()); return url.pathname === `/api/render/services/${serviceId}/deploys` && !url.searchParams.has('cursor') && res.request().method() === 'GET'; });
  const status = await redeployFromPage(page, serviceId);
  t.is(status, 202);
  await reread;
  await page.evaluate(async () => { for (let i = 0; i < 10; i++) await new Promise((resolve) => setTimeout(resolve, 0)); });
  t.true(await page.getByTestId('history-row').count() >= before, 'the older deploys are still listed');
  t.true(await older.isHidden(), 'no "Load older deploys": everything is listed');
  await context.close();
});

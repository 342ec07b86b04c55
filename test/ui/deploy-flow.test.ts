import anyTest from 'ava';
import type { Browser } from 'playwright-core';
import { DESKTOP, PHONE, horizontalOverflow, newContext, screenshot } from './support/browser.js';
import { connectKey, deployThroughForm, type UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

// Code inside page.evaluate runs in the browser; these stand in for the DOM types this (Node-only) project does not load.
declare const window: any;
declare const document: any;
declare const getComputedStyle: (el: unknown) => { getPropertyValue(name: string): string };

let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

test('sign in → connect key → deploy → watch it go live without reloading', async (t) => {
  const { context, page, problems } = await newContext(browser);
  const apiKey = stack.renderAccount('alice');
  stack.addNodeRepo('alice', 'shop');
  stack.addNodeRepo('alice', 'blog');

  await page.goto(stack.url + '/');
  await page.getByTestId('signin').waitFor();
  t.is(await page.getByTestId('sign-in').getAttribute('href'), '/api/auth/github/login');
  await stack.signInBrowser(page, 'alice');
  t.is(new URL(page.url()).pathname, '/');
  await page.getByTestId('connect-key-link').waitFor();

  // A wrong key: clear message, nothing stored, the key stays in the field to be corrected (issue 12 part 5).
  await page.getByTestId('connect-key-link').click();
  const input = page.getByTestId('render-key-input');
  t.is(await input.getAttribute('type'), 'password', 'the key is masked');
  await input.fill('rnd_thisKeyDoesNotExist0000000');
  await page.getByTestId('render-key-submit').click();
  const err = page.locator('.field__error').filter({ hasText: /Render rejected this API key/ });
  await err.waitFor();
  t.is(await input.getAttribute('aria-invalid'), 'true');
  t.is(await input.inputValue(), 'rnd_thisKeyDoesNotExist0000000');

  await connectKey(page, apiKey);
  // When Render last accepted it: the session view left verifiedAt out, so "verified …" never showed.
  t.regex(await page.getByTestId('key-status').innerText(), /Connected: rnd_\.\.\..{4} · verified \S/);
  // The workspaces are Render's, asked again as the page opens, and the page says so.
  t.regex(await page.getByTestId('key-owners-note').innerText(), /As Render lists them: asked again each time this page or the deploy form opens/);
  t.is(await page.getByTestId('key-owners').locator('li bdi').count(), await page.getByTestId('key-owners').locator('li').count(), 'each workspace name isolated');
  t.false((await page.content()).includes(apiKey), 'the key never comes back to the page');

  // Deploy through the form and watch the status change in place.
  await page.evaluate(() => { (window).__noReload = 'still-here'; });
  await page.getByRole('link', { name: 'New deploy' }).first().click();
  await page.getByTestId('repo-search').fill('sho');
  await page.getByText('1 repository matching “sho”.').waitFor();
  t.deepEqual(await page.getByTestId('repo-option').evaluateAll((els) => els.map((e) => (e as any).dataset.repo)), ['alice/shop'], 'the search filters');
  await page.locator('[data-testid=repo-option][data-repo="alice/shop"]').click();
  await page.getByTestId('detected-stack-name').waitFor();
  t.is(await page.getByTestId('detected-stack-name').innerText(), 'Node.js');
  t.is(await page.getByTestId('service-name').inputValue(), 'shop', 'service name defaults from the repo');
  t.is(await page.getByTestId('branch-select').inputValue(), 'main');
  t.is(await page.getByTestId('build-command').inputValue(), 'npm ci');
  t.truthy(await page.getByTestId('start-command').inputValue());
  await page.getByTestId('env-add').click();
  await page.getByTestId('env-name').fill('DATABASE_PASSWORD');
  await page.getByTestId('env-value').fill('hunter2-very-secret');
  t.is(await page.getByTestId('env-value').evaluate((el) => getComputedStyle(el).getPropertyValue('-webkit-text-security')), 'disc', 'secret values are masked');

  const requests: Array<{ url: string; body: any; headers: Record<string, string> }> = [];
  page.on('request', (r) => { if (r.url().endsWith('/api/render/deploy')) requests.push({ url: r.url(), body: r.postDataJSON(), headers: r.headers() }); });
  await page.getByTestId('deploy-submit').click();
  await page.waitForURL(/#\/deployments\/.+$/);
  t.is(requests.length, 1);
  t.truthy(requests[0]!.headers['x-csrf-token'], 'CSRF token sent');
  t.truthy(requests[0]!.headers['idempotency-key']);
  t.false('build_command' in requests[0]!.body, 'unchanged commands are not sent');
  t.deepEqual(requests[0]!.body.env_vars, [{ key: 'DATABASE_PASSWORD', value: 'hunter2-very-secret' }]);

  const status = page.getByTestId('deployment-status');
  await status.waitFor();
  await page.evaluate(() => {
    const badge = document.getElementById('deployment-status')!;
    const seen = [badge.dataset.status];
    (window).__seen = seen;
    new (globalThis as any).MutationObserver(() => { if (seen.at(-1) !== badge.dataset.status) seen.push(badge.dataset.status); }).observe(badge, { attributes: true });
  });
  await page.locator('#deployment-status[data-status="live"]').waitFor({ timeout: 20_000 });
  const seen: string[] = await page.evaluate(() => (window).__seen);
  t.true(seen.length >= 2, `status changed in place: ${seen.join(' → ')}`);
  t.is(seen.at(-1), 'live');
  t.is(await page.evaluate(() => (window).__noReload), 'still-here', 'no page reload happened');
  t.is(await page.locator('#live-mode').getAttribute('data-mode'), 'live', 'updates came over the event stream');
  await page.locator('.step[data-step="live"][data-state="done"]').waitFor();
  t.true(await page.getByTestId('timeline').locator('[data-status="build_in_progress"]').count() >= 1);
  await page.getByTestId('logs').getByText(/Build successful/).first().waitFor({ timeout: 30_000 });
  t.regex(await page.getByTestId('logs').innerText(), /Build successful/);
  t.is(await page.getByRole('link', { name: /Open the live site/ }).count(), 1);
  t.false((await page.content()).includes('hunter2-very-secret'), 'env values are not shown after the deploy');

  // The dashboard lists it, with its live status.
  await page.getByRole('link', { name: 'Dashboard', exact: true }).click();
  const row = page.getByTestId('deployment-row').first();
  await row.waitFor();
  t.regex(await row.innerText(), /shop/);
  t.is(await row.locator('.badge').getAttribute('data-status'), 'live');
  await page.getByTestId('service-card').filter({ hasText: 'shop' }).waitFor();

  t.deepEqual(problems, []);
  await context.close();
});

test('a failed build shows its reason and its logs', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'carol', ['broken']);
  stack.render.failBuilds({ repo: 'https://github.com/carol/broken' }, 'build_failed');
  await deployThroughForm(page, 'carol/broken');
  await page.locator('#deployment-status[data-status="build_failed"]').waitFor({ timeout: 20_000 });
  t.is(await page.locator('#deployment-status .badge__text').innerText(), 'Build failed', 'words, not only colour');
  t.is(await page.locator('#deployment-status .badge__icon').innerText(), '✕', 'and an icon');
  const failure = page.getByTestId('failure-message');
  await failure.waitFor();
  t.regex(await failure.innerText(), /\S/, 'the reason is shown');
  t.is(await page.locator('.step[data-step="build"]').getAttribute('data-state'), 'failed');
  await page.getByTestId('logs').getByText(/Running build command/).first().waitFor({ timeout: 30_000 });
  t.regex(await page.getByTestId('logs').innerText(), /Running build command/);
  t.is(await page.getByTestId('cancel').count(), 0, 'a finished deploy cannot be canceled');
  t.is(await page.getByTestId('redeploy').count(), 1, 'but its service can be redeployed');
  t.deepEqual(problems, []);
  await context.close();
});

test('every page at phone and desktop width: no horizontal overflow; screenshots', async (t) => {
  const { context, page, problems } = await newContext(browser, DESKTOP);
  const apiKey = stack.renderAccount('dana-shots');
  stack.addNodeRepo('dana-shots', 'storefront-with-a-rather-long-repository-name', ['feature/very-long-branch-name-for-layout-checks']);
  stack.addNodeRepo('dana-shots', 'api');
  stack.render.failBuilds({ repo: 'https://github.com/dana-shots/api' }, 'build_failed');

  const check = async (name: string) => {
    for (const [label, size] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
      await page.setViewportSize(size);
      await page.waitForTimeout(50);
      const o = await horizontalOverflow(page);
      t.true(o.scrollWidth <= o.innerWidth, `${name} @ ${label}: scrollWidth ${o.scrollWidth} > ${o.innerWidth} (${o.culprits.join(', ')})`);
      await screenshot(page, `${name}-${label}`);
    }
    await page.setViewportSize(DESKTOP);
  };

  await page.goto(stack.url + '/?auth_error=access_denied');
  await page.getByText('You declined access on GitHub').waitFor();
  t.is(new URL(page.url()).search, '', 'the error code is dropped from the address bar');
  await check('signin-error');
  // A code the server never sends (a crafted link) gets the general message; its text is not shown.
  const planted = 'Your account is suspended. Call +1-555-0100 to restore access';
  await page.goto(`${stack.url}/?auth_error=${encodeURIComponent(planted)}`);
  await page.getByText('Something went wrong while signing in with GitHub').waitFor();
  t.false((await page.locator('body').innerText()).includes('555-0100'));
  await page.goto(`${stack.url}/?auth_error=constructor`);
  await page.getByText('Something went wrong while signing in with GitHub').waitFor();

  await stack.signInBrowser(page, 'dana-shots');
  await page.getByRole('link', { name: 'Settings', exact: true }).click();
  await page.getByTestId('render-key-input').waitFor();
  await check('settings-connect');
  await connectKey(page, apiKey);
  await check('settings-connected');

  const okId = await deployThroughForm(page, 'dana-shots/storefront-with-a-rather-long-repository-name', {
    serviceName: 'storefront', env: [['API_TOKEN', 'secret-value-1'], ['NODE_ENV', 'production']],
  });
  await page.locator('#deployment-status[data-status="live"]').waitFor({ timeout: 20_000 });
  await page.getByTestId('log-line').first().waitFor();
  await check('deployment-live');

  await deployThroughForm(page, 'dana-shots/api');
  await page.locator('#deployment-status[data-status="build_failed"]').waitFor({ timeout: 20_000 });
  await page.getByTestId('log-line').first().waitFor();
  await check('deployment-failed');

  await page.getByRole('link', { name: 'New deploy' }).first().click();
  await page.getByTestId('repo-option').first().waitFor();
  await check('deploy-picker');
  await page.locator('[data-testid=repo-option][data-repo="dana-shots/storefront-with-a-rather-long-repository-name"]').click();
  await page.getByTestId('detected-stack-name').waitFor();
  await page.getByTestId('env-add').click();
  await page.getByTestId('env-name').fill('1NVALID-NAME');
  await page.getByTestId('env-value').fill('x');
  await page.getByTestId('service-name').fill('');
  await page.getByTestId('deploy-submit').click();
  await page.getByTestId('env-error').waitFor();
  await check('deploy-form-errors');

  await page.getByRole('link', { name: 'Dashboard', exact: true }).click();
  await page.getByTestId('deployment-row').nth(1).waitFor();
  await page.getByTestId('service-card').first().waitFor();
  await check('dashboard');

  // The audit trail shows when GET /api/audit answers, and is hidden from the menu when it does not.
  const auditStatus = await page.evaluate(async () => (await fetch('/api/audit?limit=1')).status);
  const auditLink = page.locator('#nav [data-nav="audit"]');
  if (auditStatus === 200) {
    await auditLink.click();
    await page.getByTestId('audit-entry').first().waitFor();
    t.regex(await page.getByTestId('audit-list').innerText(), /Deploy requested/);
  } else {
    t.is(await auditLink.count(), 0);
    await page.goto(`${stack.url}/#/audit`);
    await page.getByText('The audit trail is not available').waitFor();
  }
  await check('audit');

  await page.goto(`${stack.url}/#/deployments/${okId}`);
  await page.locator('#deployment-status[data-status="live"]').waitFor();
  await page.getByTestId('sign-out').click();
  await page.getByText('You are signed out.').waitFor();
  const session = await page.evaluate(async () => (await fetch('/api/session')).status);
  t.is(session, 401, 'signed out on the server');
  t.deepEqual(problems, []);
  await context.close();
});

test('cancel, redeploy and roll back from the deployment page', async (t) => {
  const { context, page, problems, apiKey } = await stack.signedInWithKey(browser, 'kim', ['app']);

  // Render is slow to create the service: the deploy is still running when the user cancels it.
  stack.render.setFault({ method: 'POST', route: '/services', kind: 'latency', ms: 4000, count: 1, apiKey });
  // (its own service name: Render may still finish creating that service after the cancel)
  const canceledId = await deployThroughForm(page, 'kim/app', { serviceName: 'kim-canceled' });
  await page.getByTestId('cancel').click();
  await page.getByTestId('cancel-confirm').click();
  await page.locator('#deployment-status[data-status="canceled"]').waitFor();
  t.regex(await page.getByTestId('failure-message').innerText(), /canceled/i);
  t.is(await page.getByTestId('cancel').count(), 0);

  const firstId = await deployThroughForm(page, 'kim/app', { buildCommand: 'npm ci && npm run build' });
  t.not(firstId, canceledId);
  await page.locator('#deployment-status[data-status="live"]').waitFor({ timeout: 20_000 });
  t.regex(await page.locator('.details').innerText(), /npm ci && npm run build/, 'an edited build command is sent and used');
  // The log panel fetches after the status change: wait for the line rather than reading at once.
  await page.getByTestId('logs').getByText("Running build command 'npm ci && npm run build'").first().waitFor({ timeout: 30_000 });
  t.regex(await page.getByTestId('logs').innerText(), /Running build command 'npm ci && npm run build'/);
  const firstSite = await page.getByRole('link', { name: /Open the live site/ }).getAttribute('href');
  t.regex(firstSite ?? '', /^https:\/\/.+\.onrender\.com/);

  await page.getByTestId('redeploy').click();
  await page.waitForURL((url) => !url.hash.endsWith(firstId));
  const redeployId = page.url().split('#/deployments/')[1]!;
  await page.locator('#deployment-status[data-status="live"]').waitFor({ timeout: 20_000 });
  t.regex(await page.locator('.deployment__subtitle').innerText(), /redeploy/);
  // A redeploy that went live links the live site, as the first deploy's page does.
  const liveSite = page.getByRole('link', { name: /Open the live site/ });
  t.is(await liveSite.count(), 1);
  t.is(await liveSite.getAttribute('href'), firstSite);

  // The redeploy replaced it (issue 12: Render's `deactivated`, not a second "Live"): rollback is offered here.
  await page.goto(`${stack.url}/#/deployments/${firstId}`);
  await page.locator('#deployment-status[data-status="deactivated"]').waitFor();
  await page.getByTestId('rollback').click();
  await page.getByTestId('rollback-confirm').click();
  await page.waitForURL((url) => !url.hash.endsWith(firstId));
  const rollbackId = page.url().split('#/deployments/')[1]!;
  t.not(rollbackId, redeployId);
  await page.locator('#deployment-status[data-status="live"]').waitFor({ timeout: 20_000 });
  t.regex(await page.locator('.deployment__subtitle').innerText(), /rollback/);
  t.is(await liveSite.count(), 1, 'so does a rollback');
  t.is(await liveSite.getAttribute('href'), firstSite);
  t.deepEqual(problems, []);
  await context.close();
});

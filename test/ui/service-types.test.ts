import anyTest from 'ava';
import type { Browser } from 'playwright-core';
import { DESKTOP, PHONE, horizontalOverflow, newContext, screenshot } from './support/browser.js';
import { connectKey, deployThroughForm, type UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

// Issue 15: the deploy form offers the service type (detected or chosen), a cron job's schedule with
// field-level errors from the form and from the server.
let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

const nodeFiles = (name: string, extra: Record<string, string> = {}) => ({
  'package.json': JSON.stringify({ name, scripts: { start: 'node index.js' } }), 'package-lock.json': '{}', 'index.js': '', ...extra,
});

test('deploy form: a detected worker, then a cron job chosen with its schedule checked by the form and the server', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'typer', []);
  stack.github.addRepo({ owner: 'typer', name: 'jobs', branches: { main: nodeFiles('jobs', { Procfile: 'worker: node worker.js\n' }) } });

  await page.getByRole('link', { name: 'New deploy' }).first().click();
  await page.getByTestId('repo-search').fill('jobs');
  await page.locator('[data-testid=repo-option][data-repo="typer/jobs"]').click();
  await page.getByTestId('detected-stack-name').waitFor();
  t.regex(await page.getByTestId('detected-stack').innerText(), /background worker/);
  const typeSelect = page.getByTestId('service-type-select');
  const options = await typeSelect.locator('option').allInnerTexts();
  t.deepEqual(options, ['As detected', 'Web service', 'Background worker', 'Cron job', 'Private service', 'Static site']);
  t.regex(await page.locator('.field', { has: typeSelect }).innerText(), /Detected: Background worker/);
  t.false(await page.getByTestId('schedule-input').isVisible(), 'no schedule for a worker');
  t.is(await page.getByTestId('start-command').inputValue(), 'node worker.js');
  for (const [label, size] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
    await page.setViewportSize(size);
    const o = await horizontalOverflow(page);
    t.true(o.scrollWidth <= o.innerWidth, `deploy form @ ${label}: ${o.culprits.join(', ')}`);
    await screenshot(page, `deploy-service-type-${label}`);
  }
  await page.setViewportSize(DESKTOP);

  // Cron job: the schedule appears; empty is caught by the form, an out-of-range minute as it is typed.
  await typeSelect.selectOption('cron_job');
  const schedule = page.getByTestId('schedule-input');
  await schedule.waitFor();
  await page.getByTestId('deploy-submit').click();
  const scheduleError = page.locator('.field', { has: schedule }).locator('.field__error:not([hidden])');
  t.regex(await scheduleError.innerText(), /needs a schedule/);
  // Checked as it is typed, by the server's rule in its words (web/assets/cron.js): before any submit.
  await schedule.fill('0 3 * *');
  await scheduleError.filter({ hasText: /five fields .*this one has 4/ }).waitFor();
  await schedule.fill('61 3 * * *');
  await scheduleError.filter({ hasText: /not a valid minute/ }).waitFor();
  await page.getByTestId('deploy-submit').click();
  await scheduleError.filter({ hasText: /not a valid minute/ }).waitFor();
  t.is(await schedule.getAttribute('aria-invalid'), 'true');
  t.true(await schedule.evaluate((el: unknown) => el === (el as { ownerDocument: { activeElement: unknown } }).ownerDocument.activeElement), 'focus on the schedule');
  t.regex(page.url(), /#\/deploy/, 'still on the form');
  await screenshot(page, 'deploy-schedule-error');

  await schedule.fill('*/30 * * * *');
  await page.getByTestId('deploy-submit').click();
  await page.waitForURL(/#\/deployments\/[A-Za-z0-9_-]+$/);
  await page.locator('#deployment-status[data-status="live"]').waitFor({ timeout: 30_000 });
  const details = await page.locator('main').innerText();
  t.regex(details, /cron job/i);
  t.regex(details, /\*\/30 \* \* \* \*/);
  t.deepEqual(problems, []);
  await context.close();
});

test('deploy form: a cron service in render.yaml fills the schedule', async (t) => {
  const { context, page, problems } = await newContext(browser);
  const apiKey = stack.renderAccount('croner');
  stack.github.addRepo({ owner: 'croner', name: 'nightly', branches: { main: nodeFiles('nightly', {
    'render.yaml': 'services:\n  - type: cron\n    name: nightly\n    runtime: node\n    schedule: "0 3 * * *"\n    buildCommand: npm ci\n    startCommand: node job.js\n',
  }) } });
  await stack.signInBrowser(page, 'croner');
  await connectKey(page, apiKey);
  await page.getByRole('link', { name: 'New deploy' }).first().click();
  await page.getByTestId('repo-search').fill('nightly');
  await page.locator('[data-testid=repo-option][data-repo="croner/nightly"]').click();
  await page.getByTestId('detected-stack-name').waitFor();
  t.regex(await page.getByTestId('detected-stack').innerText(), /cron job \(0 3 \* \* \*\)/);
  t.true(await page.getByTestId('schedule-input').isVisible());
  t.is(await page.getByTestId('schedule-input').inputValue(), '0 3 * * *');
  t.deepEqual(problems, []);
  await context.close();
});

test('deploy as Blueprint: Render\'s plan is shown before anything is created', async (t) => {
  const { context, page, problems } = await newContext(browser);
  const apiKey = stack.renderAccount('bluer');
  stack.github.addRepo({ owner: 'bluer', name: 'stack', branches: { main: nodeFiles('stack', {
    'render.yaml': 'services:\n  - type: web\n    name: stack-web\n    runtime: node\n    buildCommand: npm ci\n    startCommand: npm start\n  - type: worker\n    name: stack-jobs\n    runtime: node\n    buildCommand: npm ci\n    startCommand: node jobs.js\ndatabases:\n  - name: stack-db\n',
  }) } });
  await stack.signInBrowser(page, 'bluer');
  await connectKey(page, apiKey);
  await page.getByRole('link', { name: 'New deploy' }).first().click();
  await page.getByTestId('repo-search').fill('stack');
  await page.locator('[data-testid=repo-option][data-repo="bluer/stack"]').click();
  await page.getByTestId('detected-stack-name').waitFor();
  await page.getByTestId('blueprint-plan-button').click();
  await page.getByTestId('blueprint-services').waitFor();
  t.is(await page.getByTestId('blueprint-services').innerText(), 'stack-web, stack-jobs');
  // Each name isolated (a name ending in U+202E turned the ones after it around, as in one string).
  t.deepEqual(await page.getByTestId('blueprint-services').locator('bdi').allInnerTexts(), ['stack-web', 'stack-jobs']);
  t.is(await page.getByTestId('blueprint-databases').innerText(), 'stack-db');
  t.regex(await page.getByTestId('blueprint-plan').innerText(), /Render would create 3 resources[\s\S]*Nothing has been created/);
  const open = page.getByTestId('blueprint-open');
  t.is(await open.getAttribute('href'), `https://render.com/deploy?repo=${encodeURIComponent('https://github.com/bluer/stack/tree/main')}`);
  t.is(await open.getAttribute('rel'), 'noopener noreferrer');
  for (const [label, size] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
    await page.setViewportSize(size);
    const o = await horizontalOverflow(page);
    t.true(o.scrollWidth <= o.innerWidth, `blueprint plan @ ${label}: ${o.culprits.join(', ')}`);
    await screenshot(page, `deploy-blueprint-plan-${label}`);
  }
  const services = await fetch(`${stack.config.renderApiUrl}/services`, { headers: { authorization: `Bearer ${apiKey}`, accept: 'application/json' } });
  t.deepEqual(await services.json(), [], 'nothing created in this Render account');
  t.deepEqual(problems, []);
  await context.close();
});

test('a static site: its deployment and its service page name no region or plan (Render serves it from its CDN)', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'sitemaker', []);
  stack.github.addRepo({ owner: 'sitemaker', name: 'site', branches: { main: { 'index.html': '<!doctype html><title>Hi</title>\n' } } });
  await deployThroughForm(page, 'sitemaker/site');
  await page.locator('#deployment-status[data-status="live"]').waitFor();
  const details = page.locator('dl.details');
  t.regex(await details.innerText(), /Static site/);
  t.notRegex(await details.innerText(), /Region|Plan/, 'the form sent oregon/starter by default, but a static site has neither');

  await page.goto(`${stack.url}/#/`);
  await page.getByTestId('service-card').filter({ hasText: 'site' }).getByText('Settings').click();
  await page.getByTestId('settings-form').waitFor();
  t.notRegex(await page.getByTestId('scaling-section').innerText(), /Region/, 'not "Region: unknown (fixed when the service is created)"');
  t.deepEqual(problems, []);
  await context.close();
});

test('a private service (Render\'s address is host:port, reachable only inside the workspace): no dead "Open site" link on its deployment, card or settings page, its internal address as text', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'privy', ['inner']);
  await page.getByRole('link', { name: 'New deploy' }).first().click();
  await page.getByTestId('repo-search').fill('inner');
  await page.locator('[data-testid=repo-option][data-repo="privy/inner"]').click();
  await page.getByTestId('detected-stack-name').waitFor();
  await page.getByTestId('service-type-select').selectOption('private_service');
  await page.getByTestId('deploy-submit').click();
  await page.waitForURL(/#\/deployments\/[A-Za-z0-9_-]+$/);
  await page.locator('#deployment-status[data-status="live"]').waitFor({ timeout: 30_000 });
  // Before: an <a> without href (dom.js drops a URL that is not http(s)), "Open the live site" that did nothing.
  const deadLinks = () => page.locator('main a:not([href])').count();
  const internal = () => page.getByTestId('internal-address').innerText();
  await page.getByRole('link', { name: /View on Render/ }).waitFor();
  t.is(await deadLinks(), 0, 'deployment page');
  t.is(await page.getByRole('link', { name: /Open the live site/ }).count(), 0);
  t.regex(await internal(), /^Internal address: inner[\w-]*:10000$/);

  await page.goto(`${stack.url}/#/`);
  const card = page.getByTestId('service-card').filter({ hasText: 'inner' });
  await card.getByTestId('internal-address').waitFor();
  t.is(await deadLinks(), 0, 'dashboard card');
  t.is(await card.getByRole('link', { name: /Open site/ }).count(), 0);
  t.regex(await card.getByTestId('internal-address').innerText(), /^Internal address: inner[\w-]*:10000$/);
  t.is(await card.getByRole('link', { name: /Render dashboard/ }).count(), 1);

  await card.getByTestId('service-settings').click();
  await page.getByRole('heading', { level: 1, name: 'inner' }).waitFor();
  await page.getByTestId('internal-address').waitFor();
  t.is(await deadLinks(), 0, 'settings page');
  t.is(await page.getByRole('link', { name: /Open site/ }).count(), 0);
  t.regex(await internal(), /^Internal address: inner[\w-]*:10000$/);
  t.deepEqual(problems, []);
  await context.close();
});

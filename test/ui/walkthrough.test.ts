import anyTest from 'ava';
import type { Browser, Page, Route } from 'playwright-core';
import { deployThroughForm, type UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

// Code inside page.evaluate runs in the browser; this stands in for the DOM types this (Node-only) project does not load.
declare const getComputedStyle: any;

// Defects found walking through sandbox mode in Chromium: what a deploy's page, the dashboard's cards,
// a service's history, the repository picker and the Slack test message said that read wrong.

let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

const card = (page: Page, name: string) => page.getByTestId('service-card').filter({ has: page.locator('.service__name', { hasText: new RegExp(`^${name}$`) }) });

/** The steps' states by key, as drawn and as read out (the visually hidden ": skipped" after each label). */
async function steps(page: Page): Promise<Record<string, string>> {
  const items = page.getByTestId('deployment-steps').locator('li');
  const out: Record<string, string> = {};
  for (const li of await items.all()) out[(await li.getAttribute('data-step'))!] = `${await li.getAttribute('data-state')}|${(await li.locator('.visually-hidden').innerText()).replace(/^: /, '')}`;
  return out;
}

test('a deleted service\'s deployment: the time beside "Service deleted" reads as the deploy\'s, not the deletion\'s', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'nit-took', ['gone-site']);
  const id = await deployThroughForm(page, 'nit-took/gone-site');
  await page.locator('#deployment-status[data-status="live"]').waitFor();
  t.regex(await page.locator('.status-elapsed').innerText(), /^Deployed in (\d+ min )?\d+ s$/);

  await page.getByRole('link', { name: 'Dashboard', exact: true }).click();
  await card(page, 'gone-site').getByTestId('service-delete').click();
  await card(page, 'gone-site').getByTestId('service-delete-confirm').click();
  await page.getByTestId('service-deleted').first().waitFor();
  await page.goto(`${stack.url}/#/deployments/${id}`);
  await page.locator('#deployment-status[data-status="service_deleted"]').waitFor();
  // On main: "Service deleted  took 11 s", as if the deletion took 11 s.
  t.regex(await page.locator('.status-elapsed').innerText(), /^Deployed in (\d+ min )?\d+ s$/);
  t.deepEqual(problems, []);
  await context.close();
});

test('"Open site" only on a service that has been live (its card, its settings page): not on one whose only build failed, still on one whose newest build failed', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'nit-open', ['never-live', 'was-live']);
  stack.render.failBuilds({ repo: 'https://github.com/nit-open/never-live' }, 'build_failed');
  await deployThroughForm(page, 'nit-open/never-live');
  await page.locator('#deployment-status[data-status="build_failed"]').waitFor();
  await deployThroughForm(page, 'nit-open/was-live');
  await page.locator('#deployment-status[data-status="live"]').waitFor();
  const liveId = page.url().split('#/deployments/')[1]!;
  stack.render.failBuilds({ repo: 'https://github.com/nit-open/was-live' }, 'build_failed');
  await page.getByTestId('redeploy').click();
  await page.waitForURL((url) => !url.hash.endsWith(liveId));
  await page.locator('#deployment-status[data-status="build_failed"]').waitFor();

  await page.getByRole('link', { name: 'Dashboard', exact: true }).click();
  await card(page, 'never-live').waitFor();
  await card(page, 'was-live').locator('[data-testid=service-state][data-state="deploy_failed"]').waitFor();
  t.is(await card(page, 'never-live').getAttribute('data-state'), 'deploy_failed');
  t.is(await card(page, 'never-live').getByRole('link', { name: /Open site/ }).count(), 0, 'never live: nothing to open');
  t.is(await card(page, 'was-live').getByRole('link', { name: /Open site/ }).count(), 1, 'Render still serves the deploy that was live');
  t.is(await card(page, 'never-live').getByRole('link', { name: /Render dashboard/ }).count(), 1);

  // The service's settings page says the same, from the deploy history it lists.
  await card(page, 'never-live').getByTestId('service-settings').click();
  await page.getByRole('heading', { level: 1, name: 'never-live' }).waitFor();
  await page.getByTestId('history-row').first().waitFor();
  t.is(await page.getByRole('link', { name: /Open site/ }).count(), 0, 'settings page: never live, nothing to open');
  t.is(await page.getByRole('link', { name: /Render dashboard/ }).count(), 1);
  await page.getByRole('link', { name: 'Dashboard', exact: true }).first().click();
  await card(page, 'was-live').getByTestId('service-settings').click();
  await page.getByRole('heading', { level: 1, name: 'was-live' }).waitFor();
  await page.getByRole('link', { name: /Open site/ }).waitFor();
  t.deepEqual(problems, []);
  await context.close();
});

test('steps a deployment never went through read "skipped": a redeploy\'s repository checks, a static site\'s Deploy', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'nit-steps', ['twice']);
  stack.github.addRepo({ owner: 'nit-steps', name: 'pages', branches: { main: { 'index.html': '<!doctype html><title>Hi</title>\n' } } });
  const firstId = await deployThroughForm(page, 'nit-steps/twice');
  await page.locator('#deployment-status[data-status="live"]').waitFor();
  t.deepEqual(await steps(page), {
    queue: 'done|done', verify: 'done|done', detect: 'done|done', start: 'done|done', build: 'done|done', deploy: 'done|done', live: 'done|done',
  });
  await page.getByTestId('redeploy').click();
  await page.waitForURL((url) => !url.hash.endsWith(firstId));
  await page.locator('#deployment-status[data-status="live"]').waitFor();
  t.deepEqual(await steps(page), {
    queue: 'done|done', verify: 'skipped|skipped', detect: 'skipped|skipped', start: 'done|done', build: 'done|done', deploy: 'done|done', live: 'done|done',
  }, 'a redeploy starts at the trigger: it neither verifies the repository nor detects the stack');

  const siteId = await deployThroughForm(page, 'nit-steps/pages');
  await page.locator('#deployment-status[data-status="live"]').waitFor();
  t.deepEqual(await steps(page), {
    queue: 'done|done', verify: 'done|done', detect: 'done|done', start: 'done|done', build: 'done|done', deploy: 'skipped|skipped', live: 'done|done',
  }, 'Render publishes a static site after its build: no deploy phase');
  await page.getByTestId('redeploy').click();
  await page.waitForURL((url) => !url.hash.endsWith(siteId));
  await page.locator('#deployment-status[data-status="live"]').waitFor();
  t.deepEqual(await steps(page), {
    queue: 'done|done', verify: 'skipped|skipped', detect: 'skipped|skipped', start: 'done|done', build: 'done|done', deploy: 'skipped|skipped', live: 'done|done',
  });
  t.not(await page.locator('.step--skipped .step__icon').first().evaluate((el) => getComputedStyle(el).borderStyle), 'solid', 'drawn unlike a step to come');
  t.deepEqual(problems, []);
  await context.close();
});

test('a service\'s deploy history names triggers as Render\'s dashboard does ("API", "Rollback"), not "api"', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'nit-trigger', ['hist']);
  const firstId = await deployThroughForm(page, 'nit-trigger/hist');
  await page.locator('#deployment-status[data-status="live"]').waitFor();
  await page.getByTestId('redeploy').click();
  await page.waitForURL((url) => !url.hash.endsWith(firstId));
  await page.locator('#deployment-status[data-status="live"]').waitFor();
  await page.goto(`${stack.url}/#/deployments/${firstId}`);
  await page.getByTestId('rollback').click();
  await page.getByTestId('rollback-confirm').click();
  await page.waitForURL((url) => !url.hash.endsWith(firstId));
  await page.locator('#deployment-status[data-status="live"]').waitFor();

  await page.getByRole('link', { name: 'Dashboard', exact: true }).click();
  await card(page, 'hist').getByTestId('service-settings').click();
  await page.getByTestId('history-row').nth(2).waitFor();
  const triggers = await page.getByTestId('history-row').locator('[data-testid=history-trigger]').allInnerTexts();
  t.deepEqual(triggers, ['Rollback', 'API', 'API']);
  t.deepEqual(problems, []);
  await context.close();
});

test('repository picker: a result clicked before the typed filter ran, then "Change": the list shown matches the filter shown', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'nit-pick', ['flask-app', 'flask-api', 'express-app', 'rails-app']);
  // The search for "flask" is held until the list has been looked at: the list must not wait for it.
  const held: Route[] = [];
  await page.route(/\/api\/github\/repos\?.*q=flask/, (route) => { held.push(route); });
  await page.getByRole('link', { name: 'New deploy' }).first().click();
  await page.getByTestId('repo-option').nth(3).waitFor();
  await page.getByTestId('repo-search').fill('flask');
  await page.locator('[data-testid=repo-option][data-repo="nit-pick/flask-app"]').click();
  await page.getByTestId('repo-change').click();
  t.is(await page.getByTestId('repo-search').inputValue(), 'flask');
  const visible = () => page.locator('[data-testid=repo-option]:visible').evaluateAll((els) => els.map((e) => (e as any).dataset.repo).sort());
  // On main: all four, under "flask", until the search (if it is ever sent) answers.
  t.deepEqual(await visible(), ['nit-pick/flask-api', 'nit-pick/flask-app']);
  for (let i = 0; i < 600 && held.length === 0; i++) await page.waitForTimeout(50); // bounded only against a hang
  for (const route of held) await route.continue();
  await page.unroute(/\/api\/github\/repos\?.*q=flask/);
  await page.locator('.repo-chooser [role=status]').filter({ hasText: 'matching “flask”' }).waitFor();
  t.deepEqual(await visible(), ['nit-pick/flask-api', 'nit-pick/flask-app']);
  t.is(await page.locator('[data-testid=repo-option][data-repo="nit-pick/flask-app"]').getAttribute('aria-pressed'), 'true');
  t.deepEqual(problems, []);
  await context.close();
});

test('the Slack test message says on the page when Slack did not take it, and why', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'nit-slack', []);
  stack.slack.refuse('/services/T0/B0/revokedrevoked', 404, 'no_service');
  await page.goto(`${stack.url}/#/security`);
  await page.getByText('Sentinel is off.').waitFor();
  await page.getByTestId('sentinel-slack').fill('https://hooks.slack.com/services/T0/B0/revokedrevoked');
  await page.getByTestId('sentinel-test').click();
  const result = page.getByTestId('sentinel-test-result');
  await result.waitFor();
  // On main: "Test message on its way to Slack…", whatever Slack answered.
  t.regex(await result.innerText(), /not delivered/i);
  t.regex(await result.innerText(), /404/);
  t.notRegex(await result.innerText(), /revokedrevoked/, 'the webhook (a secret) is not echoed');

  await page.getByTestId('sentinel-slack').fill('https://hooks.slack.com/services/T0/B0/deliveredfine');
  await page.getByTestId('sentinel-test').click();
  await result.filter({ hasText: /Slack accepted/ }).waitFor();
  t.true(stack.slack.bodies.some((b) => b.startsWith('POST /services/T0/B0/deliveredfine ')));
  t.deepEqual(problems, []);
  await context.close();
});

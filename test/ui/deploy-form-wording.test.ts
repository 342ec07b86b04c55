import anyTest from 'ava';
import type { Browser, Page } from 'playwright-core';
import { screenshot } from './support/browser.js';
import type { UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

// The new-deploy form says what is so (found by a UX walkthrough): before a repository is picked it
// said "Detected: Web service" and "Prefilled from the detected stack"; a static site was offered a start
// command, a region and a plan, and not told the folder Render would serve.
let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

const hintOf = (page: Page, testId: string) => page.locator('.field', { has: page.getByTestId(testId) }).locator('.field__hint').innerText();
const buildLegend = (page: Page) => page.locator('legend', { hasText: /^Build and/ }).innerText();

async function pick(page: Page, fullName: string): Promise<void> {
  if (await page.getByTestId('repo-change').isVisible()) await page.getByTestId('repo-change').click();
  await page.getByTestId('repo-search').fill(fullName.split('/')[1]!);
  await page.locator(`[data-testid=repo-option][data-repo="${fullName}"]`).click();
}

test('before a repository is picked, nothing is said to be detected or prefilled', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'wordsmith', ['app']);
  stack.github.addRepo({ owner: 'wordsmith', name: 'notes', branches: { main: { 'notes.txt': 'nothing to run' } } });
  await page.getByRole('link', { name: 'New deploy' }).first().click();
  await page.getByTestId('deploy-submit').waitFor();
  t.is(await hintOf(page, 'service-type-select'), 'Detected from the repository once you pick one (a Procfile worker: entry, a cron service in render.yaml); or choose one here.');
  for (const id of ['build-command', 'start-command']) t.is(await hintOf(page, id), 'Proposed from the repository once you pick one. Enter starts a new line, run in turn.');
  t.notRegex(await page.locator('form.deploy-form').innerText(), /Detected:|Prefilled/);
  // A type chosen before a repository: its description, nothing about detection.
  await page.getByTestId('service-type-select').selectOption('background_worker');
  t.is(await hintOf(page, 'service-type-select'), 'Long-running process with no port, e.g. a queue consumer. Paid plans only.');
  await page.getByTestId('service-type-select').selectOption('');

  // Picked and detected: now it is prefilled.
  await pick(page, 'wordsmith/app');
  await page.getByTestId('detected-stack-name').waitFor();
  t.regex(await hintOf(page, 'service-type-select'), /^Detected: Web service\. Public HTTP server/);
  t.is(await hintOf(page, 'start-command'), 'Prefilled from the detected stack; edit to override. Enter starts a new line, run in turn.');

  // Nothing detected: not "Detected: Web service", not "Prefilled".
  await pick(page, 'wordsmith/notes');
  await page.getByTestId('detected-stack').getByText('Could not detect the stack.').waitFor();
  t.regex(await hintOf(page, 'service-type-select'), /^Not detected: a web service unless you choose another\./);
  t.is(await hintOf(page, 'build-command'), 'Nothing was detected to fill in. Enter starts a new line, run in turn.');
  // And nothing is: the fields held the previous repository's commands, sent as the user's own.
  t.is(await page.getByLabel('Build command').inputValue(), '', 'no command of wordsmith/app left');
  t.is(await page.getByLabel('Start command').inputValue(), '');
  t.deepEqual(problems, []);
  await context.close();
});

test('commands typed for one repository are not kept for another picked after it', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'switcher', ['first', 'second']);
  await page.getByRole('link', { name: 'New deploy' }).first().click();
  await pick(page, 'switcher/first');
  await page.getByTestId('detected-stack-name').waitFor();
  const detectedStart = await page.getByLabel('Start command').inputValue();
  t.not(detectedStart, '');
  await page.getByLabel('Build command').fill('npm ci && ./only-for-first.sh');
  await pick(page, 'switcher/second');
  await page.getByTestId('detected-stack-name').waitFor();
  t.not(await page.getByLabel('Build command').inputValue(), 'npm ci && ./only-for-first.sh', 'the second repository has its own detected command');
  t.is(await page.getByLabel('Start command').inputValue(), detectedStart);
  t.deepEqual(problems, []);
  await context.close();
});

test('a static site: a build command and the publish directory Render serves; no start command, region or plan', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'sitewright', ['api']);
  stack.github.addRepo({ owner: 'sitewright', name: 'site', branches: { main: { 'index.html': '<!doctype html><title>Hi</title>\n' } } });
  stack.github.addRepo({
    owner: 'sitewright', name: 'vite-app',
    branches: { main: { 'package.json': JSON.stringify({ name: 'v', scripts: { build: 'vite build' }, devDependencies: { vite: '5' } }), 'package-lock.json': '{}' } },
  });
  await page.getByRole('link', { name: 'New deploy' }).first().click();
  await page.getByTestId('deploy-submit').waitFor();
  t.is(await buildLegend(page), 'Build and start');

  const staticForm = async (publishPath: string) => {
    t.is(await buildLegend(page), 'Build and publish');
    t.true(await page.getByTestId('build-command').isVisible());
    t.false(await page.getByTestId('start-command').isVisible(), 'no start command');
    t.false(await page.getByTestId('region-select').isVisible(), 'no region');
    t.false(await page.getByTestId('plan-select').isVisible(), 'no plan');
    const publish = page.getByLabel('Publish directory');
    t.true(await publish.isVisible());
    t.is(await publish.inputValue(), publishPath);
    t.false(await publish.isEditable(), 'shown, not taken: the API has no publish path to send');
  };

  await pick(page, 'sitewright/site');
  await page.getByTestId('detected-stack-name').waitFor();
  t.is(await hintOf(page, 'service-type-select'), 'Detected: Static site. Built once and served from Render\'s CDN: no server, so no start command, region or plan.');
  await staticForm('.');
  await screenshot(page, 'deploy-static-site');

  await pick(page, 'sitewright/vite-app');
  await page.getByTestId('detected-stack').getByText(/publishing dist/).waitFor();
  await staticForm('dist');

  // A web service chosen as a static site: Render publishes public/ (workers/tasks/serviceType.ts); back to a web service, all is back.
  await pick(page, 'sitewright/api');
  await page.getByTestId('detected-stack').getByText(/Node\.js/).waitFor();
  t.true(await page.getByTestId('start-command').isVisible());
  t.false(await page.getByLabel('Publish directory').isVisible());
  await page.getByTestId('start-command').fill('node server.js');
  await page.getByTestId('service-type-select').selectOption('static_site');
  await staticForm('public');
  await page.getByTestId('service-type-select').selectOption('web_service');
  t.is(await buildLegend(page), 'Build and start');
  for (const id of ['start-command', 'region-select', 'plan-select']) t.true(await page.getByTestId(id).isVisible(), id);

  // Sent as a static site, the hidden start command is not sent.
  await page.getByTestId('service-type-select').selectOption('static_site');
  const [sent] = await Promise.all([
    page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/api/render/deploy')),
    page.getByTestId('deploy-submit').click(),
  ]);
  const body = sent.postDataJSON() as Record<string, unknown>;
  t.is(body.service_type, 'static_site');
  t.false('start_command' in body, JSON.stringify(body));
  await page.waitForURL(/#\/deployments\//);
  t.deepEqual(problems, []);
  await context.close();
});

test('the plan: Free while the type has a free instance type, Starter while it has none, until the user picks one', async (t) => {
  // The form came with Starter selected: a first deploy pressed with the form as it came made a paid service on
  // the user's Render account (found by a new-user walkthrough).
  const { context, page, problems } = await stack.signedInWithKey(browser, 'planner', ['app']);
  await page.getByRole('link', { name: 'New deploy' }).first().click();
  await page.getByTestId('deploy-submit').waitFor();
  const planNow = () => page.getByTestId('plan-select').inputValue();
  t.is(await planNow(), 'free', 'before a repository: a web service');
  await pick(page, 'planner/app');
  await page.getByTestId('detected-stack-name').waitFor();
  t.is(await planNow(), 'free', 'detected as a web service');
  const typePlans: Array<[string, string]> = [['background_worker', 'starter'], ['cron_job', 'starter'], ['private_service', 'starter'], ['web_service', 'free'], ['', 'free']];
  for (const [type, expected] of typePlans) {
    await page.getByTestId('service-type-select').selectOption(type);
    t.is(await planNow(), expected, `service type ${type || 'as detected'}`);
  }
  // Sent as it shows.
  const [sent] = await Promise.all([
    page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/api/render/deploy')),
    page.getByTestId('deploy-submit').click(),
  ]);
  t.is((sent.postDataJSON() as { plan: string }).plan, 'free');

  // A plan the user picked stays through type changes.
  await page.getByRole('link', { name: 'New deploy' }).first().click();
  await pick(page, 'planner/app');
  await page.getByTestId('detected-stack-name').waitFor();
  await page.getByTestId('plan-select').selectOption('standard');
  for (const type of ['background_worker', 'web_service']) {
    await page.getByTestId('service-type-select').selectOption(type);
    t.is(await planNow(), 'standard', `kept for ${type}`);
  }
  t.deepEqual(problems, []);
  await context.close();
});

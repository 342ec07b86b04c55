import anyTest from 'ava';
import type { Browser, Page } from 'playwright-core';
import type { UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { screenshot } from './support/browser.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

// The deploy form's build and start fields show the command that will run: a render.yaml block
// command with its lines, a one-line command in one line, a long detected command whole and
// editable. The user reads, edits with the keyboard and deploys; the record says what was asked.
let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

const yaml = (build: string) => `services:\n  - type: web\n    name: cmds\n    runtime: node\n    buildCommand: ${build}\n    startCommand: node index.js\n`;
const BLOCK = '|\n      npm ci\n      npm run build\n';

interface Requested { request: { buildCommand: string | null; startCommand: string | null } }

async function openForm(page: Page, owner: string, name: string): Promise<void> {
  await page.getByRole('link', { name: 'New deploy' }).first().click();
  await page.getByTestId('repo-search').fill(name);
  await page.locator(`[data-testid=repo-option][data-repo="${owner}/${name}"]`).click();
  await page.getByTestId('detected-stack-name').waitFor();
}

async function deployAndRead(page: Page): Promise<Requested> {
  await page.getByTestId('deploy-submit').click();
  await page.waitForURL(/#\/deployments\/[A-Za-z0-9_-]+$/);
  const id = new URL(page.url()).hash.split('/').pop()!;
  return page.evaluate(async (dep) => (await fetch(`/api/render/deployments/${dep}`)).json() as Promise<Requested>, id);
}

/** Whether every line of the field is in view (nothing scrolled away or cut off). */
const showsAll = (page: Page, testId: string) => page.getByTestId(testId).evaluate((el) => el.scrollHeight <= el.clientHeight && el.scrollWidth <= el.clientWidth);

test('a multi-line detected command is shown with its lines and deployed unchanged; a one-line one stays one line', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'lines', []);
  stack.github.addRepo({ owner: 'lines', name: 'block', branches: { main: { 'render.yaml': yaml(BLOCK), 'package.json': '{}', 'index.js': '' } } });
  await openForm(page, 'lines', 'block');
  const build = page.getByLabel('Build command');
  t.is(await build.inputValue(), 'npm ci\nnpm run build', 'the field holds both lines');
  t.true(await showsAll(page, 'build-command'), 'both lines are in view');
  const start = page.getByLabel('Start command');
  t.is(await start.inputValue(), 'node index.js');
  const nameHeight = (await page.getByTestId('service-name').boundingBox())!.height;
  const startHeight = (await start.boundingBox())!.height;
  t.true(startHeight <= nameHeight + 1, `a one-line command keeps a one-line field (${startHeight}px against ${nameHeight}px)`);
  const rec = await deployAndRead(page);
  t.is(rec.request.buildCommand, null, 'nothing of the user\'s own was sent: render.yaml\'s command runs');
  t.is(rec.request.startCommand, null);
  t.deepEqual(problems, []);
  await context.close();
});

test('a multi-line detected command edited with the keyboard is deployed as edited', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'editor', []);
  stack.github.addRepo({ owner: 'editor', name: 'block', branches: { main: { 'render.yaml': yaml(BLOCK), 'package.json': '{}', 'index.js': '' } } });
  await openForm(page, 'editor', 'block');
  const build = page.getByLabel('Build command');
  await build.focus();
  await page.keyboard.press('Control+End');
  await page.keyboard.press('Enter');
  await page.keyboard.type('npm test');
  t.is(await build.inputValue(), 'npm ci\nnpm run build\nnpm test');
  t.true(await showsAll(page, 'build-command'), 'the field grew to the third line');
  await screenshot(page, 'deploy-multiline-command');
  const rec = await deployAndRead(page);
  t.is(rec.request.buildCommand, 'npm ci\nnpm run build\nnpm test');
  // The deployment's page shows the command with its lines too.
  const shown = page.locator('dl.details dt', { hasText: 'Build command' }).locator('xpath=following-sibling::dd[1]');
  t.is(await shown.innerText(), 'npm ci\nnpm run build\nnpm test');
  t.deepEqual(problems, []);
  await context.close();
});

test('a long detected command is shown whole, and edited it deploys', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'longer', []);
  // 3,000 characters: past the old form and request cap of 1,000, within what detection proposes.
  const long = `npm ci && echo ${'x'.repeat(3_000 - 'npm ci && echo '.length)}`;
  stack.github.addRepo({ owner: 'longer', name: 'long', branches: { main: { 'render.yaml': yaml(long), 'package.json': '{}', 'index.js': '' } } });
  await openForm(page, 'longer', 'long');
  const build = page.getByLabel('Build command');
  t.is(await build.inputValue(), long);
  await build.focus();
  await page.keyboard.press('Control+End');
  await page.keyboard.type(' && npm run build');
  t.is(await build.inputValue(), `${long} && npm run build`, 'the edit was taken');
  await screenshot(page, 'deploy-long-command');
  const rec = await deployAndRead(page);
  t.is(rec.request.buildCommand, `${long} && npm run build`);
  t.deepEqual(problems, []);
  await context.close();
});

import anyTest from 'ava';
import type { Browser } from 'playwright-core';
import type { UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

// A render.yaml command written as a block scalar spans lines; one-line inputs (the form's, before its
// command textareas) drop line breaks. Submitted unedited, the form must not send a flattened text as
// the user's own command ("npm cinpm run build"): the deploy runs what render.yaml declares.
let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

const YAML = 'services:\n  - type: web\n    name: multi\n    runtime: node\n    buildCommand: |\n      npm ci\n      npm run build\n    startCommand: node index.js\n';

test('deploy form: an unedited multi-line render.yaml build command is deployed as declared, not flattened', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'liner', []);
  stack.github.addRepo({ owner: 'liner', name: 'multi', branches: { main: { 'render.yaml': YAML, 'package.json': '{}', 'index.js': '' } } });
  await page.getByRole('link', { name: 'New deploy' }).first().click();
  await page.getByTestId('repo-search').fill('multi');
  await page.locator('[data-testid=repo-option][data-repo="liner/multi"]').click();
  await page.getByTestId('detected-stack-name').waitFor();
  await page.getByTestId('deploy-submit').click();
  await page.waitForURL(/#\/deployments\/[A-Za-z0-9_-]+$/);
  const id = new URL(page.url()).hash.split('/').pop()!;
  await page.locator('#deployment-status[data-status="live"]').waitFor({ timeout: 30_000 });
  const rec = await page.evaluate(async (dep) => (await fetch(`/api/render/deployments/${dep}`)).json() as Promise<{ request: { buildCommand: string | null }; stack: { buildCommand: string } }>, id);
  t.is(rec.request.buildCommand, null, 'no command of the user\'s own was sent');
  t.is(rec.stack.buildCommand, 'npm ci\nnpm run build\n');
  t.deepEqual(problems, []);
  await context.close();
});

import anyTest from 'ava';
import type { Browser, Route } from 'playwright-core';
import { screenshot } from './support/browser.js';
import { deployThroughForm, replaceKey, type UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

// Issue 12, part 1 in the browser: deploying go-service under the name of an existing service is
// caught in the form as the user types, and the server refuses it anyway if the form is bypassed.

let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

test('the deploy form says a name is taken, offers a free one, and never deploys over the other service', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'demo-clash', ['hello-node']);
  stack.github.addRepo({ owner: 'demo-clash', name: 'go-service', branches: { main: { 'go.mod': 'module example.com/go-service\n\ngo 1.22\n', 'main.go': 'package main\nfunc main() {}\n' } } });

  const firstId = await deployThroughForm(page, 'demo-clash/hello-node');
  await page.locator('#deployment-status[data-status="live"]').waitFor({ timeout: 20_000 });
  const deploysBefore = stack.render.calls.filter((c) => c.method === 'POST' && /deploys|services$/.test(c.route)).length;

  // go-service: its own name is free.
  await page.getByRole('link', { name: 'New deploy' }).first().click();
  await page.getByTestId('repo-search').fill('go-service');
  await page.locator('[data-testid=repo-option][data-repo="demo-clash/go-service"]').click();
  await page.getByTestId('detected-stack-name').waitFor();
  const status = page.getByTestId('service-name-status');
  await page.locator('[data-testid=service-name-status][data-state="free"]').waitFor();
  t.regex(await status.innerText(), /go-service is free/);

  // Typing the other service's name: said at once, with a free name to use instead.
  await page.getByTestId('service-name').fill('hello-node');
  await page.locator('[data-testid=service-name-status][data-state="taken"]').waitFor();
  const error = page.locator('.field__error').filter({ hasText: /already have a service named hello-node/ });
  await error.waitFor();
  t.regex(await error.innerText(), /demo-clash\/hello-node @ main/, 'it says which service has the name');
  t.is(await page.getByTestId('service-name').getAttribute('aria-invalid'), 'true');
  await screenshot(page, 'deploy-name-taken-desktop');

  // Submitting anyway is stopped in the form: no deploy request is sent.
  let sent = 0;
  page.on('request', (r) => { if (r.url().endsWith('/api/render/deploy')) sent += 1; });
  await page.getByTestId('deploy-submit').click();
  t.true(await page.getByTestId('service-name').evaluate((el) => el === (el as any).ownerDocument.activeElement), 'focus goes to the name');
  t.is(sent, 0);
  t.regex(new URL(page.url()).hash, /#\/deploy$/);

  // The suggestion fills in a free name.
  await page.getByTestId('service-name-use-suggestion').click();
  t.is(await page.getByTestId('service-name').inputValue(), 'hello-node-2');
  await page.locator('[data-testid=service-name-status][data-state="free"]').waitFor();
  t.is(await page.getByTestId('service-name').getAttribute('aria-invalid'), null);

  // Bypassing the form (a request straight to the API) is refused by the worker before any Render write.
  const bypass = await page.evaluate(async () => {
    const session = (await (await fetch('/api/session')).json()) as { csrfToken: string };
    const res = await fetch('/api/render/deploy', {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken },
      body: JSON.stringify({ github_repo: 'demo-clash/go-service', project_name: 'hello-node' }),
    });
    return ((await res.json()) as { id: string }).id;
  });
  await page.goto(`${stack.url}/#/deployments/${bypass}`);
  await page.locator('#deployment-status[data-status="failed"]').waitFor({ timeout: 20_000 });
  t.regex(await page.getByTestId('failure-message').innerText(), /already has a service named "hello-node".*"hello-node-2"/);
  t.is(await page.getByTestId('redeploy').count(), 0, 'nothing to redeploy: it never had a service');
  t.is(stack.render.calls.filter((c) => c.method === 'POST' && /deploys|services$/.test(c.route)).length, deploysBefore, 'no deploy and no service was made');

  await page.goto(`${stack.url}/#/deployments/${firstId}`);
  await page.locator('#deployment-status[data-status="live"]').waitFor();
  t.deepEqual(problems, []);
  await context.close();
});

test('a name taken under the old key: once another tab connects another account\'s key, the form drops that answer at once and checks the name with the new key', async (t) => {
  const { context, page, apiKey, problems } = await stack.signedInWithKey(browser, 'clashkey', ['web-app']);
  // A service named web-app in the old key's workspace, made on "Render" itself.
  const renderApi = (path: string, init: RequestInit = {}) => fetch(`${stack.render.url}${path}`, { ...init, headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' } });
  const [{ owner }] = await renderApi('/owners').then((r) => r.json() as Promise<[{ owner: { id: string } }]>);
  const made = await renderApi('/services', {
    method: 'POST',
    body: JSON.stringify({ type: 'web_service', name: 'web-app', ownerId: owner.id, repo: 'https://github.com/clashkey/web-app', branch: 'main', autoDeploy: 'yes',
      serviceDetails: { runtime: 'node', plan: 'starter', region: 'oregon', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'npm start' } } }),
  });
  t.is(made.status, 201);

  await page.getByRole('link', { name: 'New deploy' }).first().click();
  await page.getByTestId('repo-search').fill('web-app');
  await page.locator('[data-testid=repo-option][data-repo="clashkey/web-app"]').click();
  await page.locator('[data-testid=service-name-status][data-state="taken"]').waitFor();
  const error = page.locator('.field__error').filter({ hasText: /already have a service named web-app/ });
  await error.waitFor();

  // The new key's name checks are held: what the form says meanwhile is not the old key's answer.
  const held: Route[] = [];
  let holding = true;
  await page.route('**/api/render/services/name-check?*', (route) => { if (holding) held.push(route); else void route.continue(); });
  const second = await context.newPage();
  const newKey = stack.renderAccount('clashkeynew');
  await second.goto(`${stack.url}/#/settings`);
  await replaceKey(second, newKey);
  await page.getByTestId('workspace-select').locator('option', { hasText: 'clashkeynew' }).waitFor({ state: 'attached', timeout: 15_000 });
  for (let i = 0; i < 300 && held.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  t.is(held.length, 1, 'the name is checked again, with the new key');
  t.is(await error.count(), 0, 'the old key\'s "already have a service" is gone');
  t.is(await page.getByTestId('service-name').getAttribute('aria-invalid'), null);
  t.is((await page.getByTestId('service-name-status').innerText()).trim(), '');

  holding = false;
  for (const route of held) await route.continue();
  await page.locator('[data-testid=service-name-status][data-state="free"]').waitFor();
  t.regex(await page.getByTestId('service-name-status').innerText(), /web-app is free/);
  t.deepEqual(problems, []);
  await context.close();
});

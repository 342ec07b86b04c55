import anyTest from 'ava';
import type { Browser } from 'playwright-core';
import { newContext } from './support/browser.js';
import { connectKey, serviceMadeOutside, type UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

// An action answered after its user signed out in the tab: what it would have said and read is the
// previous user's. The sign-in page announces none of it (the screen reader's live region is read in
// browse mode too) and no read of that user's service goes out afterwards (from the next user's
// session it is a 404 the probe detector counts against them).

let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

test('a suspend answered after the sign-out: nothing announced on the sign-in page, the service not read again', async (t) => {
  t.timeout(120_000);
  const apiKey = 'rnd_lateanswers' + 'x'.repeat(20);
  stack.render.addAccount({ apiKey, workspaces: [{ name: 'Late answers workspace' }] });
  const { serviceId } = await serviceMadeOutside(stack, apiKey, { login: 'late-suspender', name: 'payroll-internal' });
  const { context, page, problems } = await newContext(browser);
  await stack.signInBrowser(page, 'late-suspender');
  await connectKey(page, apiKey);
  await page.goto(`${stack.url}/#/services/${serviceId}`);
  await page.getByRole('heading', { level: 1, name: 'payroll-internal' }).waitFor();

  let signedOut!: () => void;
  const afterSignOut = new Promise<void>((resolve) => { signedOut = resolve; });
  let answered!: () => void;
  const answerHeld = new Promise<void>((resolve) => { answered = resolve; });
  await page.route('**/api/render/services/*/suspend', async (route) => {
    const response = await route.fetch(); // made on the server; its answer reaches the page after the sign-out
    answered();
    await afterSignOut;
    await route.fulfill({ response });
  });
  await page.getByTestId('service-suspend').click();
  await answerHeld;
  await page.getByTestId('sign-out').click();
  await page.getByText('You are signed out.').waitFor();
  const asked: string[] = [];
  page.on('request', (r) => { if (r.url().includes(serviceId)) asked.push(`${r.method()} ${new URL(r.url()).pathname}`); });
  signedOut();
  await page.waitForTimeout(1_000); // the Suspend handler's turn, with the answer
  t.is(await page.locator('#announcer').textContent(), '', 'nothing of the previous user\'s announced');
  t.is(await page.title(), 'Sign in · Render Deployer');
  t.deepEqual(asked, [], 'the service is not read again');
  t.deepEqual(problems, []);
  await context.close();
});

test('an env var saved and answered after the sign-out: the list is not read again, nothing announced', async (t) => {
  t.timeout(120_000);
  const apiKey = 'rnd_lateenvsave' + 'x'.repeat(20);
  stack.render.addAccount({ apiKey, workspaces: [{ name: 'Late env workspace' }] });
  const { serviceId } = await serviceMadeOutside(stack, apiKey, { login: 'late-env-saver', name: 'ledger-api' });
  const { context, page, problems } = await newContext(browser);
  await stack.signInBrowser(page, 'late-env-saver');
  await connectKey(page, apiKey);
  await page.goto(`${stack.url}/#/services/${serviceId}`);
  await page.getByRole('heading', { level: 1, name: 'ledger-api' }).waitFor();

  let signedOut!: () => void;
  const afterSignOut = new Promise<void>((resolve) => { signedOut = resolve; });
  let answered!: () => void;
  const answerHeld = new Promise<void>((resolve) => { answered = resolve; });
  await page.route('**/api/render/services/*/env-vars/LEDGER_TOKEN', async (route) => {
    const response = await route.fetch();
    answered();
    await afterSignOut;
    await route.fulfill({ response });
  });
  await page.getByTestId('env-key').fill('LEDGER_TOKEN');
  await page.locator('[data-testid=env-form] [data-testid=env-value]').fill('ledger-secret-value');
  await page.getByTestId('env-save').click();
  await answerHeld;
  await page.getByTestId('sign-out').click();
  await page.getByText('You are signed out.').waitFor();
  const asked: string[] = [];
  page.on('request', (r) => { if (r.url().includes(serviceId)) asked.push(`${r.method()} ${new URL(r.url()).pathname}`); });
  signedOut();
  await page.waitForTimeout(1_000);
  t.is(await page.locator('#announcer').textContent(), '');
  t.deepEqual(asked, [], 'the variables are not read again');
  t.deepEqual(problems, []);
  await context.close();
});

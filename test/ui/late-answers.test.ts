import anyTest from 'ava';
import type { Browser, Page } from 'playwright-core';
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

/** `login` signed in with a key of their own, on the settings page of their service `name`. */
async function onServicePage(login: string, name: string) {
  const apiKey = `rnd_${login.replace(/[^A-Za-z0-9]/g, '')}${'x'.repeat(20)}`;
  stack.render.addAccount({ apiKey, workspaces: [{ name: `${login} workspace` }] });
  const { serviceId } = await serviceMadeOutside(stack, apiKey, { login, name });
  const { context, page, problems } = await newContext(browser);
  await stack.signInBrowser(page, login);
  await connectKey(page, apiKey);
  await page.goto(`${stack.url}/#/services/${serviceId}`);
  await page.getByRole('heading', { level: 1, name }).waitFor();
  return { context, page, problems, serviceId };
}

/**
 * `act` sends a request matching `route`, whose answer (made on the server) reaches the page only after
 * the user signed out; the requests naming `serviceId` sent after the sign-out, once that answer had its turn.
 */
async function answeredAfterSignOut(page: Page, serviceId: string, route: string, act: () => Promise<void>): Promise<string[]> {
  let signedOut!: () => void;
  const afterSignOut = new Promise<void>((resolve) => { signedOut = resolve; });
  let answered!: () => void;
  const answerHeld = new Promise<void>((resolve) => { answered = resolve; });
  await page.route(route, async (r) => {
    const response = await r.fetch();
    answered();
    await afterSignOut;
    await r.fulfill({ response });
  });
  await act();
  await answerHeld;
  await page.getByTestId('sign-out').click();
  await page.getByText('You are signed out.').waitFor();
  const asked: string[] = [];
  page.on('request', (r) => { if (r.url().includes(serviceId)) asked.push(`${r.method()} ${new URL(r.url()).pathname}`); });
  signedOut();
  await page.waitForTimeout(1_000); // the action's handler's turn, with the answer
  return asked;
}

test('a suspend answered after the sign-out: nothing announced on the sign-in page, the service not read again', async (t) => {
  t.timeout(120_000);
  const { context, page, problems, serviceId } = await onServicePage('late-suspender', 'payroll-internal');
  const asked = await answeredAfterSignOut(page, serviceId, '**/api/render/services/*/suspend', () => page.getByTestId('service-suspend').click());
  t.is(await page.locator('#announcer').textContent(), '', 'nothing of the previous user\'s announced');
  t.is(await page.title(), 'Sign in · Render Deployer');
  t.deepEqual(asked, [], 'the service is not read again');
  t.deepEqual(problems, []);
  await context.close();
});

test('an env var saved and answered after the sign-out: the list is not read again, nothing announced', async (t) => {
  t.timeout(120_000);
  const { context, page, problems, serviceId } = await onServicePage('late-env-saver', 'ledger-api');
  const asked = await answeredAfterSignOut(page, serviceId, '**/api/render/services/*/env-vars/LEDGER_TOKEN', async () => {
    await page.getByTestId('env-key').fill('LEDGER_TOKEN');
    await page.locator('[data-testid=env-form] [data-testid=env-value]').fill('ledger-secret-value');
    await page.getByTestId('env-save').click();
  });
  t.is(await page.locator('#announcer').textContent(), '');
  t.deepEqual(asked, [], 'the variables are not read again');
  t.deepEqual(problems, []);
  await context.close();
});

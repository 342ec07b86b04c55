import anyTest from 'ava';
import type { Browser, Page, Request } from 'playwright-core';
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

test('a key cleared, its session read answered after another user signed in in another tab: the page starts afresh as that user, not the first user\'s settings under their name', async (t) => {
  t.timeout(120_000);
  const apiKey = stack.renderAccount('late-clearer');
  const { context, page, problems } = await newContext(browser);
  await stack.signInBrowser(page, 'late-clearer');
  await connectKey(page, apiKey);
  // No event stream in this tab (a proxy that drops it: the page polls), so the stream's word of the
  // clear does not read the session first; the other tab's sign-out and sign-in still reach it (storage).
  await page.route('**/api/events**', (r) => r.abort());
  await page.reload();
  await page.getByTestId('key-status').waitFor();
  // The session read that follows the clear is held. The tab's reads asked while it is held (on the other
  // tab's sign-out and sign-in) are answered only once the page has taken that one's answer in; those asked
  // later (a page loaded afresh) at once.
  let releaseFirst!: () => void;
  const firstReleased = new Promise<void>((resolve) => { releaseFirst = resolve; });
  let releaseRest!: () => void;
  const restReleased = new Promise<void>((resolve) => { releaseRest = resolve; });
  let firstAsked!: (request: Request) => void;
  const first = new Promise<Request>((resolve) => { firstAsked = resolve; });
  let holding: 'first' | 'rest' | 'none' = 'first';
  await page.route('**/api/session', async (r) => {
    if (holding === 'first') {
      holding = 'rest';
      firstAsked(r.request());
      await firstReleased;
    } else if (holding === 'rest') await restReleased;
    await r.continue();
  });
  await page.getByTestId('clear-key').click();
  await page.getByRole('button', { name: 'Clear key' }).click();
  const firstRead = await first;
  const other = await context.newPage();
  await other.goto(`${stack.url}/`);
  await other.getByTestId('sign-out').click();
  await other.getByText('You are signed out.').waitFor();
  await stack.signInBrowser(other, 'late-newcomer');
  holding = 'none';
  releaseFirst();
  await firstRead.response();
  // Taken in: the tab shows the new user (drawn in place before the fix, after its reload now).
  await page.getByTestId('user-login').filter({ hasText: 'late-newcomer' }).waitFor({ timeout: 15_000 });
  releaseRest();
  await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor({ timeout: 15_000 });
  t.is(new URL(page.url()).hash, '', 'not the first user\'s page');
  t.false((await page.locator('body').innerText()).includes('late-clearer'), 'nothing of the first user stays on the page');
  t.deepEqual(problems.filter((p) => !p.includes('net::ERR_FAILED')), [], 'no problem but the dropped streams');
  await context.close();
});

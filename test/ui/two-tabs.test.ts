import anyTest from 'ava';
import type { Browser } from 'playwright-core';
import { connectKey, deployThroughForm, replaceKey, serviceMadeOutside, type UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

// Code inside page.evaluate runs in the browser; these stand in for the DOM types this (Node-only) project does not load.
declare const localStorage: any;
declare const sessionStorage: any;
declare const document: any;

// One browser: two tabs of one user share one session (one cookie), and what one tab does to the
// session or its Render key the other shows, without a reload; the next user finds nothing of the last.
let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

test('a key cleared or replaced in one tab: the other tab’s settings follow, no stale key hint', async (t) => {
  const { context, page: first, apiKey } = await stack.signedInWithKey(browser, 'twotabskey', []);
  const second = await context.newPage();
  await second.goto(`${stack.url}/#/settings`);
  await second.getByTestId('key-status').filter({ hasText: apiKey.slice(-4) }).waitFor();
  await first.goto(`${stack.url}/#/settings`);

  await first.getByTestId('clear-key').click();
  await first.getByTestId('clear-key-confirm').click();
  await first.getByTestId('render-key-input').waitFor();
  // The other tab stops claiming a connected key.
  await second.getByTestId('render-key-input').waitFor({ timeout: 15_000 });
  t.is(await second.getByTestId('key-status').count(), 0);

  // A new key connected in the first tab: the second shows its hint, not nothing nor the old one.
  const other = stack.renderAccount('twotabsother');
  await connectKey(first, other);
  await second.getByTestId('key-status').filter({ hasText: other.slice(-4) }).waitFor({ timeout: 15_000 });
  t.pass();
  await context.close();
});

test('a key typed here and not yet connected stays, focused, when another tab clears or connects a key', async (t) => {
  const { context, page: first, problems } = await stack.signedInWithKey(browser, 'twotabstyped', []);
  const second = await context.newPage();
  await second.goto(`${stack.url}/#/settings`);
  await second.getByTestId('replace-key').click();
  const typed = stack.renderAccount('twotabstypedmine');
  const input = second.getByTestId('render-key-input');
  await input.fill(typed);
  const heading = second.locator('#render-key-heading');
  const focusedTestId = () => second.evaluate(() => document.activeElement?.dataset?.testid ?? null);

  // Cleared in the first tab: the second now connects a key, and what it had typed is still there, focused
  // (it was drawn again empty, focus on <body>).
  await first.goto(`${stack.url}/#/settings`);
  await first.getByTestId('clear-key').click();
  await first.getByTestId('clear-key-confirm').click();
  await first.getByTestId('render-key-input').waitFor();
  await heading.filter({ hasText: 'Connect your Render API key' }).waitFor();
  t.is(await input.inputValue(), typed);
  t.is(await focusedTestId(), 'render-key-input');

  // Another key connected in the first tab: the second's form replaces it, still with what was typed.
  await connectKey(first, stack.renderAccount('twotabstypedother'));
  await heading.filter({ hasText: 'Replace your Render API key' }).waitFor();
  t.is(await input.inputValue(), typed);
  t.is(await focusedTestId(), 'render-key-input');
  await second.getByTestId('render-key-submit').click();
  await second.getByTestId('key-status').filter({ hasText: typed.slice(-4) }).waitFor();
  t.regex(await second.getByTestId('render-key-section').innerText(), /twotabstypedmine/);
  t.deepEqual(problems, []);
  await context.close();
});

test('signed out in one tab: the other tab shows the sign-in page, and its next action does not sign in again', async (t) => {
  const { context, page: first } = await stack.signedInWithKey(browser, 'twotabsout', []);
  const second = await context.newPage();
  await second.goto(`${stack.url}/#/`);
  await second.getByTestId('user-login').waitFor();
  await first.getByTestId('sign-out').click();
  await first.getByTestId('sign-in').waitFor();
  await second.getByTestId('sign-in').waitFor({ timeout: 15_000 });
  t.is(await second.getByTestId('user-login').count(), 0);
  const status = await second.evaluate(async () => (await fetch('/api/session')).status);
  t.is(status, 401);
  await context.close();
});

test('signed out and another user signed in in one tab: the other tab shows that user, nothing of the first', async (t) => {
  const { context, page: first } = await stack.signedInWithKey(browser, 'twotabsfirst', ['first-app']);
  const second = await context.newPage();
  await second.goto(`${stack.url}/#/settings`);
  await second.getByTestId('key-status').waitFor();
  await first.getByTestId('sign-out').click();
  await first.getByText('You are signed out.').waitFor(); // the sign-out answered before the tab navigates away
  await stack.signInBrowser(first, 'twotabssecond');
  await second.getByTestId('user-login').filter({ hasText: 'twotabssecond' }).waitFor({ timeout: 15_000 });
  // The page the first user's session ended on is theirs: the second user starts at the dashboard, which
  // asks for their own key rather than showing the first user's.
  await second.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
  t.is(new URL(second.url()).hash, '', 'not the first user\'s page');
  await second.getByTestId('connect-key-link').waitFor();
  await second.getByTestId('connect-key-link').click();
  await second.getByTestId('render-key-input').waitFor();
  const text = await second.locator('body').innerText();
  t.false(text.includes('twotabsfirst'), 'nothing of the first user stays on the page');
  await context.close();
});

test('signed out: nothing of the user’s deploys stays in the browser’s storage for the next user', async (t) => {
  const { context, page } = await stack.signedInWithKey(browser, 'twotabsstore', ['store-app']);
  await deployThroughForm(page, 'twotabsstore/store-app', { serviceName: 'storage-witness-app' });
  const stored = () => page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  t.true((await stored()).includes('storage-witness-app'), 'kept while signed in, for the deploy-ended notification');
  await page.getByTestId('sign-out').click();
  await page.getByTestId('sign-in').waitFor();
  const after = await stored();
  t.false(after.includes('storage-witness-app'));
  await context.close();
});

test('a page of one user never retries its action as another user whose session the browser now holds', async (t) => {
  const { context, page } = await stack.signedInWithKey(browser, 'twotabsold', []);
  await page.goto(`${stack.url}/#/settings`);
  await page.getByTestId('key-status').waitFor();
  // Another user signs in, and this browser's cookie becomes theirs without this page hearing of it.
  const other = await stack.signedInWithKey(browser, 'twotabsnew', []);
  await context.clearCookies();
  await context.addCookies(await other.context.cookies());

  // The page still shows the first user's settings; its action is refused, not redone as the second user.
  await page.getByTestId('clear-key').click();
  await page.getByTestId('clear-key-confirm').click();
  await page.getByTestId('sign-in').or(page.getByTestId('render-key-input')).waitFor();
  const theirs = await other.page.evaluate(async () => ((await (await fetch('/api/session')).json()) as { render?: { configured?: boolean } }).render?.configured);
  t.true(theirs, 'the second user’s key is still connected');
  t.true(await page.getByTestId('sign-in').isVisible(), 'the page says the first user’s session is over');
  await Promise.all([context.close(), other.context.close()]);
});

test('a service deleted in one tab leaves the other tab’s dashboard, not a card whose actions all fail', async (t) => {
  const { context, page: first, problems } = await stack.signedInWithKey(browser, 'twotabsdel', ['gone-app']);
  await deployThroughForm(first, 'twotabsdel/gone-app', { serviceName: 'gone-app' });
  await first.locator('#deployment-status[data-status="live"]').waitFor({ timeout: 20_000 });
  const second = await context.newPage();
  await second.goto(`${stack.url}/#/`);
  const theirCard = second.getByTestId('service-card').filter({ hasText: 'gone-app' });
  await theirCard.waitFor();

  await first.goto(`${stack.url}/#/`);
  const card = first.getByTestId('service-card').filter({ hasText: 'gone-app' });
  await card.getByTestId('service-delete').click();
  await card.getByTestId('service-delete-confirm').click();
  await card.waitFor({ state: 'detached' });

  // The other tab's deployment row says the service is gone, and its card goes with it.
  await second.locator('[data-testid=deployment-row-status][data-status="service_deleted"]').waitFor({ timeout: 15_000 });
  await theirCard.waitFor({ state: 'detached', timeout: 15_000 });
  t.deepEqual(problems, []);
  await context.close();
});

test('sign-out that cannot reach the server says so on the page, and the user is still signed in until it does', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'twotabsoffline', []);
  await page.goto(`${stack.url}/#/`);
  await page.getByTestId('user-login').waitFor();
  await page.route('**/api/auth/logout', (route) => route.abort('internetdisconnected'));
  await page.getByTestId('sign-out').click();
  const failed = page.getByTestId('sign-out-failed');
  await failed.waitFor();
  t.regex(await failed.innerText(), /still signed in/);
  t.regex(await failed.innerText(), /Check your connection and try again/);
  t.is(await page.getByTestId('sign-out').isEnabled(), true);
  t.is(await page.evaluate(async () => (await fetch('/api/session')).status), 200, 'and so it is');

  // Pressed again with the network back: signed out.
  await page.unroute('**/api/auth/logout');
  await page.getByTestId('sign-out').click();
  await page.getByTestId('sign-in').waitFor();
  t.is(await page.evaluate(async () => (await fetch('/api/session')).status), 401);
  t.deepEqual(problems.filter((p) => !/ERR_INTERNET_DISCONNECTED/.test(p)), []);
  await context.close();
});

test('the key replaced in another tab while the deploy form is filled in: the form keeps what was typed and offers the new key’s workspaces', async (t) => {
  const { context, page: first, problems } = await stack.signedInWithKey(browser, 'twotabsform', ['typed-app']);
  await first.getByRole('link', { name: 'New deploy' }).first().click();
  await first.getByTestId('repo-search').fill('typed-app');
  await first.locator('[data-testid=repo-option][data-repo="twotabsform/typed-app"]').click();
  await first.getByTestId('detected-stack-name').waitFor();
  await first.getByTestId('service-name').fill('typed-name');
  await first.getByTestId('env-add').click();
  await first.getByTestId('env-name').last().fill('TYPED_SECRET');
  await first.getByTestId('env-value').last().fill('typed-value');
  const before = await first.getByTestId('workspace-select').locator('option').allInnerTexts();

  const second = await context.newPage();
  const newKey = stack.renderAccount('twotabsformnew');
  await second.goto(`${stack.url}/#/settings`);
  await replaceKey(second, newKey);
  await second.getByTestId('render-key-section').getByText('twotabsformnew’s workspace').or(second.getByTestId('render-key-section').getByText("twotabsformnew's workspace")).waitFor();

  // The first tab's workspaces follow the new key; nothing typed is lost.
  await first.getByTestId('workspace-select').locator('option', { hasText: 'twotabsformnew' }).waitFor({ state: 'attached', timeout: 15_000 });
  t.notDeepEqual(await first.getByTestId('workspace-select').locator('option').allInnerTexts(), before);
  t.is(await first.getByTestId('service-name').inputValue(), 'typed-name');
  t.is(await first.getByTestId('env-value').last().inputValue(), 'typed-value');
  t.true(await first.getByTestId('repo-selected').isVisible());
  t.regex(await first.locator('main').innerText(), /key was replaced/i, 'the form says why its workspaces changed');

  // And it deploys with the new key, to the new workspace.
  await first.getByTestId('deploy-submit').click();
  await first.waitForURL(/#\/deployments\//);
  await first.locator('#deployment-status[data-status="live"]').waitFor({ timeout: 20_000 });
  t.deepEqual(problems, []);
  await context.close();
});

test('the key replaced by another account’s in another tab: a deployment made with the old key says which key reads it, not that its service was deleted', async (t) => {
  const { context, page: first, apiKey, problems } = await stack.signedInWithKey(browser, 'twotabsacct', ['acct-app']);
  const id = await deployThroughForm(first, 'twotabsacct/acct-app', { serviceName: 'acct-app' });
  await first.locator('#deployment-status[data-status="live"]').waitFor({ timeout: 30_000 });
  await first.getByTestId('log-line').first().waitFor({ timeout: 30_000 });

  // Another tab connects a key of another Render account: its workspaces do not hold this deploy's service.
  const second = await context.newPage();
  const otherKey = stack.renderAccount('twotabsacctnew');
  await second.goto(`${stack.url}/#/settings`);
  await replaceKey(second, otherKey);
  await second.getByTestId('key-status').filter({ hasText: otherKey.slice(-4) }).waitFor();

  // The first tab's deployment page follows: it says the deploy is the other key's, and what to do.
  const status = first.getByTestId('logs-status');
  await status.filter({ hasText: /another Render key/ }).waitFor({ timeout: 15_000 });
  t.notRegex(await status.innerText(), /deleted/i, 'the service was not deleted: this key cannot see it');
  await first.getByTestId('state-note').filter({ hasText: /another Render key/ }).waitFor();
  t.notRegex(await first.getByTestId('state-note').innerText(), /deleted/i);
  t.is(await first.getByTestId('redeploy').count(), 0, 'no redeploy that can only fail with "Service not found"');

  // The first key back: its lines and actions are back too.
  await replaceKey(second, apiKey);
  await first.getByTestId('log-line').first().waitFor({ timeout: 15_000 });
  await first.getByTestId('redeploy').waitFor();
  t.is(await first.getByTestId('state-note').filter({ hasText: /another Render key/ }).count(), 0);
  t.true(first.url().endsWith(id));
  t.deepEqual(problems, []);
  await context.close();
});

test('a service suspended, resumed or deleted in one tab: the other tab shows it without a reload, and keeps its focus', async (t) => {
  t.timeout(120_000);
  const { context, page: first, problems, apiKey } = await stack.signedInWithKey(browser, 'twotabssvc', []);
  // A service made on Render (no deployment of this app names it): only the service's own events can tell the other tab.
  const { serviceId: id } = await serviceMadeOutside(stack, apiKey, { login: 'twotabssvc', name: 'twotabs-svc' });
  const second = await context.newPage();
  const focusedTestId = () => second.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? document.activeElement?.tagName);

  // The other tab on the dashboard, its focus on a control of its own.
  await second.goto(`${stack.url}/#/`);
  const theirCard = second.locator(`[data-testid=service-card][data-service-id="${id}"]`);
  await theirCard.getByTestId('service-suspend').waitFor();
  await second.getByTestId('new-deploy').focus();

  await first.goto(`${stack.url}/#/`);
  const card = first.locator(`[data-testid=service-card][data-service-id="${id}"]`);
  await card.getByTestId('service-suspend').click();
  await card.getByTestId('service-resume').waitFor();

  // Suspended there too, offering Resume and no Suspend; its focus where it was.
  await theirCard.getByTestId('service-resume').waitFor({ timeout: 15_000 });
  t.is(await theirCard.getAttribute('data-state'), 'suspended');
  t.is(await theirCard.getByTestId('service-suspend').count(), 0);
  t.is(await focusedTestId(), 'new-deploy', 'the passive tab keeps its focus');

  await card.getByTestId('service-resume').click();
  await card.getByTestId('service-suspend').waitFor();
  await theirCard.getByTestId('service-suspend').waitFor({ timeout: 15_000 });
  t.is(await theirCard.getByTestId('service-resume').count(), 0);

  // The other tab on the service's page, a variable half typed: it follows, nothing typed is lost.
  await second.goto(`${stack.url}/#/services/${id}`);
  await second.getByRole('heading', { level: 1, name: 'twotabs-svc' }).waitFor();
  await second.getByTestId('env-key').fill('HALF_TYPED');
  const suspendedNote = second.getByTestId('service-page').getByText('This service is suspended');
  t.is(await suspendedNote.count(), 0);
  await card.getByTestId('service-suspend').click();
  await card.getByTestId('service-resume').waitFor();
  await suspendedNote.waitFor({ timeout: 15_000 });
  t.is(await focusedTestId(), 'env-key');
  t.is(await second.getByTestId('env-key').inputValue(), 'HALF_TYPED');
  await card.getByTestId('service-resume').click();
  await card.getByTestId('service-suspend').waitFor();
  await suspendedNote.waitFor({ state: 'detached', timeout: 15_000 });

  // Deleted in the first tab: the page says so, in the deployment page's words, and offers nothing.
  await card.getByTestId('service-delete').click();
  await card.getByTestId('service-delete-confirm').click();
  await card.waitFor({ state: 'detached' });
  const gone = second.getByTestId('service-page').getByText('Service deleted.');
  await gone.waitFor({ timeout: 15_000 });
  t.regex(await second.getByTestId('service-notices').innerText(), /Service deleted\. twotabs-svc no longer exists on Render/);
  t.false(await second.getByTestId('env-form').isVisible(), 'no settings offered for a service that is gone');
  t.deepEqual(problems, []);
  await context.close();
});

test('service cards read again out of order (a suspend\'s read answering after a delete\'s): the deleted service stays gone', async (t) => {
  const { context, page, problems, apiKey } = await stack.signedInWithKey(browser, 'cards-order', []);
  const { serviceId } = await serviceMadeOutside(stack, apiKey, { login: 'cards-order', name: 'cards-order-api' });
  await page.goto(`${stack.url}/#/`);
  const card = page.locator(`[data-testid=service-card][data-service-id="${serviceId}"]`);
  await card.waitFor();
  // Changes made in another tab (here: the same session's API calls), each heard as a service event.
  const act = (method: string, path: string) => page.evaluate(async ({ m, p }: { m: string; p: string }) => {
    const session = (await (await fetch('/api/session')).json()) as { csrfToken: string };
    return (await fetch(p, { method: m, headers: { 'x-csrf-token': session.csrfToken, 'content-type': 'application/json' }, body: m === 'POST' ? '{}' : undefined })).status;
  }, { m: method, p: path });
  // The answer to the read the suspend's event makes (the service, suspended) is held on its way back
  // until the delete's read has answered.
  let release!: () => Promise<void>;
  const held = new Promise<void>((resolve) => {
    void page.route((url) => url.pathname === '/api/render/services', async (route) => {
      const response = await route.fetch();
      release = () => route.fulfill({ response });
      resolve();
    }, { times: 1 });
  });
  t.is(await act('POST', `/api/render/services/${serviceId}/suspend`), 200);
  await held;
  t.is(await act('DELETE', `/api/render/services/${serviceId}`), 204);
  await card.waitFor({ state: 'detached' });
  const stale = page.waitForResponse((res) => new URL(res.url()).pathname === '/api/render/services');
  await release();
  await stale;
  await page.waitForTimeout(300); // the stale answer's turn to be drawn, if it were
  t.is(await card.count(), 0, 'the deleted service is not drawn again from the older answer');
  t.deepEqual(problems, []);
  await context.close();
});

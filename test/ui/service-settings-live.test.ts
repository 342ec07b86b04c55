import anyTest, { type ExecutionContext } from 'ava';
import type { Browser, Page, Route } from 'playwright-core';
import { focusedTestId, answerLate } from './support/browser.js';
import { useBrowserStack } from './support/browserStack.js';
import { serviceMadeOutside, type UiStack } from './support/uiStack.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

// Code inside page.evaluate runs in the browser; this stands in for the DOM types this (Node-only) project does not load.
declare const document: any;

// The service settings page as a page that lives: its own lifecycle actions (Suspend, Resume), and what
// the user opened on it (a value shown, a confirmation asked) kept while it follows changes from other tabs.

let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

/**
 * Waits until every request the page asked for so far has been reported to the test: the page asks for one
 * more, and request events come in the order the page asks.
 */
async function requestsSeen(page: Page): Promise<void> {
  await Promise.all([page.waitForRequest('**/api/meta'), page.evaluate(() => fetch('/api/meta').then(() => undefined))]);
}

/** The tab hidden or shown again, as the browser says it when the user switches tabs. */
const shownAs = (page: Page, state: 'hidden' | 'visible') => page.evaluate((s: string) => {
  Object.defineProperty(document, 'visibilityState', { configurable: true, value: s });
  document.dispatchEvent(new Event('visibilitychange'));
}, state);

/** A change made in another tab: the same session's API call, heard by every tab as a service event. */
const act = (page: Page, method: string, path: string, body: unknown = {}) => page.evaluate(async ({ m, p, b }: { m: string; p: string; b: unknown }) => {
  const session = (await (await fetch('/api/session')).json()) as { csrfToken: string };
  return (await fetch(p, { method: m, headers: { 'x-csrf-token': session.csrfToken, 'content-type': 'application/json' }, body: JSON.stringify(b) })).status;
}, { m: method, p: path, b: body });

test('the settings page suspends and resumes its service as the dashboard card does: its state follows, here and in another tab', async (t) => {
  t.timeout(120_000);
  const { context, page: first, problems, apiKey } = await stack.signedInWithKey(browser, 'setlifecycle', []);
  const { render, serviceId: id } = await serviceMadeOutside(stack, apiKey, { login: 'setlifecycle', name: 'set-lifecycle' });
  const second = await context.newPage();
  for (const page of [first, second]) {
    await page.goto(`${stack.url}/#/services/${id}`);
    await page.getByRole('heading', { level: 1, name: 'set-lifecycle' }).waitFor();
  }
  const lifecycle = (page: Page) => page.getByTestId('service-lifecycle');
  const suspendedNote = (page: Page) => page.getByTestId('service-suspended');
  t.is(await suspendedNote(first).count(), 0);

  // Suspended here: the page says so and offers Resume (focused in place of the pressed Suspend), no Suspend.
  await lifecycle(first).getByTestId('service-suspend').click();
  await lifecycle(first).getByTestId('service-resume').waitFor();
  await suspendedNote(first).waitFor();
  t.is(await lifecycle(first).getByTestId('service-suspend').count(), 0);
  t.is((await render.getService(id)).suspended, 'suspended');
  t.is(await focusedTestId(first), 'service-resume', 'focus goes to the button in place of the pressed one');
  // The other tab follows, without a reload.
  await suspendedNote(second).waitFor({ timeout: 15_000 });
  await lifecycle(second).getByTestId('service-resume').waitFor();
  t.is(await lifecycle(second).getByTestId('service-suspend').count(), 0);

  // Resumed from the keyboard, in the other tab this time: both pages follow.
  await lifecycle(second).getByTestId('service-resume').focus();
  await second.keyboard.press('Enter');
  await lifecycle(second).getByTestId('service-suspend').waitFor();
  await suspendedNote(second).waitFor({ state: 'detached' });
  t.is(await focusedTestId(second), 'service-suspend');
  t.is((await render.getService(id)).suspended, 'not_suspended');
  await lifecycle(first).getByTestId('service-suspend').waitFor({ timeout: 15_000 });
  await suspendedNote(first).waitFor({ state: 'detached', timeout: 15_000 });

  // A refusal is said beside the buttons, as on the dashboard's card; the page's state stays.
  await first.route((url) => url.pathname === `/api/render/services/${id}/suspend`, (route) => route.fulfill({
    status: 409, contentType: 'application/json', body: JSON.stringify({ error: { code: 'render_conflict', message: 'Render refused the change.' } }),
  }));
  await lifecycle(first).getByTestId('service-suspend').click();
  await lifecycle(first).getByRole('alert').filter({ hasText: 'Suspend failed: Render refused the change.' }).waitFor();
  t.is(await lifecycle(first).getByTestId('service-suspend').isEnabled(), true);
  t.is(await suspendedNote(first).count(), 0);
  t.deepEqual(problems.filter((p) => !/409/.test(p)), []);
  await context.close();
});

test('a suspended service\'s settings page offers no redeploy, rollback or "Open site" (Render refuses them) and says no deploy is "Serving now", as its card does; Resume brings them back', async (t) => {
  t.timeout(120_000);
  const { context, page, problems, apiKey } = await stack.signedInWithKey(browser, 'setsuspended', []);
  const { render, serviceId: id } = await serviceMadeOutside(stack, apiKey, { login: 'setsuspended', name: 'set-suspended' });
  // A second deploy, so that the first is one to roll back to.
  await render.triggerDeploy(id, {});
  for (let i = 0; i < 300 && (await render.listDeploys(id)).filter((d) => d.status === 'live' || d.status === 'deactivated').length < 2; i++) await new Promise((r) => setTimeout(r, 20));
  await page.goto(`${stack.url}/#/services/${id}`);
  await page.getByRole('link', { name: /Open site/ }).waitFor();
  await page.locator('[data-testid=history-row][data-status=deactivated]').getByTestId('history-rollback').waitFor();
  // What the page offers, as a user sees it (hidden controls are not offered).
  const offered = async () => ({
    openSite: await page.getByRole('link', { name: /Open site/ }).count(),
    servingNow: await page.locator('.badge:visible', { hasText: 'Serving now' }).count(),
    redeploy: await page.locator('[data-testid=service-redeploy-now]:visible').count(),
    clearCache: await page.locator('[data-testid=service-redeploy-clear]:visible').count(),
    rollback: await page.locator('[data-testid=history-rollback]:visible').count(),
  });
  t.deepEqual(await offered(), { openSite: 1, servingNow: 1, redeploy: 1, clearCache: 1, rollback: 1 });

  await page.getByTestId('service-lifecycle').getByTestId('service-suspend').click();
  await page.getByTestId('service-suspended').waitFor();
  await page.getByTestId('service-lifecycle').getByTestId('service-resume').waitFor();
  // On main the newest deploy still read "Live · Serving now", with Redeploy, the clear-cache redeploy and
  // "Roll back to this" offered, each refused 409 service_suspended.
  t.deepEqual(await offered(), { openSite: 0, servingNow: 0, redeploy: 0, clearCache: 0, rollback: 0 });
  t.is(await page.locator('[data-testid=history-row][data-status=live]').count(), 1, 'the history is still listed');

  // Resumed in another tab: heard as a service event, everything is offered again without a reload.
  t.is(await act(page, 'POST', `/api/render/services/${id}/resume`), 200);
  await page.getByTestId('service-suspended').waitFor({ state: 'detached', timeout: 15_000 });
  await page.getByRole('link', { name: /Open site/ }).waitFor();
  t.deepEqual(await offered(), { openSite: 1, servingNow: 1, redeploy: 1, clearCache: 1, rollback: 1 });
  t.deepEqual(problems, []);
  await context.close();
});

test('a change heard from another tab keeps what the user opened here: a value shown, a delete asked, a rollback asked', async (t) => {
  t.timeout(120_000);
  const { context, page: first, problems, apiKey } = await stack.signedInWithKey(browser, 'setkeepopen', []);
  const { render, serviceId: id } = await serviceMadeOutside(stack, apiKey, { login: 'setkeepopen', name: 'set-keep-open' });
  await render.putEnvVar(id, 'SHOWN_TOKEN', 'shown-token-value-123');
  await render.putEnvVar(id, 'OTHER_TOKEN', 'other-token-value-456');
  await render.addCustomDomain(id, 'keep.set-keep-open.example.com');
  // A second deploy, so that the first is one to roll back to.
  await render.triggerDeploy(id, {});
  for (let i = 0; i < 300 && (await render.listDeploys(id)).filter((d) => d.status === 'live' || d.status === 'deactivated').length < 2; i++) await new Promise((r) => setTimeout(r, 20));

  const second = await context.newPage();
  await second.goto(`${stack.url}/#/services/${id}`);
  const shownRow = second.locator('[data-testid=env-list] li[data-key=SHOWN_TOKEN]');
  const otherRow = second.locator('[data-testid=env-list] li[data-key=OTHER_TOKEN]');
  const domainRow = second.locator('[data-testid=domain-row][data-domain="keep.set-keep-open.example.com"]');
  const olderRow = second.locator('[data-testid=history-row][data-status=deactivated]');
  await olderRow.getByTestId('history-rollback').waitFor();

  // What the user opened: a value shown, a rollback asked (auto-deploy left on), a domain's removal and a variable's delete asked.
  await shownRow.getByTestId('reveal').click();
  await shownRow.getByTestId('revealed').filter({ hasText: 'shown-token-value-123' }).waitFor();
  await olderRow.getByTestId('history-rollback').click();
  await olderRow.getByTestId('rollback-auto-off').uncheck();
  await domainRow.getByTestId('domain-remove').click();
  await otherRow.getByTestId('kv-delete').click();
  // A delete asked starts on Keep (dom.js confirmButton: Enter twice on Delete deleted).
  t.is(await focusedTestId(second), 'kv-delete-keep');

  // Marks the rows drawn now, to know when they have been drawn again.
  const markRows = () => second.evaluate(() => { for (const el of document.querySelectorAll('[data-testid=env-list] li, [data-testid=domain-row], [data-testid=history-row]')) el.dataset.before = 'yes'; });
  const redrawn = (selector: string) => second.waitForFunction((s: string) => { const el = document.querySelector(s); return el && !el.dataset.before; }, selector, { timeout: 15_000 });
  await markRows();

  // Another tab sets a variable, adds a domain and redeploys: this tab reads its lists and history again.
  await first.goto(`${stack.url}/#/`);
  await first.getByTestId('user-login').waitFor();
  t.is(await act(first, 'PUT', `/api/render/services/${id}/env-vars/NEW_FLAG`, { value: 'new-flag-value' }), 200);
  t.is(await act(first, 'POST', `/api/render/services/${id}/custom-domains`, { name: 'new.set-keep-open.example.com' }), 201);
  t.is(await act(first, 'POST', `/api/render/services/${id}/redeploy`), 202);
  await second.locator('[data-testid=env-list] li[data-key=NEW_FLAG]').waitFor({ timeout: 15_000 });
  await second.locator('[data-testid=domain-row][data-domain="new.set-keep-open.example.com"]').waitFor({ timeout: 15_000 });
  await redrawn('[data-testid=env-list] li[data-key=SHOWN_TOKEN]');
  await redrawn('[data-testid=domain-row][data-domain="keep.set-keep-open.example.com"]');
  await redrawn('[data-testid=history-row][data-status=deactivated]');

  // All still open, as the user left them.
  t.is(await shownRow.getByTestId('revealed').innerText(), 'shown-token-value-123', 'the shown value stays shown');
  t.is(await shownRow.getByTestId('reveal').innerText(), 'Hide');
  t.regex(await shownRow.innerText(), /Variables may have changed since this was read/, 'and says it may not be the value Render has now');
  t.is(await olderRow.getByTestId('history-rollback-confirm').count(), 1, 'the rollback asked stays asked');
  t.false(await olderRow.getByTestId('rollback-auto-off').isChecked(), 'with the user’s choice');
  t.is(await domainRow.getByTestId('domain-remove-confirm').count(), 1);
  t.is(await otherRow.getByTestId('kv-delete-confirm').count(), 1);
  t.is(await focusedTestId(second), 'kv-delete-keep', 'focus stays on the confirmation (its Keep)');
  // Nothing else was opened: the new variable's value stays hidden.
  t.false((await second.getByTestId('env-section').innerText()).includes('new-flag-value'));

  // And the confirmations still work: Keep closes one, the rollback asked goes ahead with the user's choice.
  await otherRow.getByRole('button', { name: 'Keep' }).click();
  await otherRow.getByTestId('kv-delete').waitFor();
  await olderRow.getByTestId('history-rollback-confirm').click();
  await second.waitForURL(/#\/deployments\/dpl-/);
  t.is((await render.getService(id)).autoDeploy, 'yes', 'auto-deploy left on, as chosen');
  t.deepEqual(problems, []);
  await context.close();
});

test('changes made while the page had no event stream show once it opens: the settings, the lists', async (t) => {
  t.timeout(120_000);
  const { context, page: first, problems, apiKey } = await stack.signedInWithKey(browser, 'setgap', []);
  const { serviceId: id } = await serviceMadeOutside(stack, apiKey, { login: 'setgap', name: 'set-gap' });
  await first.goto(`${stack.url}/#/`);
  await first.getByTestId('user-login').waitFor();

  // The other tab's event stream held on its way (a slow proxy): the page is drawn without it.
  const second = await context.newPage();
  const held: Route[] = [];
  await second.route('**/api/events**', (route) => { held.push(route); });
  await second.goto(`${stack.url}/#/services/${id}`);
  await second.getByTestId('env-section').getByText('No variables set on this service.').waitFor();
  await second.getByTestId('domains-section').getByText('No custom domains yet.').waitFor();
  t.true(held.length > 0);

  // Changes it cannot hear of: nothing is subscribed for it.
  t.is(await act(first, 'POST', `/api/render/services/${id}/suspend`), 200);
  t.is(await act(first, 'PUT', `/api/render/services/${id}/env-vars/GAP_FLAG`, { value: 'gap-flag-value' }), 200);
  t.is(await act(first, 'POST', `/api/render/services/${id}/custom-domains`, { name: 'gap.set-gap.example.com' }), 201);

  // The stream opens: the page reads again what those changes would have made it read.
  await second.unroute('**/api/events**');
  for (const route of held) await route.continue().catch(() => undefined);
  await second.getByTestId('service-suspended').waitFor({ timeout: 15_000 });
  await second.getByTestId('service-lifecycle').getByTestId('service-resume').waitFor();
  await second.locator('[data-testid=env-list] li[data-key=GAP_FLAG]').waitFor();
  await second.locator('[data-testid=domain-row][data-domain="gap.set-gap.example.com"]').waitFor();
  t.deepEqual(problems, []);
  await context.close();
});

test('while a page polls (its event stream refused), a service suspended or resumed in another tab still shows: settings page and dashboard card', async (t) => {
  t.timeout(240_000);
  const { context, page: first, problems, apiKey } = await stack.signedInWithKey(browser, 'setpoll', []);
  const { serviceId: id } = await serviceMadeOutside(stack, apiKey, { login: 'setpoll', name: 'set-poll' });
  await first.goto(`${stack.url}/#/`);
  await first.getByTestId('user-login').waitFor();

  const second = await context.newPage();
  await second.route('**/api/events**', (route) => route.fulfill({ status: 503, contentType: 'application/json', body: '{"error":{"code":"events_unavailable","message":"no"}}' }));
  await second.goto(`${stack.url}/#/services/${id}`);
  await second.getByRole('heading', { level: 1, name: 'set-poll' }).waitFor();
  await second.locator('#live-mode[data-mode=polling]').waitFor();

  t.is(await act(first, 'POST', `/api/render/services/${id}/suspend`), 200);
  await second.getByTestId('service-suspended').waitFor({ timeout: 90_000 });
  await second.getByTestId('service-lifecycle').getByTestId('service-resume').waitFor();

  await second.goto(`${stack.url}/#/`);
  const card = second.locator(`[data-testid=service-card][data-service-id="${id}"]`);
  await card.getByTestId('service-resume').waitFor();
  t.is(await act(first, 'POST', `/api/render/services/${id}/resume`), 200);
  await card.getByTestId('service-suspend').waitFor({ timeout: 90_000 });
  t.deepEqual(problems.filter((p) => !/503/.test(p)), []);
  await context.close();
});

test('a change heard from another tab while Suspend is on its way keeps the pressed button busy: no second Suspend is offered meanwhile', async (t) => {
  // The page's re-read (another tab's change) drew the lifecycle buttons again: the busy "Suspending…"
  // became an enabled Suspend while the first was still out, and a second press sent a second suspend.
  t.timeout(120_000);
  const { context, page: first, problems, apiKey } = await stack.signedInWithKey(browser, 'setmidaction', []);
  const { render, serviceId: id } = await serviceMadeOutside(stack, apiKey, { login: 'setmidaction', name: 'set-mid-action' });
  await first.goto(`${stack.url}/#/services/${id}`);
  await first.getByRole('heading', { level: 1, name: 'set-mid-action' }).waitFor();
  const lifecycle = first.getByTestId('service-lifecycle');
  await first.getByTestId('auto-deploy').waitFor();
  const autoWas = await first.getByTestId('auto-deploy').isChecked();

  let release!: () => void;
  const arrived = new Promise<void>((resolve) => {
    void first.route((url) => url.pathname === `/api/render/services/${id}/suspend`, async (route) => {
      resolve();
      await new Promise<void>((r) => { release = r; });
      await route.continue();
    });
  });
  await lifecycle.getByTestId('service-suspend').click();
  await arrived;
  // Another tab changes the settings: this page reads them again and draws them.
  const other = await context.newPage();
  await other.goto(`${stack.url}/#/`);
  await other.getByTestId('user-login').waitFor();
  t.is(await act(other, 'PATCH', `/api/render/services/${id}/settings`, { auto_deploy: !autoWas }), 200);
  await first.waitForFunction((want: boolean) => (document.querySelector('[data-testid=auto-deploy]') as { checked: boolean }).checked === want, !autoWas, { timeout: 15_000 });

  t.is(await lifecycle.locator('button[aria-busy=true]').count(), 1, 'the pressed button is still busy');
  t.is(await lifecycle.locator('button:enabled').count(), 0, 'nothing to press again meanwhile');
  release();
  await lifecycle.getByTestId('service-resume').waitFor();
  t.is((await render.getService(id)).suspended, 'suspended');
  t.is(await lifecycle.locator('button[aria-busy=true]').count(), 0);
  t.deepEqual(problems, []);
  await context.close();
});

test('Suspend on a service deleted elsewhere (the Render Dashboard, no event here) says the service was deleted, as a re-read does', async (t) => {
  // The page said "Suspend failed: Service not found." and went on offering the gone service's settings.
  t.timeout(120_000);
  const { context, page, problems, apiKey } = await stack.signedInWithKey(browser, 'setgonesuspend', []);
  const { render, serviceId: id } = await serviceMadeOutside(stack, apiKey, { login: 'setgonesuspend', name: 'set-gone-suspend' });
  // Deleted once nothing else of the page's would find it gone before the click: CI failed so (the buttons
  // taken away, click timeout 30 s). Its first reads of the lists, out when the heading shows, are waited
  // for, and its timers held: the timed history read (6 s while the first deploy builds) is not made.
  // Those reads' own "deleted" is the test 'a service deleted on Render while its settings page streams'.
  const listsRead = ['deploys', 'env-vars', 'secret-files', 'custom-domains'].map((list) =>
    page.waitForResponse((r) => new URL(r.url()).pathname === `/api/render/services/${id}/${list}`));
  await page.clock.install();
  await page.clock.pauseAt(Date.now() + 1_000);
  await page.goto(`${stack.url}/#/services/${id}`);
  await page.getByRole('heading', { level: 1, name: 'set-gone-suspend' }).waitFor();
  for (const read of await Promise.all(listsRead)) t.is(read.status(), 200, read.url());
  await render.deleteService(id);
  await page.getByTestId('service-lifecycle').getByTestId('service-suspend').click();
  await page.getByTestId('service-deleted').waitFor({ timeout: 15_000 });
  t.is(await page.getByTestId('service-lifecycle').locator('button').count(), 0, 'nothing offered for a gone service');
  t.deepEqual(problems.filter((p) => !/404/.test(p)), []);
  await context.close();
});

/**
 * A deploy of the service started elsewhere (`start`: another tab, or CI through the API) while the
 * settings page is open, on its stream or polling: the page's history lists it on its way, then live,
 * and offers "Open site" once the service has been live (its only earlier build failed: no link before);
 * a custom domain added in another tab is listed too. Focus stays where the user left it through the re-reads.
 */
async function deployStartedElsewhere(t: ExecutionContext, login: string, polling: boolean,
  start: (ctx: { first: Page; id: string; apiKey: string }) => Promise<number>) {
  const { context, page: first, problems, apiKey } = await stack.signedInWithKey(browser, login, ['api']);
  stack.render.failBuilds({ repo: `https://github.com/${login}/api` }, 'build_failed');
  const { render, serviceId: id } = await serviceMadeOutside(stack, apiKey, { login, name: `${login}-svc` });
  for (let i = 0; i < 500 && (await render.listDeploys(id))[0]?.status !== 'build_failed'; i++) await new Promise((r) => setTimeout(r, 20));
  t.is((await render.listDeploys(id))[0]?.status, 'build_failed');
  await first.goto(`${stack.url}/#/`);
  await first.getByTestId('user-login').waitFor();

  const page = await context.newPage();
  if (polling) await page.route('**/api/events**', (route) => route.fulfill({ status: 503, contentType: 'application/json', body: '{"error":{"code":"events_unavailable","message":"no"}}' }));
  await page.goto(`${stack.url}/#/services/${id}`);
  await page.getByRole('heading', { level: 1, name: `${login}-svc` }).waitFor();
  await page.locator(`#live-mode[data-mode=${polling ? 'polling' : 'live'}]`).waitFor();
  const rows = page.getByTestId('history-row');
  const row = (status: string) => page.locator(`[data-testid=history-row][data-status=${status}]`);
  await row('build_failed').waitFor();
  t.is(await rows.count(), 1);
  t.is(await page.getByRole('link', { name: /Open site/ }).count(), 0, 'never live: nothing to open');
  // The user is somewhere on the page: re-reads leave focus there.
  await page.getByTestId('auto-deploy').focus();
  const reads: string[] = [];
  page.on('request', (r) => { const u = new URL(r.url()); if (r.method() === 'GET' && u.pathname.startsWith('/api/')) reads.push(u.pathname); });

  // Started elsewhere, held in its build so that the page can be seen following it.
  const release = stack.render.holdPhase({ serviceId: id }, 'build_in_progress');
  t.is(await start({ first, id, apiKey }), 202);
  const timeout = polling ? 60_000 : 15_000;
  await row('build_in_progress').waitFor({ timeout });
  t.is(await rows.count(), 2, 'the new deploy is listed above the failed one');
  t.is(await page.getByRole('link', { name: /Open site/ }).count(), 0, 'not live yet');
  release();
  await row('live').waitFor({ timeout });
  await page.getByRole('link', { name: /Open site/ }).waitFor({ timeout });
  t.is(await rows.count(), 2);
  t.is(await row('live').locator('.badge--success', { hasText: 'Serving now' }).count(), 1);
  // A custom domain added in another tab shows too (while polling, no event says so: the page reads the list now and then).
  t.is(await act(first, 'POST', `/api/render/services/${id}/custom-domains`, { name: `www.${login}.example.com` }), 201);
  await page.locator(`[data-testid=domain-row][data-domain="www.${login}.example.com"]`).waitFor({ timeout });
  t.is(await focusedTestId(page), 'auto-deploy', 'focus stays where the user left it');
  // Bounded: the deployment read once to learn its service (none while polling: the polled list names
  // it), the history a few times over the deploy's updates, not once per update or per poll.
  const count = (re: RegExp) => reads.filter((p) => re.test(p)).length;
  t.true(count(/^\/api\/render\/deployments\//) <= (polling ? 0 : 1), reads.join(' '));
  t.true(count(/\/deploys$/) <= (polling ? 6 : 10), reads.join(' '));
  t.true(count(/\/settings$/) <= (polling ? 3 : 1), reads.join(' '));
  t.deepEqual(problems.filter((p) => !(polling && /503/.test(p))), []);
  await context.close();
}

test('a deploy of the service started in another tab shows on its settings page, on its way and then live, and "Open site" with it', async (t) => {
  t.timeout(120_000);
  await deployStartedElsewhere(t, 'sethiststream', false, ({ first, id }) => act(first, 'POST', `/api/render/services/${id}/redeploy`));
});

test('while the settings page polls (its event stream refused), a deploy started by CI shows there, on its way and then live, and "Open site" with it', async (t) => {
  t.timeout(180_000);
  await deployStartedElsewhere(t, 'sethistpoll', true, async ({ id, apiKey }) => {
    // A CI job: the user's GitHub token and the Render key on each request, no browser session.
    const res = await fetch(`${stack.url}/api/render/services/${id}/redeploy`, {
      method: 'POST', headers: { authorization: `Bearer ${stack.github.issuePat('sethistpoll')}`, 'x-render-api-key': apiKey, 'content-type': 'application/json' }, body: '{}',
    });
    return res.status;
  });
});

test('a deploy started on Render\'s side (its Dashboard, an auto-deploy on push) shows on the streaming settings page on its way and then live, without a reload, and is not read while the tab is hidden', async (t) => {
  // The stream carries only changes made through this app: the page listed such a deploy only after a
  // reload (while polling, it read the history every 15 s; streaming, never).
  t.timeout(180_000);
  const login = 'setrenderside';
  const { context, page: first, problems, apiKey } = await stack.signedInWithKey(browser, login, ['api']);
  const { render, serviceId: id } = await serviceMadeOutside(stack, apiKey, { login, name: `${login}-svc` });
  const newestOnRender = async () => (await render.listDeploys(id, { limit: 1 }))[0];
  for (let i = 0; i < 500 && (await newestOnRender())?.status !== 'live'; i++) await new Promise((r) => setTimeout(r, 20));
  t.is((await newestOnRender())?.status, 'live');
  await first.close();

  // The page's timers run as usual; the test moves its clock on instead of waiting out the intervals.
  const page = await context.newPage();
  await page.clock.install();
  const reads: string[] = [];
  page.on('request', (r) => { const u = new URL(r.url()); if (r.method() === 'GET' && u.pathname.startsWith('/api/')) reads.push(u.pathname); });
  const historyReads = () => reads.filter((p) => p === `/api/render/services/${id}/deploys`).length;
  await page.goto(`${stack.url}/#/services/${id}`);
  await page.getByRole('heading', { level: 1, name: `${login}-svc` }).waitFor();
  await page.locator('#live-mode[data-mode=live]').waitFor();
  const rows = page.getByTestId('history-row');
  const row = (status: string) => page.locator(`[data-testid=history-row][data-status=${status}]`);
  await row('live').waitFor();
  t.is(await rows.count(), 1);
  await page.getByTestId('auto-deploy').focus();

  // Started on Render itself (its API with the user's key, as its Dashboard does), held in its build.
  const release = stack.render.holdPhase({ serviceId: id }, 'build_in_progress');
  const started = await render.triggerDeploy(id);
  t.is(started.kind, 'created');
  const newId = started.kind === 'created' ? started.deploy.id : '';
  for (let i = 0; i < 500 && (await newestOnRender())?.status !== 'build_in_progress'; i++) await new Promise((r) => setTimeout(r, 20));
  await page.clock.fastForward(21_000);
  await page.locator(`[data-testid=history-row][data-deploy-id="${newId}"][data-status=build_in_progress]`).waitFor({ timeout: 30_000 });
  t.is(await rows.count(), 2, 'listed above the one live before');

  // On its way it is read every few seconds: it is shown live once Render says so.
  release();
  for (let i = 0; i < 500 && (await newestOnRender())?.status !== 'live'; i++) await new Promise((r) => setTimeout(r, 20));
  t.is((await newestOnRender())?.id, newId);
  await page.clock.fastForward(7_000);
  await page.locator(`[data-testid=history-row][data-deploy-id="${newId}"][data-status=live]`).waitFor({ timeout: 30_000 });
  t.is(await page.locator(`[data-testid=history-row][data-deploy-id="${newId}"]`).locator('.badge--success', { hasText: 'Serving now' }).count(), 1);
  t.is(await row('deactivated').count(), 1);
  t.is(await focusedTestId(page), 'auto-deploy', 'focus stays where the user left it');

  // Nothing new: a later read draws nothing again (a screen reader's place in the list stays).
  await page.evaluate(() => { for (const el of document.querySelectorAll('[data-testid=history-row]')) el.dataset.before = 'yes'; });
  const before = historyReads();
  const answered = page.waitForResponse((r) => new URL(r.url()).pathname === `/api/render/services/${id}/deploys`, { timeout: 30_000 });
  await page.clock.fastForward(21_000);
  await answered;
  t.true(historyReads() > before);

  // Hidden, the page reads nothing however long; back in view, it reads at once what Render started meanwhile.
  await shownAs(page, 'hidden');
  const hiddenAt = historyReads();
  await page.clock.fastForward(120_000);
  const again = await render.triggerDeploy(id);
  t.is(again.kind, 'created');
  const againId = again.kind === 'created' ? again.deploy.id : '';
  await page.clock.fastForward(120_000);
  await requestsSeen(page);
  t.is(historyReads(), hiddenAt, 'no read while hidden');
  // (By now the read above was drawn, if it was to be.)
  t.is(await page.locator('[data-testid=history-row]:not([data-before])').count(), 0, 'the rows were not drawn again');
  t.is(await focusedTestId(page), 'auto-deploy');
  t.is(await page.locator(`[data-testid=history-row][data-deploy-id="${againId}"]`).count(), 0);
  await shownAs(page, 'visible');
  await page.locator(`[data-testid=history-row][data-deploy-id="${againId}"]`).waitFor({ timeout: 30_000 });

  // What it cost: the history read once at the open, and once per interval (not more, as a poll would).
  t.true(historyReads() <= 8, reads.join(' '));
  t.deepEqual(problems, []);
  await context.close();
});

test('a deploy started on Render\'s side shows on the streaming dashboard\'s service card, on its way and then live, without a reload; an unchanged list is not drawn again', async (t) => {
  // The deployments list is the app's own records, and the stream carries only what the app did: the
  // card went on saying the service was live (and its older latest deploy) until a reload.
  t.timeout(240_000);
  const login = 'dashrenderside';
  const { context, page: first, problems, apiKey } = await stack.signedInWithKey(browser, login, ['api']);
  const { render, serviceId: id } = await serviceMadeOutside(stack, apiKey, { login, name: `${login}-svc` });
  const newestOnRender = async () => (await render.listDeploys(id, { limit: 1 }))[0];
  const untilOnRender = async (status: 'live' | 'build_in_progress') => {
    for (let i = 0; i < 500 && (await newestOnRender())?.status !== status; i++) await new Promise((r) => setTimeout(r, 20));
    t.is((await newestOnRender())?.status, status);
  };
  await untilOnRender('live');
  await first.close();

  const page = await context.newPage();
  await page.clock.install();
  const reads: string[] = [];
  page.on('request', (r) => { const u = new URL(r.url()); if (r.method() === 'GET' && u.pathname.startsWith('/api/')) reads.push(u.pathname); });
  const cardReads = () => reads.filter((p) => p === '/api/render/services').length;
  await page.goto(`${stack.url}/#/`);
  await page.locator('#live-mode[data-mode=live]').waitFor();
  const card = page.locator(`[data-testid=service-card][data-service-id="${id}"]`);
  await page.locator(`[data-testid=service-card][data-service-id="${id}"][data-state=live]`).waitFor();
  await page.getByTestId('new-deploy').focus();
  /** The page's clock moved on a minute at a time until the card says `state` (the server keeps a list 8 s: real time). */
  const cardSays = async (state: string) => {
    const shown = page.locator(`[data-testid=service-card][data-service-id="${id}"][data-state=${state}]`);
    for (let i = 0; i < 40 && !(await shown.count()); i++) {
      await page.clock.fastForward(61_000);
      await shown.waitFor({ timeout: 3_000 }).catch(() => undefined);
    }
    await shown.waitFor({ timeout: 1_000 });
  };

  // Started on Render itself (its API with the user's key, as its Dashboard does), held in its build.
  const release = stack.render.holdPhase({ serviceId: id }, 'build_in_progress');
  const started = await render.triggerDeploy(id);
  t.is(started.kind, 'created');
  await untilOnRender('build_in_progress');
  await cardSays('deploying');
  t.is(await focusedTestId(page), 'new-deploy', 'focus stays where the user left it');
  release();
  await untilOnRender('live');
  await cardSays('live');
  t.is(await focusedTestId(page), 'new-deploy');

  // Nothing new: the timer's later read draws nothing again.
  await page.evaluate(() => { for (const el of document.querySelectorAll('[data-testid=service-card]')) el.dataset.before = 'yes'; });
  const before = cardReads();
  const answered = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/render/services', { timeout: 30_000 });
  await page.clock.fastForward(61_000);
  await answered;
  await requestsSeen(page);
  t.true(cardReads() > before);
  t.is(await card.getAttribute('data-before'), 'yes', 'the card was not drawn again');
  t.is(await focusedTestId(page), 'new-deploy');

  // While a card shows a deploy in progress the cards are read every 6 s, not every minute: a Resume's
  // deploy (Render's own) showed "Deploying" for a minute after it went live (found by a UX walkthrough).
  const releaseAgain = stack.render.holdPhase({ serviceId: id }, 'build_in_progress');
  t.is((await render.triggerDeploy(id)).kind, 'created');
  await untilOnRender('build_in_progress');
  await cardSays('deploying');
  // The next read comes 6 s (of the page's clock) after the one that drew it, not a minute.
  const nextRead = page.waitForRequest((r) => new URL(r.url()).pathname === '/api/render/services', { timeout: 5_000 });
  await page.clock.fastForward(7_000);
  await nextRead;
  releaseAgain();
  await untilOnRender('live');
  const live = page.locator(`[data-testid=service-card][data-service-id="${id}"][data-state=live]`);
  for (let i = 0; i < 8 && !(await live.count()); i++) {
    await page.clock.fastForward(7_000);
    await live.waitFor({ timeout: 3_000 }).catch(() => undefined);
  }
  t.is(await live.count(), 1, 'live within 56 s of the page\'s clock');
  t.deepEqual(problems, []);
  await context.close();
});

/**
 * A service made on Render whose first deploy is live, its settings page open and streaming in a new tab whose
 * clock the test moves (`page.clock`); `beforeOpen` runs on that tab before it loads the page.
 */
async function liveServicePageOnClock(login: string, beforeOpen: (page: Page) => void = () => {}) {
  const { context, page: first, problems, apiKey } = await stack.signedInWithKey(browser, login, ['api']);
  const { render, serviceId: id } = await serviceMadeOutside(stack, apiKey, { login, name: `${login}-svc` });
  for (let i = 0; i < 500 && (await render.listDeploys(id, { limit: 1 }))[0]?.status !== 'live'; i++) await new Promise((r) => setTimeout(r, 20));
  await first.close();

  const page = await context.newPage();
  await page.clock.install();
  beforeOpen(page);
  await page.goto(`${stack.url}/#/services/${id}`);
  await page.getByRole('heading', { level: 1, name: `${login}-svc` }).waitFor();
  await page.locator('#live-mode[data-mode=live]').waitFor();
  await page.locator('[data-testid=history-row][data-status=live]').waitFor();
  return { context, page, problems, apiKey, render, id };
}

test('a history read that failed on the streaming settings page is not said for good: the next read that succeeds takes the error away, unchanged rows not drawn again', async (t) => {
  // The timed reread (every 20 s) left "Could not load deploys" on screen after one failed read, though
  // every later read succeeded: only a read that drew new rows could have replaced it, and none did.
  t.timeout(180_000);
  const { context, page, problems, apiKey, id } = await liveServicePageOnClock('sethistfail');
  await page.getByTestId('auto-deploy').focus();
  await page.evaluate(() => { for (const el of document.querySelectorAll('[data-testid=history-row]')) el.dataset.before = 'yes'; });
  const readError = page.getByRole('alert').filter({ hasText: 'Could not load deploys' });
  const historyRead = () => page.waitForResponse((r) => new URL(r.url()).pathname === `/api/render/services/${id}/deploys`, { timeout: 30_000 });

  // Render fails the history's reads for a while (its deploy list answers 503).
  const fault = stack.render.setFault({ method: 'GET', route: '/services/{serviceId}/deploys', kind: 'status', status: 503, apiKey });
  t.teardown(() => stack.render.clearFault(fault));
  const failed = historyRead();
  await page.clock.fastForward(21_000);
  t.true((await failed).status() >= 500);
  await readError.waitFor({ timeout: 15_000 });
  t.is(await page.locator('[data-testid=history-row][data-before]').count(), 1, 'the rows read before stay listed');

  // Render answers again: the next timed read takes the error away, and draws nothing again (nothing changed).
  stack.render.clearFault(fault);
  const answered = historyRead();
  await page.clock.fastForward(21_000);
  t.is((await answered).status(), 200);
  await readError.waitFor({ state: 'detached', timeout: 15_000 });
  t.is(await page.locator('[data-testid=history-row]:not([data-before])').count(), 0, 'the rows were not drawn again');
  t.is(await focusedTestId(page), 'auto-deploy', 'focus stays where the user left it');
  t.deepEqual(problems.filter((p) => !/50\d/.test(p)), []);
  await context.close();
});

test('a service deleted on Render while its settings page streams: the timed history read says it was deleted (not "Could not load deploys"), and reads no more', async (t) => {
  // The 404 of the timed read was said as a failed read, again every 20 s, with the gone service's settings still offered.
  t.timeout(180_000);
  const reads: string[] = [];
  const { context, page, problems, id, render } = await liveServicePageOnClock('sethistgone', (page) => {
    page.on('request', (r) => { const u = new URL(r.url()); if (r.method() === 'GET' && u.pathname.startsWith('/api/')) reads.push(u.pathname); });
  });
  const count = (suffix: string) => reads.filter((p) => p === `/api/render/services/${id}${suffix}`).length;

  // Deleted on Render's side (its Dashboard): no event here; the next timed read finds it gone.
  await render.deleteService(id);
  await page.clock.fastForward(21_000);
  await page.getByTestId('service-deleted').waitFor({ timeout: 30_000 });
  t.is(await page.getByRole('alert').filter({ hasText: 'Could not load deploys' }).count(), 0, 'not said as a failed read');
  t.is(await page.getByTestId('service-lifecycle').locator('button').count(), 0, 'nothing offered for a gone service');
  t.false(await page.getByTestId('deploy-history').isVisible(), 'its settings are not offered');

  // And it is not read again, however long the page stays open.
  await requestsSeen(page);
  const deploysRead = count('/deploys');
  const settingsRead = count('/settings');
  for (let i = 0; i < 3; i++) await page.clock.fastForward(61_000);
  await requestsSeen(page);
  t.is(count('/deploys'), deploysRead, reads.join(' '));
  t.is(count('/settings'), settingsRead, reads.join(' '));
  t.deepEqual(problems.filter((p) => !/404/.test(p)), []);
  await context.close();
});

test('a service deleted on Render while the dashboard streams drops from its cards at the timed read, without an error; the others stay', async (t) => {
  t.timeout(240_000);
  const login = 'dashgone';
  const { context, page: first, problems, apiKey } = await stack.signedInWithKey(browser, login, ['api']);
  const { render, serviceId: id } = await serviceMadeOutside(stack, apiKey, { login, name: `${login}-gone` });
  const { serviceId: keptId } = await serviceMadeOutside(stack, apiKey, { login, name: `${login}-kept` });
  await first.close();

  const page = await context.newPage();
  await page.clock.install();
  await page.goto(`${stack.url}/#/`);
  await page.locator('#live-mode[data-mode=live]').waitFor();
  const card = (serviceId: string) => page.locator(`[data-testid=service-card][data-service-id="${serviceId}"]`);
  await card(id).waitFor();
  await card(keptId).waitFor();
  await page.getByTestId('new-deploy').focus();

  // Deleted on Render's side: no event here. The page's clock moved on a minute at a time (the server keeps a list 8 s: real time).
  await render.deleteService(id);
  for (let i = 0; i < 40 && (await card(id).count()); i++) {
    await page.clock.fastForward(61_000);
    await card(id).waitFor({ state: 'detached', timeout: 3_000 }).catch(() => undefined);
  }
  t.is(await card(id).count(), 0, 'the deleted service is no longer listed');
  t.is(await card(keptId).count(), 1, 'the other stays');
  t.is(await page.getByTestId('service-list').getByText(/Could not load/).count(), 0);
  t.is(await focusedTestId(page), 'new-deploy');
  t.deepEqual(problems, []);
  await context.close();
});

test('while the settings page polls, a settings read begun before an auto-deploy switch and answered after it does not draw the old value back', async (t) => {
  t.timeout(120_000);
  const { context, page: first, problems, apiKey } = await stack.signedInWithKey(browser, 'setstalepoll', []);
  const { serviceId: id } = await serviceMadeOutside(stack, apiKey, { login: 'setstalepoll', name: 'set-stale-poll' });
  await first.close();
  // A tab of its own whose event stream is refused: it polls.
  const page = await context.newPage();
  await page.route('**/api/events**', (route) => route.fulfill({ status: 503, contentType: 'application/json', body: '{"error":{"code":"events_unavailable","message":"no"}}' }));
  await page.goto(`${stack.url}/#/services/${id}`);
  await page.getByRole('heading', { level: 1, name: 'set-stale-poll' }).waitFor();
  await page.locator('#live-mode[data-mode=polling]').waitFor();
  const box = page.getByTestId('auto-deploy');
  t.true(await box.isChecked());

  // The poll's next read of the settings: answered by the server at once (auto-deploy on), handed over later.
  const late = await answerLate(page, `**/api/render/services/${id}/settings`);
  await late.asked;
  const [saved] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/services/${id}/settings`) && r.request().method() === 'PATCH'),
    box.uncheck(),
  ]);
  t.is(saved.status(), 200);
  await page.waitForFunction(() => document.querySelector('[data-testid=auto-deploy]')?.disabled === false);
  t.false(await box.isChecked());

  await late.deliver();
  t.false(await box.isChecked(), 'auto-deploy stays off, as saved');
  t.regex(await page.getByTestId('auto-deploy-note').innerText(), /does not deploy on push/);
  t.deepEqual(problems.filter((p) => !/503/.test(p)), []);
  await context.close();
});

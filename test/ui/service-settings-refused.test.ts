import anyTest, { type ExecutionContext } from 'ava';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { focusedTestId, holdAnswers } from './support/browser.js';
import { useBrowserStack } from './support/browserStack.js';
import { serviceMadeOutside, type UiStack } from './support/uiStack.js';
import { takingTurns } from './support/turns.js';
import { supersededDeploy } from '../helpers/attackTenants.js';

const test = takingTurns(anyTest);

// The service settings page when its actions fail, and while it loads. What broke before:
// - a save on a service deleted on Render's side (no event heard here) said only "Service not found."
//   and the page went on offering every control; now any of the page's actions meeting the 404 reads the
//   service again and the page says it was deleted;
// - a Redeploy (or a rollback) refused because the service was suspended on Render's side said "Resume it
//   first", but the page offered no Resume; now it reads the service again and offers it;
// - a failed auto-deploy switch replaced the "This service is suspended" notice with its error;
// - with a slow Render the page showed nothing while its first read was out; now "Loading service…".

let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

/**
 * `id`'s settings page in a new tab of `context`, once its first reads answered, its timers held: the timed
 * history read (6 s while the first deploy builds) would find a deletion before the click the test makes.
 */
async function openHeld(t: ExecutionContext, context: BrowserContext, id: string, name: string): Promise<Page> {
  const page = await context.newPage();
  const listsRead = ['deploys', 'env-vars', 'secret-files', 'custom-domains'].map((list) =>
    page.waitForResponse((r) => new URL(r.url()).pathname === `/api/render/services/${id}/${list}`));
  await page.clock.install();
  await page.clock.pauseAt(Date.now() + 1_000);
  await page.goto(`${stack.url}/#/services/${id}`);
  await page.getByRole('heading', { level: 1, name }).waitFor();
  for (const read of await Promise.all(listsRead)) t.is(read.status(), 200, read.url());
  return page;
}

/** Asks to roll back to the deactivated deploy (auto-deploy left as it is: the rollback's own answer is the one looked at). */
async function rollBack(page: Page) {
  const older = page.locator('[data-testid=history-row][data-status=deactivated]');
  await older.getByTestId('history-rollback').click();
  await older.getByTestId('rollback-auto-off').uncheck();
  await older.getByTestId('history-rollback-confirm').click();
}

test('env var save failing with Render 503 / 429 / 400: message shown, the form kept as typed', async (t) => {
  t.timeout(120_000);
  const { context, page, apiKey } = await stack.signedInWithKey(browser, 'refenv', []);
  const { render, serviceId } = await serviceMadeOutside(stack, apiKey, { login: 'refenv', name: 'ref-env' });
  await page.goto(`${stack.url}/#/services/${serviceId}`);
  await page.locator('[data-testid=env-section] [role=status]').filter({ hasText: 'No variables' }).waitFor();
  const messages: Record<number, string> = {};
  for (const status of [503, 429, 400]) {
    const fault = stack.render.setFault({ method: 'PUT', route: '/services/{serviceId}/env-vars/{envVarKey}', kind: 'status', status, apiKey, count: 5 });
    await page.getByTestId('env-key').fill(`K_${status}`);
    await page.getByTestId('env-value').fill(`secret-${status}`);
    await page.getByTestId('env-save').click();
    const alert = page.locator('[data-testid=env-section] .notice--error, [data-testid=env-section] .field__error:not([hidden])').first();
    await alert.waitFor();
    messages[status] = await alert.innerText();
    stack.render.clearFault(fault);
    t.is(await page.getByTestId('env-key').inputValue(), `K_${status}`, `name kept after ${status}`);
    t.is(await page.getByTestId('env-value').inputValue(), `secret-${status}`, `value kept after ${status}`);
    await t.throwsAsync(render.getEnvVar(serviceId, `K_${status}`));
  }
  for (const [status, m] of Object.entries(messages)) t.true(m.length > 10 && !/^The server answered/.test(m), `${status}: ${m}`);
  await context.close();
});

test('scaling save failing with 503: message shown, the form kept; deleted on Render while open then saved', async (t) => {
  t.timeout(120_000);
  const { context, apiKey } = await stack.signedInWithKey(browser, 'refscale', []);
  const { render, serviceId } = await serviceMadeOutside(stack, apiKey, { login: 'refscale', name: 'ref-scale' });
  await render.putEnvVar(serviceId, 'GONE_SOON', 'v');
  const page = await openHeld(t, context, serviceId, 'ref-scale');
  const faults = [
    stack.render.setFault({ method: 'PATCH', route: '/services/{serviceId}', kind: 'status', status: 503, apiKey, count: 10 }),
    stack.render.setFault({ method: 'POST', route: '/services/{serviceId}/scale', kind: 'status', status: 503, apiKey, count: 10 }),
  ];
  await page.getByTestId('num-instances').fill('3');
  await page.getByTestId('health-check').fill('/healthz-probe');
  await page.getByTestId('settings-save').click();
  await page.locator('[data-testid=settings-flash] .notice--error, [data-testid=scaling-section] .field__error:not([hidden])').first().waitFor();
  t.is(await page.getByTestId('num-instances').inputValue(), '3');
  t.is(await page.getByTestId('health-check').inputValue(), '/healthz-probe');
  for (const fault of faults) stack.render.clearFault(fault);

  // A 404 that is not the service's (an env var removed on Render meanwhile): said so, the page stays.
  await render.deleteEnvVar(serviceId, 'GONE_SOON');
  const row = page.locator('[data-testid=env-list] li[data-key=GONE_SOON]');
  // The 404 has the service read again: answered, the service is there.
  const checked = page.waitForResponse((r) => new URL(r.url()).pathname === `/api/render/services/${serviceId}/settings`);
  await row.getByTestId('kv-delete').click();
  await row.getByTestId('kv-delete-confirm').click();
  await page.getByTestId('env-section').getByText('GONE_SOON was already removed.').waitFor();
  t.is((await checked).status(), 200);
  t.is(await page.getByTestId('service-deleted').count(), 0);
  t.true(await page.getByTestId('env-save').isVisible());

  // Deleted on Render's side; the user then saves an env var: the page says the service is gone (as a
  // history read's 404 does), not a bare "not found".
  await render.deleteService(serviceId);
  await page.getByTestId('env-key').fill('AFTER_DELETE');
  await page.getByTestId('env-value').fill('v');
  await page.getByTestId('env-save').click();
  await page.getByTestId('service-deleted').waitFor();
  t.false(await page.getByTestId('env-save').isVisible(), 'the gone service\'s settings are no longer offered');
  t.is(await page.getByTestId('service-lifecycle').locator('button').count(), 0);
  await context.close();
});

test('a secret file, a domain, a scaling save, the auto-deploy switch, a redeploy or a rollback meeting a service deleted on Render: the page says it was deleted', async (t) => {
  t.timeout(120_000);
  const { context, apiKey } = await stack.signedInWithKey(browser, 'refgone', []);
  const actions: Record<string, (page: Page) => Promise<void>> = {
    file: async (page) => {
      await page.getByTestId('file-name').fill('after.pem');
      await page.getByTestId('file-content').fill('x');
      await page.getByTestId('file-save').click();
    },
    domain: async (page) => {
      await page.getByTestId('domain-name').fill('after.ref-gone.example.com');
      await page.getByTestId('domain-add').click();
    },
    scaling: async (page) => {
      await page.getByTestId('num-instances').fill('2');
      await page.getByTestId('settings-save').click();
    },
    auto: (page) => page.getByTestId('auto-deploy').click(),
    redeploy: (page) => page.getByTestId('service-redeploy-now').click(),
    rollback: rollBack,
  };
  for (const [which, act] of Object.entries(actions)) {
    const name = `ref-gone-${which}`;
    const { render, serviceId } = await serviceMadeOutside(stack, apiKey, { login: 'refgone', name });
    if (which === 'rollback') await supersededDeploy(render, serviceId);
    const page = await openHeld(t, context, serviceId, name);
    await render.deleteService(serviceId);
    await act(page);
    await page.getByTestId('service-deleted').waitFor();
    t.regex(await page.getByTestId('service-notices').innerText(), new RegExp(`Service deleted\\. ${name} no longer exists on Render`), which);
    t.false(await page.getByTestId('settings-save').isVisible(), which);
    t.is(await page.getByTestId('service-lifecycle').locator('button').count(), 0, which);
    await page.close();
  }
  await context.close();
});

test('suspended on Render while the page is open: Redeploy says so and what to do, and the page then offers Resume', async (t) => {
  t.timeout(120_000);
  const { context, apiKey } = await stack.signedInWithKey(browser, 'refsusp', []);
  const actions: Record<string, (page: Page) => Promise<void>> = {
    redeploy: (page) => page.getByTestId('service-redeploy-now').click(),
    rollback: rollBack,
  };
  for (const [which, act] of Object.entries(actions)) {
    const name = `ref-susp-${which}`;
    const { render, serviceId } = await serviceMadeOutside(stack, apiKey, { login: 'refsusp', name });
    if (which === 'rollback') await supersededDeploy(render, serviceId);
    const page = await openHeld(t, context, serviceId, name);
    await page.locator('[data-testid=history-row]').first().waitFor();
    await render.suspendService(serviceId);
    await act(page);
    const err = page.locator('.notice--error').first();
    await err.waitFor();
    const said = await err.innerText();
    t.regex(said, /suspend/i, which);
    t.regex(said, /resume/i, `${which}: says what to do`);
    // The page learnt it is suspended: Resume offered (and focused, the refused button gone), the notice
    // shown, no redeploy or rollback; the refusal still said.
    await page.getByTestId('service-lifecycle').getByTestId('service-resume').waitFor();
    await page.getByTestId('service-suspended').waitFor();
    t.is(await focusedTestId(page), 'service-resume', which);
    t.false(await page.getByTestId('service-redeploy-now').isVisible(), which);
    t.is(await page.getByTestId('history-rollback').filter({ visible: true }).count(), 0, which);
    t.true(await err.isVisible(), which);
    await page.close();
  }
  await context.close();
});

test('a failed auto-deploy toggle on a suspended service keeps the "suspended" notice', async (t) => {
  t.timeout(120_000);
  const { context, page, apiKey } = await stack.signedInWithKey(browser, 'refauto', []);
  const { render, serviceId } = await serviceMadeOutside(stack, apiKey, { login: 'refauto', name: 'ref-auto' });
  await render.suspendService(serviceId);
  await page.goto(`${stack.url}/#/services/${serviceId}`);
  await page.getByTestId('service-suspended').waitFor();
  const fault = stack.render.setFault({ method: 'PATCH', route: '/services/{serviceId}', kind: 'status', status: 503, apiKey, count: 10 });
  await page.getByTestId('auto-deploy').click();
  await page.locator('[data-testid=service-notices] .notice--error').waitFor();
  t.true(await page.getByTestId('auto-deploy').isChecked(), 'checkbox back as it was');
  t.true(await page.getByTestId('service-suspended').isVisible(), 'the suspended notice is still shown beside the error');
  // The next toggle, answered: its error goes, the notice stays.
  stack.render.clearFault(fault);
  await page.getByTestId('auto-deploy').click();
  await page.locator('[data-testid=service-notices] .notice--error').waitFor({ state: 'detached' });
  t.false(await page.getByTestId('auto-deploy').isChecked());
  t.true(await page.getByTestId('service-suspended').isVisible());
  await context.close();
});

test('slow Render: the settings page says it is loading, until the service is read or the read fails', async (t) => {
  t.timeout(120_000);
  const { context, page, apiKey } = await stack.signedInWithKey(browser, 'refslow', []);
  const { serviceId } = await serviceMadeOutside(stack, apiKey, { login: 'refslow', name: 'ref-slow' });
  const loading = page.getByTestId('service-page').getByRole('status').filter({ hasText: 'Loading service…' });

  // Answered late.
  const held = await holdAnswers(page, `**/api/render/services/${serviceId}/settings`);
  await page.goto(`${stack.url}/#/services/${serviceId}`);
  await held.asked;
  await loading.waitFor();
  t.regex(await page.getByTestId('service-page').innerText(), /load|read/i);
  held.answer();
  await page.getByRole('heading', { level: 1, name: 'ref-slow' }).waitFor();
  await loading.waitFor({ state: 'detached' });
  await page.unrouteAll();

  // Failing: the line gives way to the error.
  await page.goto(`${stack.url}/#/`);
  let fail!: () => void;
  const failing = new Promise<void>((resolve) => { fail = resolve; });
  await page.route(`**/api/render/services/${serviceId}/settings`, async (route) => {
    await failing;
    await route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: { code: 'render_unavailable', message: 'Render did not answer properly.' } }) });
  });
  await page.goto(`${stack.url}/#/services/${serviceId}`);
  await loading.waitFor();
  fail();
  await page.getByTestId('service-notices').getByText('Could not load the service: Render did not answer properly.').waitFor();
  t.is(await loading.count(), 0);
  await context.close();
});

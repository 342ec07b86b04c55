import anyTest from 'ava';
import type { Browser } from 'playwright-core';
import { createRenderClient } from '../../server/render/client.js';
import { cronScheduleProblem } from '../../server/deployments/cron.js';
import { useBrowserStack } from './support/browserStack.js';
import { serviceMadeOutside, type UiStack } from './support/uiStack.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

// A cron job's schedule on its settings page, in Chromium: shown in a field of its own, a schedule Render
// cannot run refused on that field in the deploy form's words before anything is sent, and a good one
// saved on Render and shown as Render has it, after a reload too. A web service's page has no such field.

let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

test('settings page: a cron job\'s schedule is shown, a bad one refused on its field, a new one saved on Render', async (t) => {
  t.timeout(120_000);
  const { context, page, problems, apiKey } = await stack.signedInWithKey(browser, 'sched-user', []);
  const render = createRenderClient({ baseUrl: stack.render.url, apiKey });
  const ownerId = (await render.listOwners())[0]!.id;
  const { service } = await render.createService({
    type: 'cron_job', name: 'nightly-report', ownerId, repo: 'https://github.com/sched-user/jobs', branch: 'main', autoDeploy: 'yes',
    serviceDetails: { runtime: 'node', schedule: '*/5 * * * *', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'node report.js' } },
  });
  const cronId = service!.id;
  const scheduleOnRender = async () => (await render.getService(cronId)).serviceDetails as { schedule: string };

  await page.goto(`${stack.url}/#/services/${cronId}`);
  await page.getByRole('heading', { level: 1, name: 'nightly-report' }).waitFor();
  const input = page.getByTestId('schedule');
  await input.waitFor();
  t.is(await input.inputValue(), '*/5 * * * *', 'the schedule Render has');
  t.is(await page.getByRole('textbox', { name: 'Schedule (cron, UTC)' }).count(), 1, 'labelled as on the deploy form');
  t.is(await page.getByTestId('num-instances').count(), 0, 'a cron job has no instance count');

  // A schedule Render cannot run: said on the field, in the words the server (and the deploy form) use.
  const error = page.locator('.field', { has: input }).locator('.field__error:not([hidden])');
  const patches = () => stack.render.calls.filter((c) => c.method === 'PATCH' && c.path === `/services/${cronId}`).length;
  await input.fill('0 25 * * *');
  await page.getByTestId('settings-save').click();
  await error.filter({ hasText: cronScheduleProblem('0 25 * * *')! }).waitFor();
  t.is(await input.getAttribute('aria-invalid'), 'true');
  t.is(patches(), 0, 'nothing sent to Render');
  t.is((await scheduleOnRender()).schedule, '*/5 * * * *');

  // A good one, typed as a user would: saved on Render, and the page says so.
  await input.fill(' 30 2 * * mon-fri ');
  await page.getByTestId('settings-save').click();
  await page.getByTestId('settings-flash').getByText('Saved on Render.').waitFor();
  t.is(await error.count(), 0);
  t.is((await scheduleOnRender()).schedule, '30 2 * * mon-fri');
  t.is(patches(), 1);
  t.is(await page.getByTestId('schedule').inputValue(), '30 2 * * mon-fri', 'the field shows what Render answered');

  // Read again from Render: after a reload, and after a change made on Render's side.
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'nightly-report' }).waitFor();
  await page.getByTestId('schedule').waitFor();
  t.is(await page.getByTestId('schedule').inputValue(), '30 2 * * mon-fri');
  await render.updateService(cronId, { serviceDetails: { schedule: '0 6 * * *' } });
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'nightly-report' }).waitFor();
  t.is(await page.getByTestId('schedule').inputValue(), '0 6 * * *');

  // A web service's page has no schedule.
  const { serviceId: webId } = await serviceMadeOutside(stack, apiKey, { login: 'sched-user', name: 'report-web' });
  await page.goto(`${stack.url}/#/services/${webId}`);
  await page.getByRole('heading', { level: 1, name: 'report-web' }).waitFor();
  await page.getByTestId('num-instances').waitFor();
  t.is(await page.getByTestId('schedule').count(), 0);
  t.deepEqual(problems, [], 'no console errors, no CSP violations');
  await context.close();
});

import anyTest from 'ava';
import type { Browser } from 'playwright-core';
import { answerLate } from './support/browser.js';
import { serviceMadeOutside, type UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

// The Security page reads its findings again on each event (a finding, a settings change in another tab).
// Two reads in flight can answer in either order: the older answer, drawn last, took the newest finding
// off the page until the next event.

let stack: UiStack;
let browser: Browser;
// Rounds every 5 s, so that a second finding does not wait a minute.
useBrowserStack(test, { stack: { env: { SENTINEL_INTERVAL_SECONDS: '5' } } }, (b) => ({ stack, browser } = b));

const OOM = { reason: { oomKilled: { memoryLimit: '512Mi' } } };

test('a findings read answered after a later one does not take the newer finding off the page', async (t) => {
  const { context, page, problems, apiKey } = await stack.signedInWithKey(browser, 'findings-late', []);
  const { serviceId } = await serviceMadeOutside(stack, apiKey, { login: 'findings-late', name: 'findings-api' });
  await page.goto(`${stack.url}/#/security`);
  await page.getByText('Sentinel is off. Turn it on').waitFor();
  await page.getByTestId('sentinel-enabled').check();
  await page.getByTestId('sentinel-save').click();
  await page.getByText('Sentinel is off. Turn it on').waitFor({ state: 'detached' });
  stack.render.addServiceEvent(serviceId, 'server_failed', OOM);
  const findings = page.getByTestId('finding');
  await findings.first().waitFor({ timeout: 30_000 });

  // The next findings read (another tab's save sets it off) is answered now, with the one finding, and
  // handed to the page late.
  const late = await answerLate(page, '**/api/sentinel/findings?*');
  const other = await context.newPage();
  await other.goto(`${stack.url}/#/security`);
  await other.getByTestId('sentinel-save').click();
  await late.asked;

  // A second finding: its event's read answers first, with both.
  stack.render.addServiceEvent(serviceId, 'server_failed', OOM);
  await findings.nth(1).waitFor({ timeout: 30_000 });
  t.truthy(await late.deliver());
  t.is(await findings.count(), 2, 'both findings stay listed');
  t.deepEqual(problems, []);
  await context.close();
});

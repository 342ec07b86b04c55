import test from 'ava';
import type { Browser } from 'playwright-core';
import { useBrowserStack } from '../ui/support/browserStack.js';
import { holdAnswers } from '../ui/support/browser.js';
import { startDeployments, type UiStack } from '../ui/support/uiStack.js';

let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

// The dashboard reloads its list (a deployment it has not listed yet), and a live event for a listed row
// arrives while that read is on its way back: the answer, read before the event's write, put the row back to the
// older status, and it stayed so (found by a live-updates probe).
test('dashboard: a list read overtaken by a live status event does not bring back the older status', async (t) => {
  const login = 'ordera';
  const { page, context } = await stack.signedInWithKey(browser, login, ['alpha', 'beta']);
  try {
    const releaseAlpha = stack.render.holdPhase({ serviceName: 'alpha' }, 'update_in_progress');
    const releaseBeta = stack.render.holdPhase({ serviceName: 'beta' }, 'build_in_progress');
    await page.goto(stack.url + '/#/');
    await page.getByText('No deployments yet').waitFor();
    t.deepEqual(await startDeployments(page, login, ['alpha']), [202]);
    const alphaBadge = page.locator('[data-testid=deployment-row]', { hasText: 'alpha' }).getByTestId('deployment-row-status');
    await page.locator('[data-testid=deployment-row]', { hasText: 'alpha' }).locator('[data-status=update_in_progress]').waitFor({ timeout: 30_000 });

    // From now on the list's reads are answered by the server at once, and handed to the page later.
    const held = await holdAnswers(page, /\/api\/render\/my-deployments/);
    t.deepEqual(await startDeployments(page, login, ['beta']), [202]); // unknown row → the dashboard reloads its list
    await held.asked;
    // Alpha goes live; its event reaches the row while the reload's answer (read before) is held.
    releaseAlpha();
    await page.locator('[data-testid=deployment-row]', { hasText: 'alpha' }).locator('[data-status=live]').waitFor({ timeout: 30_000 });
    held.answer();
    // The held answer is drawn (beta's row comes with it).
    await page.locator('[data-testid=deployment-row]', { hasText: 'beta' }).waitFor({ timeout: 30_000 });
    await page.evaluate(async () => { for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 0)); });
    const shown = await alphaBadge.getAttribute('data-status');
    const rec = await page.evaluate(async () => (await (await fetch('/api/render/my-deployments?limit=20')).json()) as { deployments: Array<{ status: string; request: { serviceName: string } }> });
    const actual = rec.deployments.find((d) => d.request.serviceName === 'alpha')?.status;
    releaseBeta();
    // Beta's own events (its row is listed now) read no list again: alpha's row stays as it is.
    await page.locator('[data-testid=deployment-row]', { hasText: 'beta' }).locator('[data-status=live]').waitFor({ timeout: 30_000 });
    const later = await alphaBadge.getAttribute('data-status');
    t.is(actual, 'live', 'the record is live');
    t.is(shown, 'live', `the dashboard row shows ${shown} after it had shown live`);
    t.is(later, 'live', `still ${later} after beta went live too`);
  } finally {
    await context.close();
  }
});

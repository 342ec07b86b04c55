import anyTest from 'ava';
import type { Browser } from 'playwright-core';
import { serviceMadeOutside, waitForDetectedStack, type UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { takingTurns } from './support/turns.js';
import { focusedElement, focusSettles, listenToAnnouncer, saidOnce } from './support/browser.js';

const test = takingTurns(anyTest);

// Code inside page.evaluate runs in the browser; these stand in for the DOM types this (Node-only) project does not load.
declare const document: any;

// A keyboard and screen-reader user: a control that goes away after it was pressed, or under a live
// update, leaves focus somewhere useful (not on <body>, from where a screen reader starts again at the top),
// and what was done is said.
let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

test('Security page: "Remove webhook" with the keyboard keeps focus in the form and says the webhook was removed', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'a11y-webhook', []);
  await page.goto(`${stack.url}/#/security`);
  await page.waitForFunction(() => !document.querySelector('[data-testid=sentinel-enabled]')?.disabled);
  await page.getByTestId('sentinel-enabled').check();
  await page.getByTestId('sentinel-slack').fill('https://hooks.slack.com/services/TA11Y/B000/XXXXXXXXXXXXXXXX');
  await page.getByTestId('sentinel-save').click();
  await page.getByTestId('sentinel-slack-remove').waitFor();
  await listenToAnnouncer(page);

  await page.getByTestId('sentinel-slack-remove').focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('sentinel-slack-remove').waitFor({ state: 'hidden' });
  t.not(await focusSettles(page), 'BODY', 'the hidden button took focus to <body>');
  t.true((await saidOnce(page, /webhook/i)).some((s) => /webhook.*removed/i.test(s)), 'the removal is said');
  t.deepEqual(problems, []);
  await context.close();
});

test('deployment page: the deploy ends while the keyboard user is on "Cancel deploy?": focus stays in the status card, not on <body>', async (t) => {
  t.timeout(120_000);
  const { context, page, problems } = await stack.signedInWithKey(browser, 'a11y-ends', ['ending-app']);
  await page.getByRole('link', { name: 'New deploy' }).first().click();
  await page.getByTestId('repo-search').fill('ending-app');
  await page.locator('[data-testid=repo-option][data-repo="a11y-ends/ending-app"]').click();
  await waitForDetectedStack(page);
  // The service's creation waits at Render while the user thinks about cancelling.
  const creation = stack.render.holdRequest({ method: 'POST', route: '/services' });
  t.teardown(() => creation.release());
  await page.getByTestId('deploy-submit').click();
  await page.waitForURL(/#\/deployments\//);
  await creation.arrived;
  await page.getByTestId('cancel').focus();
  await page.keyboard.press('Enter');
  t.is(await focusedElement(page), 'cancel-keep', 'the question starts on Keep');

  // The deploy goes on and goes live: the question, with Keep, goes with the cancel it asked about.
  creation.release();
  await page.locator('#deployment-status[data-status="live"]').waitFor({ timeout: 60_000 });
  await page.getByTestId('redeploy').waitFor();
  const now = await focusSettles(page);
  t.not(now, 'BODY', 'focus fell to <body> when the actions were drawn again');
  t.not(now, 'redeploy', 'an Enter meant for the question would start a redeploy');
  t.true(await page.evaluate(() => Boolean(document.activeElement?.closest('.status-card') || document.activeElement?.tagName === 'H1')), `focus: ${now}`);
  t.deepEqual(problems, []);
  await context.close();
});

test('dashboard: Suspend on a service deleted on Render meanwhile, with the keyboard: its card goes, focus is on the services heading and the failure is said', async (t) => {
  t.timeout(120_000);
  const { context, page, problems, apiKey } = await stack.signedInWithKey(browser, 'a11y-cardgone', []);
  const { render, serviceId } = await serviceMadeOutside(stack, apiKey, { login: 'a11y-cardgone', name: 'card-gone' });
  await page.goto(`${stack.url}/#/`);
  const card = page.locator(`[data-testid=service-card][data-service-id="${serviceId}"]`);
  await card.getByTestId('service-suspend').waitFor();
  await listenToAnnouncer(page);
  // Deleted on the Render Dashboard: no event reaches this page.
  await render.deleteService(serviceId);

  await card.getByTestId('service-suspend').focus();
  await page.keyboard.press('Enter');
  await card.waitFor({ state: 'detached' });
  const now = await focusSettles(page);
  t.is(now, 'H2 Render services', 'focus went with the card to <body>');
  t.true((await saidOnce(page, /Suspend/)).some((s) => /Suspend/.test(s)), 'what became of the Suspend is said (its notice went with the card)');
  t.deepEqual(problems.filter((p) => !/404/.test(p)), []);
  await context.close();
});

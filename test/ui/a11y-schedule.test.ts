import anyTest from 'ava';
import type { Browser, Page } from 'playwright-core';
import { createRenderClient } from '../../server/render/client.js';
import { cronScheduleProblem } from '../../server/deployments/cron.js';
import { useBrowserStack } from './support/browserStack.js';
import type { UiStack } from './support/uiStack.js';
import { focusedElement } from './support/browser.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

// Accessibility of a cron job's schedule field on its settings page: labelled, its hint and its error
// tied to the input (aria-describedby, aria-invalid) as the page's other fields are, focus taken to it when
// a save is refused, and the error in what Chromium gives a screen reader as the field's description.
let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

/** Chromium's own accessible name, description and invalid state of the element `selector` finds (over CDP). */
async function chromiumNode(page: Page, selector: string): Promise<{ name: string; description: string; invalid: string }> {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { root } = await cdp.send('DOM.getDocument', { depth: 0 });
    const { nodeId } = await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector });
    const { nodes } = await cdp.send('Accessibility.getPartialAXTree', { nodeId, fetchRelatives: false });
    const node = nodes[0]!;
    const invalid = node.properties?.find((p) => p.name === 'invalid')?.value?.value;
    return { name: String(node.name?.value ?? ''), description: String(node.description?.value ?? ''), invalid: String(invalid ?? 'false') };
  } finally { await cdp.detach(); }
}

async function cronPage(login: string, name: string) {
  const opened = await stack.signedInWithKey(browser, login, []);
  const render = createRenderClient({ baseUrl: stack.render.url, apiKey: opened.apiKey });
  const ownerId = (await render.listOwners())[0]!.id;
  const { service } = await render.createService({
    type: 'cron_job', name, ownerId, repo: `https://github.com/${login}/jobs`, branch: 'main', autoDeploy: 'yes',
    serviceDetails: { runtime: 'node', schedule: '*/5 * * * *', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'node job.js' } },
  });
  await opened.page.goto(`${stack.url}/#/services/${service!.id}`);
  await opened.page.getByTestId('schedule').waitFor();
  return opened;
}

const BAD = '0 25 * * *';

test('a cron job\'s schedule, by keyboard: labelled and described as the other settings fields; a refused one is invalid, described by its error, and focused', async (t) => {
  t.timeout(120_000);
  const { context, page, problems } = await cronPage('a11ysched', 'a11y-nightly');
  const before = await chromiumNode(page, '[data-testid=schedule]');
  t.is(before.name, 'Schedule (cron, UTC)');
  t.regex(before.description, /Five fields: minute hour/, 'the hint is the field\'s description');
  t.is(before.invalid, 'false');
  // As the page's other fields: the plan's select carries its hint the same way.
  t.regex((await chromiumNode(page, '[data-testid=plan]')).description, /restarts the service/);

  // Tab away from a schedule Render cannot run: the error is on the field (said when the user comes back to it).
  await page.getByTestId('schedule').fill(BAD);
  await page.keyboard.press('Tab');
  await page.locator('.field__error:not([hidden])').filter({ hasText: cronScheduleProblem(BAD)! }).waitFor();
  const left = await chromiumNode(page, '[data-testid=schedule]');
  t.not(left.invalid, 'false', 'aria-invalid is set');
  t.true(left.description.includes(cronScheduleProblem(BAD)!), `the error is in the description: "${left.description}"`);
  const errorId = await page.locator('.field__error:not([hidden])').getAttribute('id');
  t.true((await page.getByTestId('schedule').getAttribute('aria-describedby'))!.split(' ').includes(errorId!));

  // Save by keyboard: refused, focus taken to the field, which is read out with its error.
  await page.getByTestId('settings-save').focus();
  await page.keyboard.press('Enter');
  t.is(await focusedElement(page), 'schedule');
  t.true((await chromiumNode(page, '[data-testid=schedule]')).description.includes(cronScheduleProblem(BAD)!));

  // Corrected: no longer invalid, the error out of the description.
  await page.getByTestId('schedule').fill('0 3 * * *');
  const fixed = await chromiumNode(page, '[data-testid=schedule]');
  t.is(fixed.invalid, 'false');
  t.false(fixed.description.includes(cronScheduleProblem(BAD)!));
  t.deepEqual(problems, []);
  await context.close();
});

// A bad schedule typed, then Save clicked: the press's mousedown takes focus from the field, whose blur check
// shows the error above the button; the grid grows, the button moves down under the pointer, and the
// mouseup lands elsewhere: no click, no submit. The error is shown but nothing said it (it is no live region,
// and focus is left on Save, not taken to the field as a refused save does); the user must click again.
test('a cron job\'s schedule, by mouse: one click on Save with a bad schedule is a refused save (focus to the field), not a click lost to the error appearing', async (t) => {
  t.timeout(120_000);
  const { context, page, problems } = await cronPage('a11yschedclick', 'a11y-click');
  await page.evaluate(() => {
    const w = globalThis as any;
    w.submits = 0;
    w.document.querySelector('[data-testid=settings-form]').addEventListener('submit', () => { w.submits += 1; });
  });
  await page.getByTestId('schedule').fill(BAD);
  const saveBefore = await page.getByTestId('settings-save').boundingBox();
  await page.getByTestId('settings-save').click();
  await page.locator('.field__error:not([hidden])').filter({ hasText: cronScheduleProblem(BAD)! }).waitFor();
  const saveAfter = await page.getByTestId('settings-save').boundingBox();
  t.is(await page.evaluate(() => (globalThis as any).submits), 1, `the click on Save submitted nothing (the button moved from y=${saveBefore?.y} to y=${saveAfter?.y} as the error appeared)`);
  t.is(await focusedElement(page), 'schedule', 'focus taken to the refused field');
  t.deepEqual(problems, []);
  await context.close();
});

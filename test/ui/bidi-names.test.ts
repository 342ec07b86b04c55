import test, { type ExecutionContext } from 'ava';
import type { Browser, Locator } from 'playwright-core';
import { useBrowserStack } from './support/browserStack.js';
import { serviceMadeOutside, type UiStack } from './support/uiStack.js';

// A service name from Render with a right-to-left override (U+202E) in it: anyone who can rename a service in a shared
// workspace can set one. Put as is into "Delete <name> on Render? This cannot be undone.", the override ran on past
// the name and reversed the app's own words after it ("…?redneR no .enodnu eb tonnac sihT"), so a crafted name could
// make the question read as something else (found by a probe of hostile upstream data). The name is in a <bdi> now.
// Code inside page.evaluate runs in the browser; this stands in for the DOM type this (Node-only) project does not load.
declare const document: any;

let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

/**
 * The element's own words after the name (its last text node), as drawn: each character's left edge, in the order
 * written, line by line (the text may wrap), goes left to right.
 */
async function wordsAfterNameDrawnAsWritten(t: ExecutionContext, el: Locator): Promise<void> {
  const lines = await el.evaluate((node) => {
    const words = [...node.childNodes].filter((n) => n.nodeType === 3).at(-1)!; // its last text node
    const byLine = new Map<number, number[]>();
    for (let i = 0; i < (words.textContent ?? '').length; i++) {
      const range = document.createRange();
      range.setStart(words, i);
      range.setEnd(words, i + 1);
      const box = range.getBoundingClientRect();
      if (box.width > 0) byLine.set(Math.round(box.top), [...(byLine.get(Math.round(box.top)) ?? []), box.left]);
    }
    return [...byLine.values()];
  });
  t.true(lines.flat().length > 20);
  for (const xs of lines) t.true(xs.every((x, i) => i === 0 || x > xs[i - 1]!), `drawn left to right, as written: ${JSON.stringify(xs)}`);
}

test('a name with a right-to-left override does not turn the words of the delete question around', async (t) => {
  const { context, page, problems, apiKey } = await stack.signedInWithKey(browser, 'bidi', []);
  const { render, serviceId } = await serviceMadeOutside(stack, apiKey, { login: 'bidi', name: 'payments-api' });
  await render.updateService(serviceId, { name: 'payments-api\u202E' });
  await page.goto(`${stack.url}/#/`);
  const card = page.locator(`[data-testid=service-card][data-service-id=${serviceId}]`);
  await card.getByTestId('service-delete').click();
  const question = card.locator('.confirm__question');
  await question.waitFor();
  await wordsAfterNameDrawnAsWritten(t, question);
  t.regex(await question.innerText(), /on Render\? This cannot be undone\.$/);
  await card.getByTestId('service-delete-keep').click();
  t.deepEqual(problems, []);
  await context.close();
});

// The same name on the service's page once it is gone from Render: "<name> no longer exists on Render, …" was one
// string, and the override in the name reversed the words after it.
test('a name with a right-to-left override does not turn the words of the service page\'s "Service deleted" notice around', async (t) => {
  const { context, page, problems, apiKey } = await stack.signedInWithKey(browser, 'bidigone', []);
  const { render, serviceId } = await serviceMadeOutside(stack, apiKey, { login: 'bidigone', name: 'ledger-api' });
  await render.updateService(serviceId, { name: 'ledger-api\u202E' });
  await page.goto(`${stack.url}/#/services/${serviceId}`);
  await page.getByTestId('service-lifecycle').getByTestId('service-suspend').waitFor();
  await render.deleteService(serviceId);
  // A click on Suspend meets the deletion, unless one of the page's own reads met it first (the button gone).
  await page.getByTestId('service-lifecycle').getByTestId('service-suspend').click({ timeout: 10_000 }).catch(() => undefined);
  const said = page.getByTestId('service-deleted');
  await said.waitFor({ timeout: 15_000 });
  await wordsAfterNameDrawnAsWritten(t, said);
  t.regex(await said.innerText(), /no longer exists on Render, so its settings cannot be changed\.$/);
  t.deepEqual(problems.filter((p) => !/404/.test(p)), []);
  await context.close();
});

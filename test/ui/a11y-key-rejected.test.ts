import anyTest from 'ava';
import type { Browser, Page } from 'playwright-core';
import type { UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { focusedElement, listenToAnnouncer } from './support/browser.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

// Accessibility of the "Render rejected your API key" state (header badge, dashboard notice, Settings'
// status): what a screen-reader or keyboard user meets when Render's refusal of the key is noted.
let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

/** Chromium's own accessible name of the element `selector` finds (its accessibility tree, over CDP). */
async function chromiumName(page: Page, selector: string): Promise<string> {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { root } = await cdp.send('DOM.getDocument', { depth: 0 });
    const { nodeId } = await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector });
    const { nodes } = await cdp.send('Accessibility.getPartialAXTree', { nodeId, fetchRelatives: false });
    return String(nodes[0]?.name?.value ?? '');
  } finally { await cdp.detach(); }
}

/** Render refuses `apiKey` from now on, and a call of `page`'s (the dashboard's services) meets it: the header's badge shows. */
async function rejectThroughDashboard(page: Page, apiKey: string): Promise<void> {
  stack.render.revokeKey(apiKey);
  await page.locator('#nav [data-nav=dashboard]').click();
  await page.getByTestId('key-rejected-badge').waitFor({ timeout: 15_000 });
}

/** From now on, the texts of role=alert elements `page` shows (what a screen reader reads out as they appear) are kept in window.alerts. */
const listenToAlerts = (page: Page) => page.evaluate(() => {
  const w = globalThis as any;
  w.alerts = [];
  new w.MutationObserver((records: any[]) => {
    for (const r of records) for (const n of r.addedNodes) {
      if (n.nodeType !== 1) continue;
      for (const a of [n, ...n.querySelectorAll('[role=alert]')]) if (a.getAttribute('role') === 'alert') w.alerts.push(a.textContent);
    }
  }).observe(w.document.body, { childList: true, subtree: true });
});
const heardOf = (page: Page, pattern: RegExp) => page.evaluate((source) => [...(globalThis as any).said, ...(globalThis as any).alerts].filter((s: string) => new RegExp(source).test(s)) as string[], pattern.source);

test('the header\'s "!" badge: its meaning is in the Settings link\'s accessible name, as Chromium computes it', async (t) => {
  const { context, page, apiKey } = await stack.signedInWithKey(browser, 'a11ybadge', []);
  t.is(await chromiumName(page, '#nav [data-nav=settings]'), 'Settings', 'no badge: the link is "Settings"');
  await rejectThroughDashboard(page, apiKey);
  const name = await chromiumName(page, '#nav [data-nav=settings]');
  // The badge is a <span> (a generic: aria-label is prohibited on it) whose text is "!": the link is read
  // "Settings !" and the state is heard by nobody who cannot see the red pill.
  t.regex(name, /Render rejected your API key/, `the Settings link is read as "${name}"`);
  await context.close();
});

test('Settings open in another tab, focus on its key controls: Render\'s refusal noted elsewhere redraws the status, focus stays, and the change is said once', async (t) => {
  const { context, page, apiKey } = await stack.signedInWithKey(browser, 'a11yrejtab', []);
  const other = await context.newPage();
  await other.goto(`${stack.url}/#/settings`);
  await other.locator('[data-testid=key-status][data-state=connected]').waitFor();
  await other.getByTestId('replace-key').focus();
  await listenToAnnouncer(other);
  await listenToAlerts(other);

  await rejectThroughDashboard(page, apiKey);
  await other.locator('[data-testid=key-status][data-state=rejected]').waitFor({ timeout: 15_000 });
  await other.waitForTimeout(300);
  const focus = await focusedElement(other);
  t.not(focus, 'BODY', 'the Replace key button went with the redraw and focus fell to <body>');
  t.is(focus, 'replace-key', 'focus on the control that took its place ("Connect a new key")');
  t.is((await heardOf(other, /Render rejected/)).length, 1, 'the new status is said once');
  await context.close();
});

test('the dashboard open in another tab, focus on one of its controls: the refusal\'s notice appears, said once, and focus stays where the user is', async (t) => {
  const { context, page, apiKey } = await stack.signedInWithKey(browser, 'a11yrejdash', []);
  const other = await context.newPage();
  await other.goto(`${stack.url}/#/`);
  await other.getByTestId('new-deploy').waitFor();
  await other.getByText(/No services on your Render account yet|Could not load/).waitFor();
  await other.getByTestId('new-deploy').focus();
  await listenToAnnouncer(other);
  await listenToAlerts(other);

  // Refused on the deploy form's workspaces refresh (the dashboard's services read would meet the server's cache of the other tab's).
  stack.render.revokeKey(apiKey);
  await page.goto(`${stack.url}/#/deploy`);
  await page.getByTestId('key-rejected-badge').waitFor({ timeout: 15_000 });
  await other.getByTestId('key-rejected').waitFor({ timeout: 15_000 });
  await other.waitForTimeout(300);
  t.is(await focusedElement(other), 'new-deploy', 'the whole page was drawn again and focus moved to its heading: the user lost their place');
  t.is((await heardOf(other, /Render rejected/)).length, 1, 'the notice is said once');
  await context.close();
});

test('the deploy form open in another tab, a name typed: the refusal\'s notice appears, said once; focus and what was typed stay', async (t) => {
  const { context, page, apiKey } = await stack.signedInWithKey(browser, 'a11yrejform', []);
  const other = await context.newPage();
  await other.goto(`${stack.url}/#/deploy`);
  const name = other.getByTestId('service-name');
  await name.fill('kept-name');
  await name.focus();
  await listenToAnnouncer(other);
  await listenToAlerts(other);

  await rejectThroughDashboard(page, apiKey);
  await other.getByTestId('key-rejected').waitFor({ timeout: 15_000 });
  await other.waitForTimeout(300);
  t.is(await focusedElement(other), 'service-name');
  t.is(await name.inputValue(), 'kept-name');
  t.is((await heardOf(other, /Render rejected/)).length, 1, 'the notice is said once');
  await context.close();
});

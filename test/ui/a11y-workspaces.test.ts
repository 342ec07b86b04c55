import anyTest from 'ava';
import type { Browser, Page } from 'playwright-core';
import { connectKey, type UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { focusedElement, listenToAnnouncer, newContext } from './support/browser.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

// Accessibility of the workspaces refresh: Settings' list redrawn in place, another tab's deploy form
// following it. Focus stays where the user is, and a note that asks something of the user ("pick one of those
// below") is heard once. The note is a new role=status element put in a <div> that is no live region: a live
// region that appears with its text is not read out reliably (only changes in one already there are), so the
// page's announcer says it, as it says the results of the user's own actions.
let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

async function waitForOptions(page: Page, names: string[]) {
  await page.waitForFunction((want) => {
    const sel = (globalThis as any).document.querySelector('[data-testid=workspace-select]');
    return sel && JSON.stringify([...sel.querySelectorAll('option')].map((o: { textContent: string }) => o.textContent)) === JSON.stringify(want);
  }, names, { timeout: 10_000 });
}

/** Tab `page`'s Settings asks Render again (it does as it opens). */
async function refreshFrom(page: Page) {
  await page.locator('#nav [data-nav=dashboard]').click();
  await page.locator('#nav [data-nav=settings]').click();
}

test('the workspace picked in another tab\'s deploy form is gone: focus stays on the select, and "no longer one your key can use" is said once', async (t) => {
  const apiKey = `rnd_a11ywstabs${'K'.repeat(22)}`;
  const account = stack.render.addAccount({ apiKey, workspaces: [{ name: 'a11y personal' }, { name: 'a11y team' }] });
  const [personal, team] = account.workspaces.map((w) => w.id) as [string, string];
  const { context, page, problems } = await newContext(browser);
  await stack.signInBrowser(page, 'a11ywstabs');
  await connectKey(page, apiKey);
  const tabB = await context.newPage();
  await tabB.goto(`${stack.url}/#/deploy`);
  await waitForOptions(tabB, ['a11y personal', 'a11y team']);
  const select = tabB.getByTestId('workspace-select');
  await select.selectOption(team);
  await select.focus();
  await listenToAnnouncer(tabB);

  stack.render.setWorkspaces(account.id, [personal]);
  await refreshFrom(page);
  await waitForOptions(tabB, ['a11y personal']);
  await tabB.getByTestId('key-changed').getByText(/no longer one your Render key can use/).waitFor();
  await tabB.waitForTimeout(300);
  t.is(await focusedElement(tabB), 'workspace-select', 'focus stays on the select whose options changed');
  const said = (await tabB.evaluate(() => (globalThis as any).said as string[])).filter((s) => /no longer one your Render key can use/.test(s));
  t.is(said.length, 1, 'the note asking for another workspace is said once (it appeared as a role=status element with its text, not read out reliably)');
  t.deepEqual(problems, []);
  await context.close();
});

test('Settings open in another tab, focus on Replace key: the list redrawn in place leaves focus there and says nothing', async (t) => {
  const apiKey = `rnd_a11ywslist${'K'.repeat(22)}`;
  const account = stack.render.addAccount({ apiKey, workspaces: [{ name: 'list personal' }, { name: 'list team' }] });
  const [personal] = account.workspaces.map((w) => w.id) as [string, string];
  const { context, page, problems } = await newContext(browser);
  await stack.signInBrowser(page, 'a11ywslist');
  await connectKey(page, apiKey);
  const tabB = await context.newPage();
  await tabB.goto(`${stack.url}/#/settings`);
  await tabB.getByTestId('key-owners').locator('li bdi', { hasText: 'list team' }).waitFor();
  await tabB.getByTestId('replace-key').focus();
  await listenToAnnouncer(tabB);

  stack.render.setWorkspaces(account.id, [personal], { [personal]: 'list personal (renamed)' });
  await refreshFrom(page);
  await tabB.getByTestId('key-owners').locator('li bdi', { hasText: 'list personal (renamed)' }).waitFor({ timeout: 10_000 });
  t.is(await tabB.getByTestId('key-owners').locator('li').count(), 1);
  t.is(await focusedElement(tabB), 'replace-key');
  t.deepEqual(await tabB.evaluate(() => (globalThis as any).said as string[]), [], 'a list that follows Render as the page opens is not news');
  t.deepEqual(problems, []);
  await context.close();
});

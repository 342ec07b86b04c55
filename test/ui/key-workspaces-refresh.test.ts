import anyTest from 'ava';
import type { Browser } from 'playwright-core';
import { connectKey, type UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { newContext } from './support/browser.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

// The workspaces a session offers were Render's answer when the key was connected: a team joined on Render
// later was not offered, one left still was (a deploy there failed with Render's "invalid ownerId"), a renamed
// one kept its old name, until the key was pasted again. Settings and the deploy form now ask Render again as
// they open (POST /api/render/workspaces/refresh).
let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

const options = (page: import('playwright-core').Page) => page.getByTestId('workspace-select').locator('option').allInnerTexts();

test('joined, left and renamed on Render: Settings and the deploy form show Render\'s workspaces as they open, no key pasted again', async (t) => {
  const apiKey = `rnd_uiwsrefresh${'K'.repeat(22)}`;
  const account = stack.render.addAccount({ apiKey, workspaces: [{ name: 'uiws personal' }, { name: 'uiws old team' }] });
  const [personal, oldTeam] = account.workspaces.map((w) => w.id) as [string, string];
  const newTeam = stack.render.addAccount({ apiKey: `rnd_uiwsrefreshother${'K'.repeat(17)}`, workspaces: [{ name: 'uiws new team' }] }).workspaces[0]!.id;
  const { context, page, problems } = await newContext(browser);
  await stack.signInBrowser(page, 'uiwsrefresh');
  stack.addNodeRepo('uiwsrefresh', 'app');
  await connectKey(page, apiKey);
  t.deepEqual(await page.getByTestId('key-owners').locator('li bdi').allInnerTexts(), ['uiws personal', 'uiws old team']);

  stack.render.setWorkspaces(account.id, [personal, newTeam], { [personal]: 'uiws personal (renamed)' });
  // The deploy form offers Render's list, without the team left.
  await page.getByRole('link', { name: 'New deploy' }).first().click();
  await page.getByTestId('workspace-select').waitFor();
  await t.notThrowsAsync(waitForOptions(page, ['uiws personal (renamed)', 'uiws new team']));
  t.false((await page.getByTestId('workspace-select').locator('option').evaluateAll((els) => els.map((e) => e.getAttribute('value')))).includes(oldTeam));
  t.is(await page.getByTestId('key-changed').innerText(), '', 'no note: nothing the user picked changed');

  // Settings lists the same.
  await page.locator('#nav [data-nav=settings]').click();
  await page.getByTestId('key-owners').locator('li bdi', { hasText: 'uiws new team' }).waitFor();
  t.deepEqual(await page.getByTestId('key-owners').locator('li bdi').allInnerTexts(), ['uiws personal (renamed)', 'uiws new team']);
  t.regex(await page.getByTestId('key-owners-note').innerText(), /As Render lists them/);

  // A deploy to the team joined goes out.
  await page.getByRole('link', { name: 'New deploy' }).first().click();
  await waitForOptions(page, ['uiws personal (renamed)', 'uiws new team']);
  await page.getByTestId('workspace-select').selectOption(newTeam);
  await page.getByTestId('repo-search').fill('app');
  await page.locator('[data-testid=repo-option][data-repo="uiwsrefresh/app"]').click();
  await page.getByTestId('detected-stack-name').waitFor();
  await page.getByTestId('deploy-submit').click();
  await page.waitForURL(/#\/deployments\//);
  t.deepEqual(problems, []);
  await context.close();
});

// A refresh in one tab told the others nothing; a later session check there (any tab's boot) found the
// session's key status changed and the deploy form said "Your Render key was replaced in another tab",
// forgetting the Idempotency-Key of a deploy whose answer was lost.
test('a refresh in one tab: another tab\'s open deploy form follows the list as the same key\'s, and says so only when the workspace picked there is gone', async (t) => {
  const apiKey = `rnd_uiwstabs${'K'.repeat(24)}`;
  const account = stack.render.addAccount({ apiKey, workspaces: [{ name: 'tabs personal' }, { name: 'tabs team' }] });
  const [personal, team] = account.workspaces.map((w) => w.id) as [string, string];
  const { context, page, problems } = await newContext(browser);
  await stack.signInBrowser(page, 'uiwstabs');
  await connectKey(page, apiKey);
  const tabB = await context.newPage();
  await tabB.goto(`${stack.url}/#/deploy`);
  await waitForOptions(tabB, ['tabs personal', 'tabs team']);
  await tabB.getByTestId('workspace-select').selectOption(team);

  // Renamed on Render; tab A's Settings asks Render again: tab B's form follows, its pick kept, nothing said.
  stack.render.setWorkspaces(account.id, [personal, team], { [team]: 'tabs team (renamed)' });
  await page.locator('#nav [data-nav=dashboard]').click();
  await page.locator('#nav [data-nav=settings]').click();
  await waitForOptions(tabB, ['tabs personal', 'tabs team (renamed)']);
  t.is(await tabB.getByTestId('workspace-select').inputValue(), team);
  t.is(await tabB.getByTestId('key-changed').innerText(), '', 'the same key\'s list, said to be another key\'s');

  // Removed from the team picked in tab B: that tab says so.
  stack.render.setWorkspaces(account.id, [personal]);
  await page.locator('#nav [data-nav=dashboard]').click();
  await page.locator('#nav [data-nav=settings]').click();
  await waitForOptions(tabB, ['tabs personal']);
  t.regex(await tabB.getByTestId('key-changed').innerText(), /The workspace picked here is no longer one your Render key can use/);
  t.deepEqual(problems, []);
  await context.close();
});

async function waitForOptions(page: import('playwright-core').Page, names: string[]) {
  await page.waitForFunction((want) => {
    const sel = (globalThis as any).document.querySelector('[data-testid=workspace-select]');
    return sel && JSON.stringify([...sel.querySelectorAll('option')].map((o: { textContent: string }) => o.textContent)) === JSON.stringify(want);
  }, names, { timeout: 10_000 });
  return options(page);
}

import anyTest, { type ExecutionContext } from 'ava';
import type { Browser, Locator, Page } from 'playwright-core';
import { useBrowserStack } from './support/browserStack.js';
import { serviceMadeOutside, type UiStack } from './support/uiStack.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

// The service settings page open in two tabs: what one tab removes, the other then removes too (or
// finds gone). The second removal finds nothing on Render: its tab shows the item gone, not an error
// beside a row that stays whatever is clicked.

let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

test('an env var, a secret file and a domain removed in one tab, then in the other: the other tab drops the row and says it was already gone', async (t) => {
  t.timeout(120_000);
  const { context, page: first, apiKey } = await stack.signedInWithKey(browser, 'tabsremove', []);
  const { render, serviceId: id } = await serviceMadeOutside(stack, apiKey, { login: 'tabsremove', name: 'tabs-remove' });
  await render.putEnvVar(id, 'OLD_TOKEN', 'old-token-value');
  await render.putSecretFile(id, 'old.pem', 'old-file-content');
  await render.addCustomDomain(id, 'old.tabs-remove.example.com');

  const second = await context.newPage();
  // A tab that has not heard of the removal: its event stream cut (with it, it would drop the row at once:
  // the test below), and its timers held, so it does not poll either. A polling tab reads the domains
  // again every 15 s, and CI failed twice when that read came between the two removals: the row was gone
  // (or redrawn) before the second tab's click, which is what the other test shows.
  await second.route('**/api/events', (route) => route.fulfill({ status: 503, contentType: 'application/json', body: '{"error":{"code":"events_unavailable","message":"no"}}' }));
  await second.clock.install();
  await second.clock.pauseAt(Date.now() + 1_000);
  const rows = (page: Page) => ({
    env: page.locator('[data-testid=env-list] li[data-key=OLD_TOKEN]'),
    file: page.locator('[data-testid=file-list] li[data-key="old.pem"]'),
    domain: page.locator('[data-testid=domain-row][data-domain="old.tabs-remove.example.com"]'),
  });
  for (const page of [first, second]) {
    await page.goto(`${stack.url}/#/services/${id}`);
    for (const row of Object.values(rows(page))) await row.waitFor();
  }

  const removeIn = async (page: Page, which: 'env' | 'file' | 'domain') => {
    const row = rows(page)[which];
    const testId = which === 'domain' ? 'domain-remove' : 'kv-delete';
    await row.getByTestId(testId).click();
    await row.getByTestId(`${testId}-confirm`).click();
    await row.waitFor({ state: 'detached' });
  };
  for (const which of ['env', 'file', 'domain'] as const) {
    await removeIn(first, which);
    await removeIn(second, which);
  }
  const section = async (testId: string) => second.getByTestId(testId).innerText();
  t.regex(await section('env-section'), /OLD_TOKEN was already removed/);
  t.regex(await section('file-section'), /old\.pem was already removed/);
  t.regex(await section('domains-section'), /old\.tabs-remove\.example\.com was already removed/);
  for (const testId of ['env-section', 'file-section', 'domains-section']) t.notRegex(await section(testId), /not found/i);
  t.deepEqual(await render.listEnvVars(id), []);
  await context.close();
});

test('an env var, a secret file and a domain removed or added in one tab: the other tab’s lists follow without a reload, its focus kept', async (t) => {
  t.timeout(120_000);
  const { context, page: first, apiKey } = await stack.signedInWithKey(browser, 'tabsfollow', []);
  const { render, serviceId: id } = await serviceMadeOutside(stack, apiKey, { login: 'tabsfollow', name: 'tabs-follow' });
  await render.putEnvVar(id, 'OLD_TOKEN', 'old-token-value');
  await render.putSecretFile(id, 'old.pem', 'old-file-content');
  await render.addCustomDomain(id, 'old.tabs-follow.example.com');

  const second = await context.newPage();
  const rows = (page: Page) => ({
    env: page.locator('[data-testid=env-list] li[data-key=OLD_TOKEN]'),
    file: page.locator('[data-testid=file-list] li[data-key="old.pem"]'),
    domain: page.locator('[data-testid=domain-row][data-domain="old.tabs-follow.example.com"]'),
  });
  for (const page of [first, second]) {
    await page.goto(`${stack.url}/#/services/${id}`);
    for (const row of Object.values(rows(page))) await row.waitFor();
  }
  // The other tab's focus is in its own form; a change heard there must not take it.
  await second.getByTestId('domain-name').fill('typed.example.com');

  for (const which of ['env', 'file', 'domain'] as const) {
    const row = rows(first)[which];
    const testId = which === 'domain' ? 'domain-remove' : 'kv-delete';
    await row.getByTestId(testId).click();
    await row.getByTestId(`${testId}-confirm`).click();
    await row.waitFor({ state: 'detached' });
    await rows(second)[which].waitFor({ state: 'detached', timeout: 15_000 });
  }
  await first.getByTestId('env-key').fill('NEW_FLAG');
  await first.getByTestId('env-value').fill('new-flag-value');
  await first.getByTestId('env-save').click();
  await second.locator('[data-testid=env-list] li[data-key=NEW_FLAG]').waitFor({ timeout: 15_000 });
  t.false((await second.getByTestId('env-section').innerText()).includes('new-flag-value'), 'names only: the value stays hidden');
  t.is(await second.evaluate(() => (globalThis as unknown as { document: { activeElement: { getAttribute(n: string): string | null } | null } }).document.activeElement?.getAttribute('data-testid')), 'domain-name');
  t.is(await second.getByTestId('domain-name').inputValue(), 'typed.example.com');
  await context.close();
});

/**
 * Two items added in the first tab; the second tab's re-read after the first is answered by the server
 * and that answer held back until the re-read after the second has been drawn (two requests on two
 * connections can answer in either order). Both rows must stay.
 */
async function racedRereads(t: ExecutionContext, login: string, list: 'env-vars' | 'custom-domains', names: [string, string], rowOf: (page: Page, name: string) => Locator) {
  const { context, page: first, apiKey } = await stack.signedInWithKey(browser, login, []);
  const { serviceId: id } = await serviceMadeOutside(stack, apiKey, { login, name: login });
  const second = await context.newPage();
  for (const page of [first, second]) {
    await page.goto(`${stack.url}/#/services/${id}`);
    await page.getByTestId(list === 'env-vars' ? 'env-section' : 'domains-section').getByText(list === 'env-vars' ? 'No variables set on this service.' : 'No custom domains yet.').waitFor();
  }
  const path = `/api/render/services/${id}/${list}`;
  let releaseFirst!: () => Promise<void>;
  const firstHeld = new Promise<void>((resolve) => {
    let seen = 0;
    void second.route((url) => url.pathname === path, async (route) => {
      if (route.request().method() !== 'GET' || ++seen > 1) { await route.continue(); return; }
      const response = await route.fetch();
      releaseFirst = () => route.fulfill({ response });
      resolve();
    });
  });
  const add = (name: string) => first.evaluate(async ([url, item, isEnv]) => {
    const session = (await (await fetch('/api/session')).json()) as { csrfToken: string };
    const headers = { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken };
    const res = isEnv
      ? await fetch(`${url}/${item}`, { method: 'PUT', headers, body: JSON.stringify({ value: `${item}-value-1234` }) })
      : await fetch(url, { method: 'POST', headers, body: JSON.stringify({ name: item }) });
    return res.status;
  }, [path, name, list === 'env-vars'] as const);
  t.true([200, 201].includes(await add(names[0])));
  await firstHeld;
  t.true([200, 201].includes(await add(names[1])));
  await rowOf(second, names[1]).waitFor();
  const answered = second.waitForResponse((res) => new URL(res.url()).pathname === path);
  await releaseFirst();
  await answered;
  // The held answer has been handled once the page has run a few rounds of tasks after it (reading
  // its body and drawing take a few; on main it was drawn by then, and the second row went).
  await second.evaluate(async () => { for (let i = 0; i < 10; i++) await new Promise((resolve) => setTimeout(resolve, 0)); });
  t.is(await rowOf(second, names[1]).count(), 1, 'the later change is still listed');
  t.is(await rowOf(second, names[0]).count(), 1);
  await context.close();
}

test('two env vars added in one tab: the other tab lists both, though the answer to its first re-read comes last', async (t) => {
  t.timeout(120_000);
  await racedRereads(t, 'tabsorder', 'env-vars', ['FIRST_VAR', 'SECOND_VAR'], (page, key) => page.locator(`[data-testid=env-list] li[data-key=${key}]`));
});

test('two custom domains added in one tab: the other tab lists both, though the answer to its first re-read comes last', async (t) => {
  t.timeout(120_000);
  await racedRereads(t, 'tabsorderdomains', 'custom-domains', ['one.tabs-order.example.com', 'two.tabs-order.example.com'],
    (page, name) => page.locator(`[data-testid=domain-row][data-domain="${name}"]`));
});

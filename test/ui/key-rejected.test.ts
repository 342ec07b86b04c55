import anyTest from 'ava';
import type { Browser } from 'playwright-core';
import type { UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { takingTurns } from './support/turns.js';
import { createRenderClient } from '../../server/render/client.js';

const test = takingTurns(anyTest);

// A key revoked on Render's side: once a page's call meets Render's refusal, the pages that show the key's
// state say so (the dashboard, the header's Settings badge, Settings, the deploy form), in this tab and the
// browser's others, and after a reload. Before, Settings said "Connected … verified" until the key was replaced.
let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

test('a key Render revoked: the page says "Render rejected this key (revoked?) — connect a new key" once a call met the refusal; a new key clears it', async (t) => {
  const { context, page, apiKey, problems } = await stack.signedInWithKey(browser, 'uikeyrej', []);
  t.is(await page.getByTestId('key-status').getAttribute('data-state'), 'connected');
  const other = await context.newPage();
  await other.goto(`${stack.url}/#/settings`);
  await other.getByTestId('key-status').and(other.locator('[data-state=connected]')).waitFor();
  t.true(await page.getByTestId('key-rejected-badge').isHidden());

  stack.render.revokeKey(apiKey);
  // The dashboard reads the services with the key: Render refuses it, and the page says so without a reload.
  await page.locator('#nav [data-nav=dashboard]').click();
  const notice = page.getByTestId('key-rejected');
  await notice.waitFor({ timeout: 15_000 });
  t.regex(await notice.innerText(), /Render rejected your API key \(revoked\?\) — connect a new key/);
  await page.getByTestId('key-rejected-badge').waitFor();

  // Settings says so, here and in the other tab (no call of its own there), and after a reload.
  await page.locator('#nav [data-nav=settings]').click();
  const status = page.locator('[data-testid=key-status][data-state=rejected]');
  await status.waitFor();
  t.regex(await status.innerText(), /Render rejected this key \(revoked\?\) — connect a new key/);
  t.regex(await status.innerText(), new RegExp(`rnd_\\.\\.\\.${apiKey.slice(-4)}`));
  t.false((await status.innerText()).includes('verified'));
  await other.locator('[data-testid=key-status][data-state=rejected]').waitFor({ timeout: 15_000 });
  await page.reload();
  await page.locator('[data-testid=key-status][data-state=rejected]').waitFor();
  t.true(await page.getByTestId('key-rejected-badge').isVisible());

  // The deploy form says a deploy cannot start with it.
  await page.getByRole('link', { name: 'New deploy' }).first().click();
  await page.getByTestId('key-rejected').waitFor();
  t.regex(await page.getByTestId('key-rejected').innerText(), /Render rejected your API key \(revoked\?\)/);

  // A new key: connected and verified again, the badge gone.
  await page.locator('#nav [data-nav=settings]').click();
  await page.getByRole('button', { name: 'Connect a new key' }).click();
  const fresh = stack.renderAccount('uikeyrejnew');
  await page.getByTestId('render-key-input').fill(fresh);
  await page.getByTestId('render-key-submit').click();
  await page.locator('[data-testid=key-status][data-state=connected]').waitFor();
  t.regex(await page.getByTestId('key-status').innerText(), /Connected: rnd_\.\.\..{4} · verified \S/);
  t.true(await page.getByTestId('key-rejected-badge').isHidden());
  t.false((await page.content()).includes(apiKey), 'the key never comes back to the page');
  t.deepEqual(problems.filter((p) => !/render_key_invalid|status of 400/.test(p)), []);
  await context.close();
});

// The service settings page had no way to follow the key's state: Render's refusal, met by its own save, had
// the whole page drawn again (the save's error gone, focus on the heading) and said nothing of the key.
test('a service\'s settings page when a save meets Render\'s refusal of the key: the save\'s error and what was typed stay, and the page says to connect a new key', async (t) => {
  const { context, page, apiKey, problems } = await stack.signedInWithKey(browser, 'uikeyrejsvc', []);
  const render = createRenderClient({ baseUrl: stack.render.url, apiKey });
  const ownerId = (await render.listOwners())[0]!.id;
  const { service } = await render.createService({
    type: 'web_service', name: 'refused-web', ownerId, repo: 'https://github.com/uikeyrejsvc/app', branch: 'main', autoDeploy: 'yes',
    serviceDetails: { runtime: 'node', plan: 'starter', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'node index.js' } },
  });
  await page.goto(`${stack.url}/#/services/${service!.id}`);
  await page.getByRole('heading', { level: 1, name: 'refused-web' }).waitFor();
  const health = page.getByTestId('health-check');
  await health.fill('/healthz');
  stack.render.revokeKey(apiKey);
  await page.getByTestId('settings-save').click();
  await page.getByTestId('key-rejected').waitFor({ timeout: 15_000 });
  t.regex(await page.getByTestId('key-rejected').innerText(), /Render rejected your API key \(revoked\?\) — connect a new key/);
  t.regex(await page.getByTestId('settings-flash').innerText(), /Render rejected/, 'the save\'s own error is still shown');
  t.is(await health.inputValue(), '/healthz', 'what was typed stays');
  t.deepEqual(problems.filter((p) => !/render_key_invalid|status of 400/.test(p)), []);
  await context.close();
});

import anyTest from 'ava';
import type { Browser } from 'playwright-core';
import { newContext } from './support/browser.js';
import { connectKey, serviceMadeOutside, type UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

// Runs in the browser (page.evaluate); this Node-only project does not load the DOM types.
declare const getComputedStyle: (el: unknown) => { getPropertyValue(name: string): string };

// A multi-line env var value (a PEM key, a JSON document pretty-printed) pasted into a Value field, on the
// settings page and in the deploy form. The fields were <input type=password>, whose value the HTML
// standard's sanitization strips of line breaks: the value saved on Render was not the one pasted, and
// nothing said so. They are masked textareas now (web/assets/secret-value.js).

let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

test('a multi-line env var value pasted on the settings page reaches Render with its line breaks; the field is masked until shown, Enter saves', async (t) => {
  t.timeout(120_000);
  const apiKey = 'rnd_multilinevalue' + 'x'.repeat(20);
  stack.render.addAccount({ apiKey, workspaces: [{ name: 'ML workspace' }] });
  const { render, serviceId } = await serviceMadeOutside(stack, apiKey, { login: 'ml-user', name: 'ml-api' });
  const { page } = await newContext(browser);
  await stack.signInBrowser(page, 'ml-user', { id: 727_272, name: 'ML User' });
  await connectKey(page, apiKey);
  await page.goto(`${stack.url}/#/services/${serviceId}`);
  await page.getByTestId('env-key').waitFor();
  const pem = '-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEA\nq7BFUAWYR2p1\n-----END PRIVATE KEY-----';
  await page.getByTestId('env-key').fill('PRIVATE_KEY');
  // What a paste does: the text inserted into the focused field.
  const value = page.getByTestId('env-value');
  await value.focus();
  await page.keyboard.insertText(pem);
  const masking = () => value.evaluate((el) => getComputedStyle(el).getPropertyValue('-webkit-text-security'));
  t.is(await masking(), 'disc', 'masked while typed');
  await page.getByRole('button', { name: 'Show value', exact: true }).click();
  t.is(await masking(), 'none', 'shown when asked');
  t.is(await value.inputValue(), pem);
  await page.getByRole('button', { name: 'Show value', exact: true }).click();
  t.is(await masking(), 'disc');
  // Enter saves, as in the one-line field it replaced; it does not add a line break to the value.
  await value.press('Enter');
  await page.locator('[data-testid=env-list] li[data-key=PRIVATE_KEY]').waitFor();
  const stored = (await render.getEnvVar(serviceId, 'PRIVATE_KEY')).value;
  t.is(stored, pem, 'the value on Render is the one pasted');
});

test('a multi-line env var value in the deploy form is sent as pasted', async (t) => {
  t.timeout(120_000);
  const { page } = await newContext(browser);
  const apiKey = stack.renderAccount('ml-deployer');
  stack.addNodeRepo('ml-deployer', 'shop');
  await stack.signInBrowser(page, 'ml-deployer');
  await connectKey(page, apiKey);
  await page.getByRole('link', { name: 'New deploy' }).first().click();
  await page.locator('[data-testid=repo-option][data-repo="ml-deployer/shop"]').click();
  await page.getByTestId('detected-stack-name').waitFor();
  await page.getByTestId('env-add').click();
  await page.getByTestId('env-name').fill('CONFIG_JSON');
  const json = '{\n  "feature": true,\n  "limit": 10\n}';
  await page.getByTestId('env-value').focus();
  await page.keyboard.insertText(json);
  t.is(await page.getByTestId('env-value').evaluate((el) => getComputedStyle(el).getPropertyValue('-webkit-text-security')), 'disc', 'masked');
  const sent: Array<{ env_vars?: Array<{ key: string; value: string }> }> = [];
  page.on('request', (r) => { if (r.url().endsWith('/api/render/deploy')) sent.push(r.postDataJSON()); });
  await page.getByTestId('deploy-submit').click();
  await page.waitForURL(/#\/deployments\/.+$/);
  t.is(sent.length, 1);
  t.deepEqual(sent[0]!.env_vars, [{ key: 'CONFIG_JSON', value: json }], 'the value with its line breaks');
});

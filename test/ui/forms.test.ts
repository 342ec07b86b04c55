import anyTest, { type ExecutionContext } from 'ava';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { DESKTOP, PHONE, answerRead, holdAnswers, horizontalOverflow, newContext, screenshot } from './support/browser.js';
import { connectKey, deployThroughForm, waitForDetectedStack, type UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

// Code inside page.evaluate runs in the browser; these stand in for the DOM types this (Node-only) project does not load.
declare const document: any;
declare const location: any;

// Forms a person can use (issue 12 part 5): key errors, a too-large env value, where timeline notes
// sit, and choosing a repository with the keyboard.
let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

/** The new-deploy form with `owner/name` picked and its stack detected. */
async function openDeployForm(page: Page, owner: string, name: string): Promise<void> {
  await page.getByRole('link', { name: 'New deploy' }).first().click();
  await page.getByTestId('repo-search').fill(name);
  await page.locator(`[data-testid=repo-option][data-repo="${owner}/${name}"]`).click();
  await waitForDetectedStack(page);
}

async function bothSizes(t: { true(v: boolean, m?: string): void }, page: Page, name: string) {
  for (const [label, size] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
    await page.setViewportSize(size);
    const o = await horizontalOverflow(page);
    t.true(o.scrollWidth <= o.innerWidth, `${name} @ ${label}: ${o.culprits.join(', ')}`);
    await screenshot(page, `${name}-${label}`);
  }
  await page.setViewportSize(DESKTOP);
}

const occurrences = (text: string, part: string) => text.split(part).length - 1;

test('key errors: one sentence about what was pasted, shown once, no field names, and the key stays in the field', async (t) => {
  const { context, page, problems } = await newContext(browser);
  await stack.signInBrowser(page, 'keyerrors');
  await page.goto(`${stack.url}/#/settings`);
  const input = page.getByTestId('render-key-input');
  const error = page.locator('.field__error:not([hidden])');

  // Starts with rnd_ but is cut short: not told that keys start with rnd_.
  await input.fill('rnd_short');
  await page.getByTestId('render-key-submit').click();
  await error.waitFor();
  let body = await page.locator('main, body').first().innerText();
  const shortMessage = await error.innerText();
  t.regex(shortMessage, /incomplete/);
  t.notRegex(body, /start with rnd_|api_key/);
  t.is(occurrences(body, shortMessage), 1, 'the message appears once');
  t.is(await input.inputValue(), 'rnd_short', 'the key stays to be corrected');
  t.is(await input.getAttribute('aria-invalid'), 'true');
  await bothSizes(t, page, 'settings-key-error');

  // Something else entirely: told what Render keys look like.
  await input.fill('sk_live_0123456789abcdef');
  await page.getByTestId('render-key-submit').click();
  await error.filter({ hasText: 'start with rnd_' }).waitFor();
  body = await page.locator('body').innerText();
  t.is(occurrences(body, 'start with rnd_'), 1);
  t.notRegex(body, /api_key/);

  // Well formed but unknown to Render: Render's refusal, still no rnd_ lecture, the key kept.
  await input.fill('rnd_wellFormedButUnknown000000');
  await page.getByTestId('render-key-submit').click();
  await error.filter({ hasText: 'Render rejected this API key' }).waitFor();
  t.notRegex(await page.locator('body').innerText(), /starts? with rnd_/);
  t.is(await input.inputValue(), 'rnd_wellFormedButUnknown000000');
  t.deepEqual(problems, []);
  await context.close();
});

test('deploy form: Enter on a repository keeps focus in the form; a too-large env value is an error on its row', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'envbig', ['certs']);
  await page.goto(`${stack.url}/#/deploy`);

  // Keyboard only: type, Enter moves to the first result, Enter chooses it.
  await page.getByTestId('repo-search').fill('certs');
  await page.getByTestId('repo-search').press('Enter'); // at once: before the typed search has run
  await page.waitForFunction(() => document.activeElement?.dataset?.repo === 'envbig/certs');
  await page.getByText('1 repository matching “certs”.').waitFor();
  t.is(await page.evaluate(() => document.activeElement?.dataset?.repo), 'envbig/certs', 'the results did not replace the focused one');
  await page.keyboard.press('Enter');
  await page.getByTestId('repo-selected').waitFor();
  const focus = await page.evaluate(() => ({
    inForm: Boolean(document.activeElement?.closest('form')),
    testId: document.activeElement?.dataset?.testid ?? null,
  }));
  t.deepEqual(focus, { inForm: true, testId: 'repo-change' }, 'focus stays in the form, on the chosen repository');
  t.regex(page.url(), /#\/deploy$/, 'Enter did not submit the form');
  await page.getByTestId('detected-stack-name').waitFor();

  await page.getByTestId('env-add').click();
  await page.getByTestId('env-name').last().fill('SMALL');
  await page.getByTestId('env-value').last().fill('ok');
  await page.getByTestId('env-add').click();
  await page.getByTestId('env-name').last().fill('TLS_CERT');
  await page.getByTestId('env-value').last().fill('A'.repeat(20 * 1024));
  await page.getByTestId('deploy-submit').click();
  const rowError = page.getByTestId('env-error').nth(1);
  await rowError.waitFor();
  t.regex(await rowError.innerText(), /This value is 20 KB; a variable can hold at most 16 KB/);
  t.is(await page.getByTestId('env-value').nth(1).getAttribute('aria-invalid'), 'true');
  t.true(await page.getByTestId('env-error').nth(0).isHidden(), 'the other row is fine');
  t.is(await page.evaluate(() => document.activeElement?.dataset?.testid), 'env-value', 'focus on the value to fix');
  t.notRegex(await page.locator('body').innerText(), /request body|64 ?kb/i);
  t.regex(page.url(), /#\/deploy$/);
  const mine = await page.evaluate(async () => ((await (await fetch('/api/render/my-deployments')).json()) as { deployments: unknown[] }).deployments.length);
  t.is(mine, 0, 'no deployment was started');
  await bothSizes(t, page, 'deploy-env-error');
  t.deepEqual(problems, []);
  await context.close();
});

test('timeline notes sit on the step they describe', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'notes', ['noted']);
  await page.goto(`${stack.url}/#/deploy`);
  await page.getByTestId('repo-search').fill('noted');
  await page.locator('[data-testid=repo-option][data-repo="notes/noted"]').click();
  await page.getByTestId('detected-stack-name').waitFor();
  await page.getByTestId('deploy-submit').click();
  await page.waitForURL(/#\/deployments\//);
  await page.locator('#deployment-status[data-status="live"]').waitFor({ timeout: 60_000 });
  const timeline = page.getByTestId('timeline');
  // Checking the repository found the branch head; detecting found the stack.
  t.regex(await timeline.locator('[data-status="verifying"]').innerText(), /Branch main at [0-9a-f]{7}/);
  t.regex(await timeline.locator('[data-status="detecting"]').innerText(), /Detected node/);
  t.notRegex(await timeline.locator('[data-status="creating_service"]').innerText(), /Detected/);
  await screenshot(page, 'deployment-timeline-notes-desktop');
  t.deepEqual(problems, []);
  await context.close();
});

test('deploy form: a deploy whose answer was lost is not said to have failed, and Deploy again opens that one deploy', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'forms-lost', ['lost-answer']);
  await openDeployForm(page, 'forms-lost', 'lost-answer');
  // The request reaches the server; its answer is lost on the way back.
  let sent = 0;
  await page.route('**/api/render/deploy', async (route) => {
    sent += 1;
    if (sent > 1) { await route.continue(); return; }
    await route.fetch();
    await route.abort('connectionreset');
  });
  await page.getByTestId('deploy-submit').click();
  const said = page.locator('.flash [role=alert]');
  await said.waitFor();
  const text = await said.innerText();
  t.notRegex(text, /did not start/, 'the server may well have started it');
  t.regex(text, /may have started/);
  t.regex(text, /press Deploy again/);
  const deployments = () => page.evaluate(async () => ((await (await fetch('/api/render/my-deployments?limit=100')).json()) as { deployments: Array<{ id: string }> }).deployments.map((d) => d.id));
  const made = await deployments();
  t.is(made.length, 1, 'it did start');

  await page.getByTestId('deploy-submit').click();
  await page.waitForFunction((id) => location.hash === `#/deployments/${id}`, made[0]);
  t.deepEqual(await deployments(), made, 'Deploy again opened it, and started nothing more');
  // The aborted answer is logged by Chromium as a failed load; nothing else went wrong.
  t.deepEqual(problems.filter((p) => !/ERR_CONNECTION_RESET/.test(p)), []);
  await context.close();
});

/** `apiKey`, another account's key to the workspace `page`'s session deploys to (a team's shared workspace). */
async function teamKeyOf(page: Page, apiKey: string): Promise<string> {
  const ownerId = await page.evaluate(async () => ((await (await fetch('/api/session')).json()) as { render: { owners: Array<{ id: string }> } }).render.owners[0]!.id);
  stack.render.addAccount({ apiKey, workspaces: [{ id: ownerId, name: 'shared' }] });
  return apiKey;
}

/** The session's Render key replaced with `apiKey` from a second tab of the same browser. */
async function replaceKeyInAnotherTab(context: BrowserContext, apiKey: string): Promise<void> {
  const other = await context.newPage();
  await other.goto(`${stack.url}/#/settings`);
  await other.getByTestId('replace-key').click();
  await connectKey(other, apiKey);
}

// The key replaced in another tab with another key to the same workspace (a team's): the page says the deploy
// now goes out with the new key, but Deploy pressed again sent the same request with the same Idempotency-Key,
// and opened the deploy made with the old key, which the replacement had stopped.
test('deploy form: a deploy whose answer was lost, then the key replaced in another tab: Deploy again deploys with the new key', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'forms-swap', ['swap-app']);
  const teamKey = await teamKeyOf(page, 'rnd_formsswapteamkeyzzzzzzzzzzzz');
  await openDeployForm(page, 'forms-swap', 'swap-app');
  // The service's creation waits at Render: the key is replaced before the first deploy made anything there
  // (so its name is still free, and Deploy pressed again sends the very same request).
  const creation = stack.render.holdRequest({ method: 'POST', route: '/services' });
  t.teardown(() => creation.release());
  let sent = 0;
  await page.route('**/api/render/deploy', async (route) => {
    sent += 1;
    if (sent > 1) { await route.continue(); return; }
    await route.fetch();
    await route.abort('connectionreset');
  });
  await page.getByTestId('deploy-submit').click();
  await page.locator('.flash [role=alert]').filter({ hasText: 'may have started' }).waitFor();
  const deployments = () => page.evaluate(async () => ((await (await fetch('/api/render/my-deployments?limit=100')).json()) as { deployments: Array<{ id: string; status: string }> }).deployments);
  const [lost] = await deployments();
  t.truthy(lost);
  await creation.arrived;

  await replaceKeyInAnotherTab(context, teamKey);
  await page.getByTestId('key-changed').filter({ hasText: 'replaced in another tab' }).waitFor({ timeout: 15_000 });
  await page.getByTestId('deploy-submit').click();
  await page.waitForFunction((id) => /^#\/deployments\/./.test(location.hash) && location.hash !== `#/deployments/${id}`, lost!.id);
  const now = await deployments();
  t.is(now.length, 2, 'a second deploy, with the new key');
  t.is(now.find((d) => d.id === lost!.id)?.status, 'credentials_revoked', 'the one made with the old key was stopped by the replacement');
  t.deepEqual(problems.filter((p) => !/ERR_CONNECTION_RESET/.test(p)), []);
  await context.close();
});

test('a redeploy whose answer was lost, then the key replaced in another tab: Redeploy again is a new request, with the new key', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'forms-swap-again', ['app']);
  const teamKey = await teamKeyOf(page, 'rnd_formsswapagainteamkeyzzzzzzz');
  const firstId = await deployThroughForm(page, 'forms-swap-again/app');
  await page.locator('#deployment-status[data-status="live"]').waitFor({ timeout: 20_000 });
  const keys: string[] = [];
  await page.route('**/api/render/services/*/redeploy', async (route) => {
    keys.push(route.request().headers()['idempotency-key'] ?? '(none)');
    if (keys.length > 1) { await route.continue(); return; }
    await route.fetch();
    await route.abort('connectionreset');
  });
  const said = page.locator('.flash [role=alert]').filter({ hasText: 'Redeploy' });
  await page.getByTestId('redeploy').click();
  await said.waitFor();

  await replaceKeyInAnotherTab(context, teamKey);
  await said.waitFor({ state: 'detached', timeout: 15_000 }); // this page drawn again for the new key
  await page.getByTestId('redeploy').click();
  await page.waitForURL((url) => /#\/deployments\/./.test(url.hash) && !url.hash.endsWith(firstId));
  t.is(keys.length, 2);
  t.not(keys[1], keys[0], 'a new Idempotency-Key: the unanswered ask went out with the replaced key');
  t.deepEqual(problems.filter((p) => !/ERR_CONNECTION_RESET/.test(p)), []);
  await context.close();
});

test('deploy form: a proxy\'s 504 in place of the answer is not said to be a deploy that did not start', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'forms-proxy', ['behind-proxy']);
  await openDeployForm(page, 'forms-proxy', 'behind-proxy');
  // The request reaches the server; a proxy in front gives up waiting and answers its own error page.
  await page.route('**/api/render/deploy', async (route) => {
    await route.fetch();
    await route.fulfill({ status: 504, contentType: 'text/html', body: '<html><body>504 Gateway Time-out</body></html>' });
  }, { times: 1 });
  await page.getByTestId('deploy-submit').click();
  const said = page.locator('.flash [role=alert]');
  await said.waitFor();
  const text = await said.innerText();
  t.notRegex(text, /did not start/, 'the server may well have started it');
  t.regex(text, /may have started/);
  // Chromium logs the 504 as a failed load; nothing else went wrong.
  t.deepEqual(problems.filter((p) => !/504/.test(p)), []);
  await context.close();
});

test('redeploy and roll back whose answer was lost are not said to have failed, and pressing again opens that one deployment', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'forms-lost-again', ['app']);
  const firstId = await deployThroughForm(page, 'forms-lost-again/app');
  const live = page.locator('#deployment-status[data-status="live"]');
  await live.waitFor({ timeout: 20_000 });
  const deployments = () => page.evaluate(async () => ((await (await fetch('/api/render/my-deployments?limit=100')).json()) as { deployments: Array<{ id: string }> }).deployments.map((d) => d.id));
  // Each ask reaches the server; the first one's answer is lost on the way back. The keys each ask carried:
  const keys: Record<string, string[]> = { redeploy: [], rollback: [] };
  for (const action of ['redeploy', 'rollback'] as const) {
    await page.route(`**/api/render/services/*/${action}`, async (route) => {
      keys[action]!.push(route.request().headers()['idempotency-key'] ?? '(none)');
      if (keys[action]!.length > 1) { await route.continue(); return; }
      await route.fetch();
      await route.abort('connectionreset');
    });
  }
  const said = (label: string) => page.locator('.flash [role=alert]').filter({ hasText: label });

  await page.getByTestId('redeploy').click();
  await said('Redeploy').waitFor();
  t.notRegex(await said('Redeploy').innerText(), /failed/, 'the server may well have started it');
  t.regex(await said('Redeploy').innerText(), /may have started/);
  const made = await deployments();
  t.is(made.length, 2, 'it did start');
  const opened = () => page.url().split('#/deployments/')[1];
  await page.getByTestId('redeploy').click();
  await page.waitForURL((url) => !url.hash.endsWith(firstId));
  t.is(opened(), made[0], 'Redeploy again opened it');
  t.deepEqual(await deployments(), made, 'and started nothing more');
  t.is(keys.redeploy!.length, 2);
  t.regex(keys.redeploy![0]!, /^[0-9a-f-]{36}$/);
  t.is(keys.redeploy![1], keys.redeploy![0], 'the same key after the lost answer');
  await live.waitFor({ timeout: 20_000 });

  // After an answer, a press is a new action: a new key, a new deployment.
  await page.goto(`${stack.url}/#/deployments/${firstId}`);
  await page.locator('#deployment-status[data-status="deactivated"]').waitFor();
  await page.getByTestId('redeploy').click();
  await page.waitForURL((url) => !url.hash.endsWith(firstId));
  t.is(keys.redeploy!.length, 3);
  t.not(keys.redeploy![2], keys.redeploy![0], 'a fresh key for a new press');
  t.is((await deployments()).length, 3);
  await live.waitFor({ timeout: 20_000 });

  // Roll back the first deploy: the first answer is lost, and Roll back again opens that rollback.
  await page.goto(`${stack.url}/#/deployments/${firstId}`);
  await page.locator('#deployment-status[data-status="deactivated"]').waitFor();
  await page.getByTestId('rollback').click();
  await page.getByTestId('rollback-confirm').click();
  await said('Rollback').waitFor();
  t.regex(await said('Rollback').innerText(), /may have started/);
  const rolled = await deployments();
  t.is(rolled.length, 4);
  await page.getByTestId('rollback').click();
  await page.getByTestId('rollback-confirm').click();
  await page.waitForURL((url) => !url.hash.endsWith(firstId));
  t.is(opened(), rolled[0], 'Roll back again opened it');
  t.deepEqual(await deployments(), rolled, 'one rollback');
  t.is(keys.rollback![1], keys.rollback![0]);
  await live.waitFor({ timeout: 20_000 });
  // The aborted answers are logged by Chromium as failed loads; nothing else went wrong.
  t.deepEqual(problems.filter((p) => !/ERR_CONNECTION_RESET/.test(p)), []);
  await context.close();
});

test('deploy form: "Change" on the chosen repository keeps it in view until another is chosen, and "Keep" goes back to it', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'changer', ['first-app', 'second-app']);
  await page.goto(`${stack.url}/#/deploy`);
  await page.getByTestId('repo-search').fill('first');
  await page.locator('[data-testid=repo-option][data-repo="changer/first-app"]').click();
  await page.getByTestId('detected-stack-name').waitFor();
  await page.getByTestId('repo-change').click();
  // The form below (branch, name, detected stack) is still first-app's and Deploy would deploy it:
  // on main the page no longer said so, as if no repository were chosen.
  const chosen = page.getByTestId('repo-selected');
  t.true(await chosen.isVisible(), 'the repository the form deploys stays in view while choosing another');
  t.regex(await chosen.innerText(), /changer\/first-app/);
  t.true(await page.getByTestId('repo-search').isVisible());
  t.is(await page.evaluate(() => document.activeElement?.dataset?.testid), 'repo-search');
  await page.getByTestId('repo-keep').click();
  t.false(await page.getByTestId('repo-search').isVisible(), 'Keep closes the search');
  t.is(await page.evaluate(() => document.activeElement?.dataset?.testid), 'repo-change', 'focus on Change again');
  // Choosing another replaces it.
  await page.getByTestId('repo-change').click();
  await page.getByTestId('repo-search').fill('second');
  await page.locator('[data-testid=repo-option][data-repo="changer/second-app"]').click();
  await chosen.filter({ hasText: 'changer/second-app' }).waitFor();
  t.false(await page.getByTestId('repo-search').isVisible());
  t.deepEqual(problems, []);
  await context.close();
});

test('deploy form: a branch list that failed to load offers the default branch and "Try again" loads the list', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'branch-fail', []);
  stack.addNodeRepo('branch-fail', 'app', ['staging']);
  // The list fails once (GitHub down for a moment): the form stayed on "(could not load branches)",
  // the select disabled and no way to ask again, so this repository could not be deployed at all.
  await page.route('**/api/github/repos/branch-fail/app/branches', (route) => route.fulfill({
    status: 503, contentType: 'application/json',
    body: JSON.stringify({ error: { code: 'github_unavailable', message: 'GitHub did not answer. Try again in a minute.' } }),
  }), { times: 1 });
  await page.goto(`${stack.url}/#/deploy`);
  await page.getByTestId('repo-search').fill('app');
  await page.locator('[data-testid=repo-option][data-repo="branch-fail/app"]').click();
  const select = page.getByTestId('branch-select');
  const retry = page.getByTestId('branch-retry');
  await retry.waitFor();
  t.regex(await page.locator('.field__error', { hasText: 'Could not load branches' }).innerText(), /GitHub did not answer/);
  t.false(await select.isDisabled(), 'the default branch can still be deployed');
  t.is(await select.inputValue(), 'main');
  await page.getByTestId('detected-stack-name').waitFor(); // detection ran for it, so Deploy works
  await retry.click();
  await select.locator('option[value=staging]').waitFor({ state: 'attached' });
  t.deepEqual(await select.locator('option').allInnerTexts(), ['main (default)', 'staging']);
  t.false(await retry.isVisible(), 'nothing to try again once the list loaded');
  t.is(await page.locator('.field__error', { hasText: 'Could not load branches' }).count(), 0);
  await select.selectOption('staging');
  await page.getByTestId('detected-stack-name').waitFor();
  await page.getByTestId('deploy-submit').click();
  await page.waitForURL(/#\/deployments\/[A-Za-z0-9_-]+$/);
  t.deepEqual(problems.filter((p) => !/503/.test(p)), []);
  await context.close();
});

/**
 * The deploy page's repository searches (`q`) held (holdAnswers): each is answered by the server at once and
 * handed to the page (its repositories in reverse order with `reversed`: GitHub's search ranks by match, its
 * listing by push) once `answer()` is called. `read()` once the page has read a search's answer and run a few
 * turns of its event loop (the answer drawn by then, unless something holds it).
 */
async function holdSearches(page: Page, { reversed = false } = {}) {
  const held = await holdAnswers(page, /\/api\/github\/repos\?/, {
    which: (url) => Boolean(url.searchParams.get('q')),
    ...(reversed ? { transform: (body: { repos: unknown[] }) => ({ ...body, repos: body.repos.toReversed() }) } : {}),
  });
  return { ...held, read: () => answerRead(page, /[?&]q=/) };
}

/** The repositories the picker lists, in its order. */
const listedRepos = (page: Page) => page.getByTestId('repo-option').evaluateAll((buttons) => buttons.map((b) => b.dataset.repo as string));

/**
 * Signed in as `login` with `repos` (two or more), on the deploy page: what the picker listed first, then
 * "web" typed and its search asked, the answer held (holdSearches). `centre(repo)`: where its row is now.
 */
async function searchHeld(login: string, repos: string[], opts: { reversed?: boolean; hasTouch?: boolean } = {}) {
  const opened = await stack.signedInWithKey(browser, login, repos, undefined, { hasTouch: opts.hasTouch });
  const { page } = opened;
  await page.goto(`${stack.url}/#/deploy`);
  const status = page.locator('.repo-chooser [role=status]');
  await status.filter({ hasText: `${repos.length} repositories.` }).waitFor();
  const listed = await listedRepos(page);
  const search = await holdSearches(page, { reversed: opts.reversed });
  await page.getByTestId('repo-search').fill('web');
  await search.asked;
  const centre = async (repo: string) => {
    const box = (await page.locator(`[data-testid=repo-option][data-repo="${repo}"]`).boundingBox())!;
    return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  };
  return { ...opened, status, listed, search, centre };
}

/**
 * After a press on the first of two rows `listed` while a reversed answer came: that repository is the one
 * chosen, and the answer was held, not dropped: the list under "Change" is the search's, in its order.
 */
async function firstChosenThenReversed(t: ExecutionContext, page: Page, listed: string[]) {
  await page.getByTestId('repo-selected').filter({ hasText: listed[0]! }).waitFor({ timeout: 5_000 });
  t.is(await page.getByTestId('repo-selected').locator('.repo-selected__name').innerText(), listed[0]!);
  await page.getByTestId('repo-change').click();
  await page.locator('.repo-chooser [role=status]').filter({ hasText: '2 repositories matching “web”.' }).waitFor();
  t.deepEqual(await listedRepos(page), listed.toReversed());
}

// A result pressed as the search's answer comes: the answer drew the list anew, the pressed row left the page
// between press and release, and Chromium drops such a click. The repository was not chosen, and nothing said
// so (a UI test waited 30 s for its stack on CI). Rows already shown stay in place under a new answer, and the
// answer waits for the press to end.
test('repository picker: a result pressed while the search is answered is chosen', async (t) => {
  const { context, page, problems, status, search, centre } = await searchHeld('press-search', ['api', 'web-app']);
  const { x, y } = await centre('press-search/web-app');
  await page.mouse.move(x, y);
  await page.mouse.down();
  search.answer();
  await search.read();
  t.is(await status.innerText(), 'Loading…', 'the answer has come, and waits for the release');
  await page.mouse.up();
  await page.getByTestId('repo-selected').filter({ hasText: 'press-search/web-app' }).waitFor({ timeout: 5_000 });
  await status.filter({ hasText: '1 repository matching “web”.' }).waitFor({ state: 'attached' });
  await page.getByTestId('detected-stack-name').waitFor();
  t.deepEqual(problems, []);
  await context.close();
});

// The same press, with an answer that lists the rows in another order: rows kept in place still moved under
// the pointer, the release landed on another row, and a press and release on different rows make no click.
test('repository picker: a result pressed while a search answer reorders the list is chosen, and the answer is shown after', async (t) => {
  const { context, page, problems, listed, search, centre } = await searchHeld('press-order', ['web-app', 'web-site'], { reversed: true });
  const { x, y } = await centre(listed[0]!);
  await page.mouse.move(x, y);
  await page.mouse.down();
  search.answer();
  await search.read();
  await page.mouse.up();
  await firstChosenThenReversed(t, page, listed);
  t.deepEqual(problems, []);
  await context.close();
});

// A tap's click comes after its release, as an input event of its own: an answer let go at the release (as
// for a mouse) still moved the rows before it, and another repository was chosen than the one tapped.
test('repository picker: a result tapped while a search answer reorders the list is the one chosen', async (t) => {
  const { context, page, problems, listed, search, centre } = await searchHeld('tap-order', ['web-app', 'web-site'], { reversed: true, hasTouch: true });
  const touch = await context.newCDPSession(page);
  await touch.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [await centre(listed[0]!)] });
  search.answer();
  await search.read();
  await touch.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
  await firstChosenThenReversed(t, page, listed);
  t.deepEqual(problems, []);
  await context.close();
});

// A right button's release goes to the context menu (Linux, macOS), not to the page: held for such a press,
// every answer waited for the next click anywhere ("Loading…", and Enter in the search box did nothing).
test('repository picker: a right-button press on the list holds no search answer', async (t) => {
  const { context, page, problems, status, listed, search, centre } = await searchHeld('press-right', ['web-app', 'web-site']);
  const { x, y } = await centre(listed[0]!);
  await page.mouse.move(x, y);
  await page.mouse.down({ button: 'right' });
  search.answer();
  await status.filter({ hasText: '2 repositories matching “web”.' }).waitFor({ timeout: 5_000 });
  await page.mouse.up({ button: 'right' });
  t.deepEqual(problems, []);
  await context.close();
});

test('repository picker: a row\'s "pushed … ago" stays current while the picker is open', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'pushed-age', ['api']);
  await page.goto(`${stack.url}/#/deploy`);
  const age = page.locator('[data-testid=repo-option][data-repo="pushed-age/api"] time');
  // The simulator's repositories were pushed in 2024: the page is opened again on a clock 20 s after this one's push.
  const pushedAt = Date.parse((await age.getAttribute('datetime'))!);
  t.regex(await age.innerText(), /2024/, 'more than a week ago: the date');
  t.truthy(await age.getAttribute('title'), 'the full time as its tooltip');
  await page.clock.install({ time: pushedAt + 20_000 });
  await page.reload();
  // The page's clock runs on from there: the reload itself takes some of it.
  await age.filter({ hasText: /^\d+ s ago$/ }).waitFor();
  // The page's own timer (app.js, every 30 s) moves it on; a row's text was written once and kept.
  await page.clock.fastForward('10:00');
  await age.filter({ hasText: /^1\d min ago$/ }).waitFor({ timeout: 5_000 });
  t.deepEqual(problems, []);
  await context.close();
});

test('repository picker: "Load more repositories" pressed twice while its page is on its way lists every repository once, none skipped', async (t) => {
  const repos = Array.from({ length: 32 }, (_, i) => `twice-${String(i).padStart(2, '0')}`);
  const { context, page, problems } = await stack.signedInWithKey(browser, 'more-twice', repos);
  // The second page held on its way: a second press meanwhile asked for a third page, whose answer
  // (none, and no more) was listed while the second page's was dropped, so twice-30 and twice-31 never showed.
  let release!: () => void;
  const released = new Promise<void>((resolve) => { release = resolve; });
  const asked: string[] = [];
  await page.route(/\/api\/github\/repos\?/, async (route) => {
    const pageNo = new URL(route.request().url()).searchParams.get('page')!;
    asked.push(pageNo);
    if (pageNo === '2') await released;
    await route.continue();
  });
  await page.goto(`${stack.url}/#/deploy`);
  const more = page.getByRole('button', { name: 'Load more repositories' });
  await more.waitFor();
  await more.dblclick();
  release();
  const status = page.locator('.repo-chooser [role=status]');
  await status.filter({ hasText: /^\d+ repositories/ }).waitFor();
  t.is(await status.innerText(), '32 repositories.');
  t.is(await page.getByTestId('repo-option').count(), 32);
  t.deepEqual(asked, ['1', '2'], 'one page asked for per press that was answered');
  t.deepEqual(problems, []);
  await context.close();
});

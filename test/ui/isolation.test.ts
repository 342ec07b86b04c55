import anyTest from 'ava';
import type { Browser, Page } from 'playwright-core';
import { newContext } from './support/browser.js';
import { connectKey, deployThroughForm, type UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { takingTurns } from './support/turns.js';
import { createAuditLog } from '../../server/audit/auditLog.js';
import type { AuditEntry } from '../../server/audit/types.js';
import { systemClock } from '../../server/clock.js';

const test = takingTurns(anyTest);

// Code inside page.evaluate runs in the browser; these stand in for the DOM types this (Node-only) project does not load.
declare const window: any;
declare const document: any;

let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

/** Every deployment event this page's own EventSource receives, kept in window.__events. */
async function recordEvents(page: Page) {
  await page.evaluate(() => new Promise<void>((resolve) => {
    const seen: string[] = [];
    (window).__events = seen;
    const es = new EventSource('/api/events');
    es.addEventListener('deployment', (e) => seen.push(JSON.parse((e as MessageEvent).data).id));
    es.addEventListener('open', () => resolve());
  }));
}

test('two users in two browsers never see each other’s services, deployments or events; polling fallback', async (t) => {
  const erin = await newContext(browser);
  const frank = await newContext(browser);
  // Frank's browser cannot use the event stream: his UI must fall back to polling.
  await frank.context.route('**/api/events', (route) => route.fulfill({ status: 503, contentType: 'application/json', body: '{"error":{"code":"events_unavailable","message":"no"}}' }));
  const erinKey = stack.renderAccount('erin');
  const frankKey = stack.renderAccount('frank');
  stack.addNodeRepo('erin', 'erin-app');
  stack.addNodeRepo('frank', 'frank-site');

  await stack.signInBrowser(erin.page, 'erin');
  await stack.signInBrowser(frank.page, 'frank');
  await Promise.all([connectKey(erin.page, erinKey), connectKey(frank.page, frankKey)]);
  await recordEvents(erin.page);

  const [erinId, frankId] = await Promise.all([
    deployThroughForm(erin.page, 'erin/erin-app'),
    deployThroughForm(frank.page, 'frank/frank-site'),
  ]);
  await Promise.all([
    erin.page.locator('#deployment-status[data-status="live"]').waitFor({ timeout: 20_000 }),
    frank.page.locator('#deployment-status[data-status="live"]').waitFor({ timeout: 20_000 }),
  ]);
  t.is(await erin.page.locator('#live-mode').getAttribute('data-mode'), 'live');
  t.is(await frank.page.locator('#live-mode').getAttribute('data-mode'), 'polling', 'fell back to polling');

  const erinEvents: string[] = await erin.page.evaluate(() => (window).__events);
  t.true(erinEvents.includes(erinId), 'erin got her own events');
  t.false(erinEvents.includes(frankId), 'erin never got frank’s events');

  // Dashboards: own deployments and services only.
  for (const [who, mine, theirs] of [[erin, 'erin-app', 'frank-site'], [frank, 'frank-site', 'erin-app']] as const) {
    await who.page.getByRole('link', { name: 'Dashboard', exact: true }).click();
    await who.page.getByTestId('deployment-row').first().waitFor();
    await who.page.getByTestId('service-card').first().waitFor();
    const text = await who.page.locator('main').innerText();
    t.true(text.includes(mine));
    t.false(text.includes(theirs), `${mine}'s owner sees nothing of ${theirs}`);
    t.is(await who.page.getByTestId('deployment-row').count(), 1);
    t.is(await who.page.getByTestId('service-card').count(), 1);
  }

  // Someone else's deployment id is "not found", page and API alike.
  await frank.page.goto(`${stack.url}/#/deployments/${erinId}`);
  await frank.page.getByRole('heading', { name: 'Deployment not found' }).waitFor();
  const logs = await frank.page.evaluate(async (id) => (await fetch(`/api/render/deployments/${id}/logs`)).status, erinId);
  t.is(logs, 404);

  t.deepEqual(erin.problems, []);
  t.deepEqual(frank.problems, []);
  await Promise.all([erin.context.close(), frank.context.close()]);
});

// A link to this app's page for someone else's deployment (shared by a teammate, or put on another site to
// get its visitors reported): the page's reads and its log stream say the id is its address's, and the
// server notes it rather than raise a cross-tenant probe with an alert in the visitor's name.
test('opening a link to another user\'s deployment shows "not found" and reports no cross-tenant probe', async (t) => {
  const owner = await stack.signedInWithKey(browser, 'linkowner', ['linked-app']);
  const id = await deployThroughForm(owner.page, 'linkowner/linked-app');
  const visitor = await stack.signedInWithKey(browser, 'linkvisitor', []);
  const visitorId: number = await visitor.page.evaluate(async () => (await (await fetch('/api/session')).json() as { user: { id: number } }).user.id);
  await visitor.page.locator('#live-mode[data-mode="live"]').waitFor();
  // The page asks three ways at once: the record, the log stream and the log's newest page. The record's
  // "not found" stops the other two, so it is held until both were answered.
  const streamAsked = visitor.page.waitForResponse((res) => res.url().includes(`/api/events?logs=${id}`));
  const logsAsked = visitor.page.waitForResponse((res) => res.url().includes(`/api/render/deployments/${id}/logs`));
  await visitor.page.route(`**/api/render/deployments/${id}`, async (route) => { await Promise.all([streamAsked, logsAsked]); await route.continue(); });
  await visitor.page.goto(`${stack.url}/#/deployments/${id}`);
  await visitor.page.getByRole('heading', { name: 'Deployment not found' }).waitFor();
  t.is((await streamAsked).status(), 404);
  t.is((await logsAsked).status(), 404);
  const audit = createAuditLog({ redis: stack.redis.client, prefix: stack.redis.prefix, clock: systemClock, keyring: stack.web.deps.keyring });
  const entries = (await stack.redis.client.lrange(audit.keys('global').entries, 0, -1)).map((r) => JSON.parse(r) as AuditEntry)
    .filter((e) => e.userId === visitorId && e.action === 'security');
  t.false(entries.some((e) => e.detail.securityEvent === 'cross_tenant_probe'), JSON.stringify(entries));
  t.like(entries, [{ outcome: 'denied', detail: { reason: 'foreign_id_in_page_address', deploymentId: id } }]);
  t.deepEqual(visitor.problems.filter((p) => !/404|text\/event-stream/.test(p)), []);
  await Promise.all([owner.context.close(), visitor.context.close()]);
});

test('repo, branch, user, env var and log text with markup renders as text', async (t) => {
  const { context, page, problems } = await newContext(browser);
  const payload = (n: number) => `"><img src=x onerror=window.__xss=${n}>`;
  const apiKey = stack.renderAccount('gina');
  stack.github.addRepo({ owner: 'gina', name: `x<img src=x onerror=window.__xss=1>`, branches: { main: { 'index.html': '<h1>hi</h1>' } } });
  stack.addNodeRepo('gina', 'webapp', [payload(2)]);
  await stack.signInBrowser(page, 'gina', { name: '<script>window.__xss=3</script>' });
  await connectKey(page, apiKey);
  await page.getByText('(<script>window.__xss=3</script>)').waitFor();

  await page.getByRole('link', { name: 'New deploy' }).first().click();
  await page.getByText('gina/x<img src=x onerror=window.__xss=1>').waitFor();
  await page.locator('[data-testid=repo-option][data-repo="gina/webapp"]').click();
  await page.getByTestId('detected-stack-name').waitFor();
  const options: string[] = await page.getByTestId('branch-select').evaluate((s: any) => [...s.options].map((o: any) => o.text));
  t.true(options.includes(payload(2)), `branch shown as text: ${options.join(' | ')}`);

  await page.getByTestId('env-add').click();
  await page.getByTestId('env-name').fill('<img src=x onerror=window.__xss=4>');
  await page.getByTestId('deploy-submit').click();
  await page.getByText('“<img src=x onerror=window.__xss=4>” is not a valid name').waitFor();
  // The row's button is named after what was typed, as text.
  await page.getByRole('button', { name: 'Remove <img src=x onerror=window.__xss=4>', exact: true }).click();

  t.is(await page.evaluate(() => (window).__xss), undefined);
  t.is(await page.evaluate(() => document.querySelectorAll('img[src="x"], script:not([src])').length), 0, 'no element came from data');

  // A deploy whose Render log carries markup.
  await page.getByTestId('deploy-submit').click();
  await page.waitForURL(/#\/deployments\//);
  await page.locator('#deployment-status[data-status="live"]').waitFor({ timeout: 20_000 });
  const serviceId = (await page.locator('.details dd.mono').filter({ hasText: /^srv-/ }).innerText()).trim();
  // After the deploy went live the service's lines are runtime (`app`) lines: a `build` line written then
  // belongs to no deploy and is not shown (issue 12 part 2).
  stack.render.appendLog(serviceId, '<img src=x onerror=window.__xss=5><b>bold?</b>', { type: 'app' });
  await page.reload();
  await page.getByText('<img src=x onerror=window.__xss=5><b>bold?</b>').waitFor();

  t.is(await page.evaluate(() => (window).__xss), undefined);
  t.is(await page.evaluate(() => document.querySelectorAll('img[src="x"], script:not([src]), b').length), 0, 'no element came from data');
  t.deepEqual(problems, []);
  await context.close();
});

test('a deployment page for an id that is not the user\'s keeps the live stream: no 30 s of polling after "not found"', async (t) => {
  const { context, page, problems } = await stack.signedInWithKey(browser, 'stray', []);
  await page.locator('#live-mode[data-mode="live"]').waitFor();
  // The page's read of the record is held until the server refused the stream asked with ?logs=<that id>
  // (a 404): the app then polled for SSE_RETRY_MS (30 s) with nothing live on any page, the
  // "not found" page having stopped following it only after.
  const refused = page.waitForResponse((res) => res.url().includes('/api/events?logs=') && res.status() === 404);
  await page.route('**/api/render/deployments/dep-not-mine', async (route) => { await refused; await route.continue(); });
  await page.goto(`${stack.url}/#/deployments/dep-not-mine`);
  await page.getByRole('heading', { name: 'Deployment not found' }).waitFor();
  await refused;
  // Well under the 30 s the page waited before it tried the stream again.
  await page.locator('#live-mode[data-mode="live"]').waitFor({ timeout: 10_000 });
  await page.getByRole('link', { name: 'Dashboard', exact: true }).click();
  t.is(await page.locator('#live-mode').getAttribute('data-mode'), 'live');
  // Chromium reports the refused stream and the record's 404 as failed loads; nothing else went wrong.
  t.deepEqual(problems.filter((p) => !/404|text\/event-stream/.test(p)), []);
  await context.close();
});

import anyTest from 'ava';
import type { Browser } from 'playwright-core';
import { newContext, screenshot } from './support/browser.js';
import { connectKey, serviceMadeOutside, type UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { createAuditLog } from '../../server/audit/auditLog.js';
import type { AuditInput } from '../../server/audit/types.js';
import type { Clock } from '../../server/clock.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

// Issue 12 part 5: the audit page — one line per event, humane times, filters by kind and date,
// "Load more" paging, and no unexplained hashes. Entries are written through the audit module
// (older ones with a clock set to January), the page is driven in Chromium at 1280 px.

let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

const USER_ID = 424_242;
const LOGIN = 'auditor';

function janClock(): Clock & { tick(): void } {
  let now = Date.parse('2026-01-10T09:00:00Z');
  return { now: () => now, tick: () => { now += 12 * 3_600_000; } };
}

/** A mix of everything the trail records, in the caller's chain. */
function mixed(i: number): AuditInput {
  const kinds: AuditInput[] = [
    { userId: USER_ID, action: 'deploy_requested', outcome: 'success', detail: { deploymentId: `dpl-${String(i).padStart(20, '0')}`, ip: '203.0.113.7' } },
    { userId: USER_ID, action: 'deploy_finished', outcome: 'success', detail: { deploymentId: `dpl-${String(i).padStart(20, '0')}`, status: 'live', durationMs: 83_000 } },
    { userId: USER_ID, action: 'lifecycle', outcome: 'success', detail: { lifecycleAction: 'suspend', serviceId: `srv-${String(i).padStart(20, 'a')}`, ip: '203.0.113.7' } },
    { userId: USER_ID, action: 'render_key_invalid', outcome: 'failure', detail: { reason: 'unauthorized', ip: '203.0.113.7', uaHash: 'c1a562e6f00dbeef' } },
    { userId: USER_ID, action: 'security', outcome: 'denied', detail: { securityEvent: 'client_changed', uaHash: 'c1a562e6f00dbeef', ip: '198.51.100.4' } },
    { userId: USER_ID, action: 'security', outcome: 'denied', detail: { securityEvent: 'render_key_lockout', count: 5, retryAfterSec: 900 } },
  ];
  return kinds[i % kinds.length]!;
}

test('audit page: one line per event, humane times, kind and date filters, Load more; screenshot at 1280 px', async (t) => {
  t.timeout(120_000);
  const deps = stack.web.deps;
  // January history first (the chain's times only move forward), then today's.
  const clock = janClock();
  const january = createAuditLog({ redis: deps.redis, prefix: deps.config.redisPrefix, clock, keyring: deps.keyring });
  for (let i = 0; i < 30; i++) { await january.append(mixed(i)); clock.tick(); }

  const { page, problems } = await newContext(browser);
  await stack.signInBrowser(page, LOGIN, { id: USER_ID, name: 'Audit Tester' });
  for (let i = 0; i < 90; i++) await deps.audit.append(mixed(i));
  // 30 (January) + 1 sign-in + 90 = 121 entries.

  await page.goto(`${stack.url}/#/audit`);
  const rows = page.getByTestId('audit-entry');
  await rows.first().waitFor();
  t.is(await rows.count(), 50, 'first page');
  await page.getByTestId('audit-integrity').getByText('Integrity check passed').waitFor();

  // One line per event at 1280 px: every row is a single text line high.
  const heights = await rows.evaluateAll((els) => els.map((el) => el.getBoundingClientRect().height));
  t.true(heights.every((hgt) => hgt < 44), `row heights ${[...new Set(heights)].join(', ')}`);

  // Humane times and sentences; the fingerprint is labelled, and no bare hash appears anywhere.
  t.regex(await rows.first().locator('time').innerText(), /^(just now|\d+ s ago|\d+ min ago)$/);
  const text = await page.locator('main').innerText();
  t.regex(text, /Deploy went live after 1 min 23 s/);
  t.regex(text, /Suspended service srv-/);
  t.regex(text, /Session ended: browser changed \(fingerprint c1a562e6\)/);
  t.regex(text, /Key setup locked for 15 min after 5 rejected keys/);
  t.regex(text, /Render API key rejected \(Render did not accept it\)/);
  t.notRegex(text, /c1a562e6f00dbeef|(?<![-\w])[0-9a-f]{16,}/, 'no unexplained hashes (ids like srv-… are fine)');
  t.notRegex(text, /deploy_finished|render_key_invalid|client_changed/, 'no raw action codes');

  // Load more until everything is shown.
  await page.getByTestId('audit-more').click();
  await rows.nth(99).waitFor();
  await page.getByTestId('audit-more').click();
  await rows.nth(120).waitFor();
  t.is(await rows.count(), 121);
  t.true(await page.getByTestId('audit-more').isHidden());
  t.is(await rows.last().getAttribute('data-seq'), '1');
  t.regex(await rows.last().locator('time').innerText(), /2026/, 'old entries show their date');

  // Kind filter: only security events.
  await page.getByTestId('audit-kind').selectOption('security');
  const actions = await rows.evaluateAll((els) => els.map((el) => (el as unknown as { dataset: { action: string } }).dataset.action));
  t.true(actions.length > 0 && actions.every((a) => a === 'security'), actions.join(','));
  t.regex(await page.getByRole('status').first().innerText(), /of 121 loaded events match/);
  await page.getByTestId('audit-kind').selectOption('all');

  // Date filter: entries on or before 15 January 2026 only (the server pages from that day).
  await page.getByTestId('audit-until').fill('2026-01-15');
  await page.getByTestId('audit-until').dispatchEvent('change');
  await page.waitForFunction(() => (globalThis as any).document.querySelectorAll('[data-testid="audit-entry"]').length === 12);
  const times = await rows.locator('time').evaluateAll((els) => els.map((el) => el.getAttribute('datetime') ?? ''));
  t.true(times.every((iso) => iso < '2026-01-16'), times.join(','));
  t.is(times[0], '2026-01-15T21:00:00.000Z');

  await page.getByTestId('audit-until').fill('');
  await page.getByTestId('audit-until').dispatchEvent('change');
  await page.waitForFunction(() => (globalThis as any).document.querySelectorAll('[data-testid="audit-entry"]').length === 50);
  await page.getByTestId('audit-until').blur();
  await screenshot(page, 'audit-page-desktop');
  t.deepEqual(problems, []);
});

test('audit page: a value shown, a variable or file set, a domain added, settings saved each say so, not "Changed service"', async (t) => {
  t.timeout(120_000);
  const apiKey = 'rnd_auditsettings' + 'x'.repeat(19);
  stack.render.addAccount({ apiKey, workspaces: [{ name: 'Audit workspace' }] });
  const { render, serviceId } = await serviceMadeOutside(stack, apiKey, { login: 'audit-settings', name: 'audited-api' });
  await render.putEnvVar(serviceId, 'DATABASE_URL', 'postgres://u:p@db/app');
  const { page, problems } = await newContext(browser);
  await stack.signInBrowser(page, 'audit-settings', { id: 424_243, name: 'Audit Settings' });
  await connectKey(page, apiKey);
  await page.goto(`${stack.url}/#/services/${serviceId}`);
  const envRow = page.locator('[data-testid=env-list] li[data-key=DATABASE_URL]');
  await envRow.getByTestId('reveal').click();
  await envRow.getByTestId('revealed').waitFor();
  await page.getByTestId('env-key').fill('API_URL');
  await page.getByTestId('env-value').fill('https://api.example.com');
  await page.getByTestId('env-save').click();
  await page.locator('[data-testid=env-list] li[data-key=API_URL]').waitFor();
  await page.getByTestId('file-name').fill('key.pem');
  await page.getByTestId('file-content').fill('secret-file-body');
  await page.getByTestId('file-save').click();
  await page.locator('[data-testid=file-list] li[data-key="key.pem"]').waitFor();
  await page.getByTestId('domain-name').fill('*.audited.example.com');
  await page.getByTestId('domain-add').click();
  await page.getByTestId('domain-row').first().waitFor();
  await page.getByTestId('health-check').fill('/healthz');
  await page.getByTestId('settings-save').click();
  await page.locator('#announcer').filter({ hasText: 'Settings saved' }).waitFor({ state: 'attached' });

  await page.goto(`${stack.url}/#/audit`);
  await page.getByTestId('audit-entry').nth(5).waitFor();
  const text = await page.getByTestId('audit-list').innerText();
  t.notRegex(text, /Changed service/, 'each settings action is named');
  t.regex(text, /Viewed an environment variable's value on service srv-/, 'a read of a secret is not a change');
  t.regex(text, /Set an environment variable on service srv-/);
  t.regex(text, /Set a secret file on service srv-/);
  t.regex(text, /Added a custom domain to service srv-/);
  t.regex(text, /Changed the settings \(auto-deploy, scaling, plan, health check or previews\) of service srv-/);
  t.deepEqual(problems, []);
});

test('audit page: "Load more" of the list a date filter is replacing is not offered while the filter\'s read is out (its page was added to the filtered list)', async (t) => {
  const userId = 424_249;
  const { context, page, problems } = await newContext(browser);
  await stack.signInBrowser(page, 'auditor-two', { id: userId, name: 'Audit Two' });
  for (let i = 0; i < 55; i++) await stack.web.deps.audit.append({ ...mixed(i), userId });
  // 1 sign-in + 55 = 56 entries, none on or before 2020-01-01.
  let releaseFiltered!: () => void;
  const filtered = new Promise<void>((resolve) => { releaseFiltered = resolve; });
  let releasePage!: () => void;
  const paged = new Promise<void>((resolve) => { releasePage = resolve; });
  await page.route(/\/api\/audit\?/, async (route) => {
    const q = new URL(route.request().url()).searchParams;
    if (q.has('cursor')) await paged;
    else if (q.has('until')) await filtered;
    await route.continue();
  });
  await page.goto(`${stack.url}/#/audit`);
  const rows = page.getByTestId('audit-entry');
  const more = page.getByTestId('audit-more');
  await more.waitFor();
  t.is(await rows.count(), 50);

  await page.getByTestId('audit-until').fill('2020-01-01');
  await page.getByTestId('audit-until').dispatchEvent('change');
  // Before, it stayed: its page (the unfiltered list's, as its cursor said) answered after the filter's
  // and was listed under "on or before 2020-01-01", entries of today among them.
  const offered = await more.isVisible();
  t.false(offered, '"Load more" waits for the filtered list');
  if (offered) await more.click();
  releaseFiltered();
  await page.getByText('Nothing recorded on or before 2020-01-01.').waitFor();
  releasePage();
  if (offered) await rows.first().waitFor();
  t.is(await rows.count(), 0);
  t.true(await more.isHidden());
  t.deepEqual(problems, []);
  await context.close();
});

test('audit page: a date filter\'s read that fails after a newer filter\'s list is shown does not say the trail could not be loaded', async (t) => {
  const userId = 424_250;
  const { context, page, problems } = await newContext(browser);
  await stack.signInBrowser(page, 'auditor-three', { id: userId, name: 'Audit Three' });
  for (let i = 0; i < 5; i++) await stack.web.deps.audit.append({ ...mixed(i), userId });
  // The first date's read is held, then lost; the second date's goes through at once.
  let failFirst!: () => void;
  const firstFails = new Promise<void>((resolve) => { failFirst = resolve; });
  await page.route(/\/api\/audit\?.*until=2020-01-01/, async (route) => {
    await firstFails;
    await route.abort('failed');
  });
  await page.goto(`${stack.url}/#/audit`);
  const rows = page.getByTestId('audit-entry');
  await rows.first().waitFor();
  const until = page.getByTestId('audit-until');
  await until.fill('2020-01-01');
  await until.dispatchEvent('change');
  const newer = page.waitForResponse((res) => res.url().includes('until=2099-12-31'));
  await until.fill('2099-12-31');
  await until.dispatchEvent('change');
  await newer;
  const settle = () => page.evaluate(() => new Promise((resolve) => { setTimeout(resolve, 100); }));
  await settle(); // its list drawn
  const listed = await rows.count();
  t.true(listed > 0);
  const lost = page.waitForEvent('requestfailed', (req) => req.url().includes('until=2020-01-01'));
  failFirst();
  await lost;
  await settle(); // its failure handled
  t.notRegex(await page.locator('main').innerText(), /Could not load the audit trail/);
  t.is(await rows.count(), listed, 'the newer list stays');
  t.deepEqual(problems.filter((p) => !/ERR_FAILED/.test(p)), []);
  await context.close();
});

test('audit page: Sentinel turned on with a Slack webhook and off again on the Security page says so under Security, without the webhook', async (t) => {
  t.timeout(120_000);
  const apiKey = 'rnd_auditsentinel' + 'x'.repeat(19);
  stack.render.addAccount({ apiKey, workspaces: [{ name: 'Audit Sentinel workspace' }] });
  const { page, problems } = await newContext(browser);
  await stack.signInBrowser(page, 'audit-sentinel', { id: 424_244, name: 'Audit Sentinel' });
  await connectKey(page, apiKey);
  const webhook = 'https://hooks.slack.com/services/T0AUDIT/B0AUDIT/auditPageHookSecret';
  const saved = () => page.waitForResponse((r) => new URL(r.url()).pathname === '/api/sentinel' && r.request().method() === 'PUT' && r.status() === 200);

  await page.goto(`${stack.url}/#/security`);
  await page.getByText('Sentinel is off. Turn it on').waitFor();
  await page.getByTestId('sentinel-enabled').check();
  await page.getByTestId('sentinel-slack').fill(webhook);
  await Promise.all([saved(), page.getByTestId('sentinel-save').click()]);
  await page.getByTestId('sentinel-enabled').uncheck();
  await Promise.all([saved(), page.getByTestId('sentinel-save').click()]);

  await page.goto(`${stack.url}/#/audit`);
  await page.getByTestId('audit-kind').selectOption('security');
  const list = page.getByTestId('audit-list');
  await list.getByText('Sentinel turned off').waitFor();
  const text = await list.innerText();
  t.regex(text, /Sentinel turned on, Slack webhook set/);
  t.notRegex(text, /auditPageHookSecret/);
  t.false((await page.content()).includes('auditPageHookSecret'), 'the webhook is nowhere on the page');
  t.deepEqual(problems, []);
});

// Failed MCP tool calls past the first few in a window are one entry each time their count doubles
// (server/mcp/audit.ts): the line says how many there were, not one failure.
test('audit page: an aggregated failed MCP tool call says how many times it failed', async (t) => {
  const deps = stack.web.deps;
  const { page, problems } = await newContext(browser);
  await stack.signInBrowser(page, 'audit-mcp', { id: 424_244, name: 'Audit MCP' });
  await deps.audit.append({ userId: 424_244, action: 'mcp_tool', outcome: 'failure', detail: { tool: 'get_deployment', reason: 'validation_failed' } });
  await deps.audit.append({ userId: 424_244, action: 'mcp_tool', outcome: 'failure', detail: { tool: 'get_deployment', reason: 'validation_failed', count: 40 } });
  await page.goto(`${stack.url}/#/audit`);
  await page.getByTestId('audit-entry').nth(2).waitFor();
  const text = await page.getByTestId('audit-list').innerText();
  t.regex(text, /Assistant \(MCP\) used get deployment: validation failed \(40 times so far\)/);
  t.regex(text, /Assistant \(MCP\) used get deployment: validation failed(?! \()/);
  t.deepEqual(problems, []);
});

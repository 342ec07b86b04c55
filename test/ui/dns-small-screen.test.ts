import anyTest from 'ava';
import type { Browser } from 'playwright-core';
import { horizontalOverflow, PHONE, screenshot } from './support/browser.js';
import { serviceMadeOutside, type UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

// A custom domain's DNS records on a 375 px phone: three columns left the name and value a few
// characters wide, broken between any two letters ("exam|ple.|com", "Na|me"), the values the user has to
// copy to their DNS provider (found by a UX walkthrough). Each is shown whole, on one line when it fits.
let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b));

// Code inside evaluate runs in the browser; this Node-only project does not load the DOM types.
declare const document: any;

test('DNS records at 375 px: no horizontal scrolling, every name and value whole and on screen, on one line when it fits', async (t) => {
  t.timeout(120_000);
  const { context, page, problems, apiKey } = await stack.signedInWithKey(browser, 'dns-phone', [], { width: 375, height: 800 });
  const { serviceId } = await serviceMadeOutside(stack, apiKey, { login: 'dns-phone', name: 'phone-api' });
  await page.goto(`${stack.url}/#/services/${serviceId}`);
  await page.getByRole('heading', { level: 1, name: 'phone-api' }).waitFor();
  const long = 'a-rather-long-subdomain-name-for-a-test.shop.example-company.com';
  for (const domain of ['example.com', long]) {
    await page.getByTestId('domain-name').fill(domain);
    await page.getByTestId('domain-add').click();
    await page.locator(`[data-testid=domain-row][data-domain="${domain}"]`).waitFor();
  }
  await page.locator('[data-testid=domain-row][data-domain="www.example.com"]').waitFor();
  await screenshot(page, 'service-domains-dns-375');

  const overflow = await horizontalOverflow(page);
  t.true(overflow.scrollWidth <= 375, `no page-level horizontal scroll: ${overflow.scrollWidth} px, ${overflow.culprits.join(', ')}`);

  // Each record's name and value (the cell's first node: the value comes before any note).
  const copied = await page.locator('[data-testid=domain-dns] td:nth-child(n+2)').evaluateAll((cells: any[]) => cells.map((cell) => {
    const range = document.createRange();
    range.selectNodeContents(cell.firstChild);
    const box = range.getBoundingClientRect();
    // Its width on one line; one no wider than half the table has room for a line of its own in any
    // layout, so shown on more it was broken where no break belongs.
    const probe = document.createElement('span');
    probe.textContent = range.toString();
    probe.style.whiteSpace = 'nowrap';
    probe.style.position = 'absolute';
    cell.append(probe);
    const oneLine = probe.getBoundingClientRect().width;
    probe.remove();
    // Line boxes it takes (a rect per line; a line may be cut into several rects at the same height).
    const lines = new Set([...range.getClientRects()].map((r: any) => Math.round(r.top))).size;
    return {
      text: range.toString(), lines, left: box.left, right: box.right,
      fits: oneLine <= cell.closest('table').clientWidth / 2,
      clipped: cell.scrollWidth > cell.clientWidth,
    };
  }));
  const texts = copied.map((c) => c.text);
  for (const want of ['example.com', 'www.example.com', 'phone-api.onrender.com', '216.24.57.1', long]) t.true(texts.includes(want), `${want} shown whole: ${texts.join(' | ')}`);
  for (const c of copied) {
    t.true(c.left >= 0 && c.right <= 375, `${c.text} on screen (${Math.round(c.left)}–${Math.round(c.right)} px)`);
    t.false(c.clipped, `${c.text} not clipped`);
    if (c.fits) t.is(c.lines, 1, `${c.text} fits the width: on one line`);
  }
  t.true(copied.filter((c) => c.fits).length >= 4, 'the short names and values were measured');
  t.true(copied.some((c) => c.text === long && c.lines > 1), 'the long name wraps rather than running off the screen');

  // Still a table to a screen reader, its labels not read twice.
  const dns = page.locator('[data-testid=domain-row][data-domain="example.com"]').getByTestId('domain-dns');
  t.deepEqual(await dns.getByRole('columnheader').allInnerTexts(), ['Type', 'Name', 'Value']);
  t.is(await dns.getByRole('row').count(), 3);
  t.is(await dns.getByRole('cell', { name: 'example.com', exact: true }).count(), 2, 'a cell\'s name is its value, without the label');
  t.deepEqual(problems, []);
  await context.close();
});

// Render lets a service be named on its dashboard: a long name with no space or hyphen comes back in the
// service list. On the service page's head it widened the page to 551 px at 375 (a helper's probe).
test('a long service name from Render at 375 px: the service page\'s heading wraps, nothing scrolls sideways', async (t) => {
  const { context, page, apiKey, problems } = await stack.signedInWithKey(browser, 'longname', [], PHONE);
  const name = 'customerportalbackendproductionreplicaeu';
  const { serviceId } = await serviceMadeOutside(stack, apiKey, { login: 'longname', name });
  await page.goto(`${stack.url}/#/services/${serviceId}`);
  await page.getByRole('heading', { level: 1, name }).waitFor();
  const overflow = await horizontalOverflow(page);
  t.true(overflow.scrollWidth <= 375, `${overflow.scrollWidth} px: ${overflow.culprits.join(', ')}`);
  const head = await page.getByRole('heading', { level: 1, name }).boundingBox();
  t.true(head !== null && head.x >= 0 && head.x + head.width <= 375, JSON.stringify(head));
  t.deepEqual(problems, []);
  await context.close();
});

import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page, type Response } from 'playwright-core';

// Code inside page.evaluate runs in the browser; these stand in for the DOM types this (Node-only) project does not load.
declare const window: any;
declare const document: any;
declare const MutationObserver: any;
declare const location: any;

// Debian's headless build of Chromium (package chromium-headless-shell: the same engine and version as
// package chromium, without the browser's own UI layer; what Playwright itself runs headless). Against the full
// browser in --headless it took half the CPU (test/ui/logs, forms, two-tabs, walkthrough back to back: Chromium's
// 105 → 54 s) and two-tabs ran in half the time (61 → 30 s). The full browser stands in where only it is
// installed, and runs the files whose pages show notifications: the shell denies every notification
// permission, granted or not.
const HEADLESS_SHELL = '/usr/bin/chromium-headless-shell';
const FULL_BROWSER = '/usr/bin/chromium';

/** What a file's pages need of the browser beyond the headless shell. */
export interface BrowserNeeds { notifications?: boolean }
const SCREENSHOT_DIR = join(process.cwd(), 'test-results', 'screenshots');
export const PHONE = { width: 375, height: 812 };
export const DESKTOP = { width: 1280, height: 800 };
const PIXEL = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGPomHnmPwAGhwLtXERxZAAAAABJRU5ErkJggg==', 'base64');

/** Debian's Chromium, headless. Missing is a failure (with the fix), never a skip. */
export async function launchChromium(needs: BrowserNeeds = {}): Promise<Browser> {
  const wanted = needs.notifications ? [FULL_BROWSER] : [HEADLESS_SHELL, FULL_BROWSER];
  const executablePath = wanted.find((path) => existsSync(path));
  if (!executablePath) {
    const why = needs.notifications ? ' (this file shows notifications, which only the full browser allows)' : '';
    throw new Error(`${wanted.join(' and ')} missing: the UI tests need Debian's Chromium${why}. Install it with: apt-get update && apt-get install -y chromium chromium-headless-shell`);
  }
  return chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A page in its own context, and what went wrong on it (see newContext). */
export interface BrowserPage { context: BrowserContext; page: Page; problems: string[] }

/**
 * A browser context that records what would mean the page is broken: uncaught errors, console
 * errors, and CSP violations (an inline script or style would show up here).
 */
export async function newContext(browser: Browser, viewport = DESKTOP, options: { hasTouch?: boolean } = {}): Promise<BrowserPage> {
  const context = await browser.newContext({ viewport, reducedMotion: 'reduce', ...options });
  // The simulator's users have GitHub avatar URLs; this machine has no internet. Serve a 1×1 PNG instead.
  await context.route('https://avatars.githubusercontent.com/**', (route) => route.fulfill({ status: 200, contentType: 'image/png', body: PIXEL }));
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    // Expected: API answers the UI handles (401 before sign-in, 4xx shown as messages) and the aborted/blocked stream in the fallback test.
    if (/Failed to load resource: the server responded with a status of (4\d\d|503)/.test(text)) return;
    if (/EventSource's response has a status 503/.test(text)) return;
    problems.push(`console: ${text}`);
  });
  return { context, page, problems };
}

/** Save a full-page screenshot as test-results/screenshots/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true, animations: 'disabled' });
}

/** No horizontal scrolling: the document is never wider than the viewport. */
export async function horizontalOverflow(page: Page): Promise<{ scrollWidth: number; innerWidth: number; culprits: string[] }> {
  return page.evaluate(() => {
    const innerWidth = window.innerWidth;
    const culprits: string[] = [];
    for (const el of Array.from<any>(document.querySelectorAll('body *'))) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > innerWidth + 1) culprits.push(`${el.tagName.toLowerCase()}.${el.className} right=${Math.round(r.right)}`);
      if (culprits.length >= 5) break;
    }
    return { scrollWidth: document.documentElement.scrollWidth, innerWidth, culprits };
  });
}

/**
 * From now on, the page notes each answer whose body its `fetch` has read (`window.answersRead`, absolute
 * URLs), in this document: what `answerRead` waits for. Not the network's `requestfinished`, which can
 * come before the page's code has the body (a test that asserted then could pass without the fix).
 */
async function noteAnswersRead(page: Page): Promise<void> {
  await page.evaluate(() => {
    if (window.answersRead) return;
    window.answersRead = [];
    const pageFetch = window.fetch;
    window.fetch = async (...args: any[]) => {
      const res = await pageFetch(...args);
      const url = new URL(typeof args[0] === 'string' || args[0] instanceof URL ? String(args[0]) : args[0].url, location.href).href;
      void res.clone().text().then(() => { window.answersRead.push(url); }, () => undefined);
      return res;
    };
  });
}

/** Once the page has read an answer from a URL `pattern` matches (noteAnswersRead), and run a few turns of its event loop: the answer handled and drawn. */
export async function answerRead(page: Page, pattern: RegExp): Promise<void> {
  await page.waitForFunction(([source, flags]) => window.answersRead.some((u: string) => new RegExp(source, flags).test(u)), [pattern.source, pattern.flags] as const);
  await page.evaluate(async () => { for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 0)); });
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The page's next GET of `url` (a route glob) is answered by the server at once and handed to the page only
 * when `deliver()` is called: the answer as it was when asked, arriving late (route.continue() after a wait
 * would send the request late instead, and its answer would be current). `asked` resolves once that read has
 * its answer; `deliver()` resolves, with the answer, once the page has read it and its handlers have run.
 * The page must stay on its document meanwhile (the app's routes are in its hash).
 */
export async function answerLate(page: Page, url: string): Promise<{ asked: Promise<void>; deliver: () => Promise<Response | null> }> {
  await noteAnswersRead(page);
  let holding = true;
  let release!: () => void;
  const released = new Promise<void>((resolve) => { release = resolve; });
  let seen!: () => void;
  const asked = new Promise<void>((resolve) => { seen = resolve; });
  let heldUrl = '';
  await page.route(url, async (route) => {
    if (route.request().method() !== 'GET' || !holding) { await route.continue(); return; }
    holding = false;
    heldUrl = route.request().url();
    const response = await route.fetch();
    seen();
    await released;
    await route.fulfill({ response });
  });
  const deliver = async () => {
    const finished = page.waitForEvent('requestfinished', (r) => r.url() === heldUrl && r.method() === 'GET');
    release();
    const request = await finished;
    await answerRead(page, new RegExp(`^${escapeRegExp(heldUrl)}$`));
    return request.response();
  };
  return { asked, deliver };
}

/**
 * Every GET matching `url` (a route glob or RegExp) and `which` is answered by the server at once and held until
 * `answer()`, then handed over (its JSON body through `transform`, when given). `asked` resolves when the first
 * is sent. Like answerLate, for a page that asks again and again (a search as one types).
 */
export async function holdAnswers(page: Page, url: string | RegExp, opts: { which?: (url: URL) => boolean; transform?: (body: any) => unknown } = {}): Promise<{ asked: Promise<void>; answer: () => void }> {
  await noteAnswersRead(page);
  let answer!: () => void;
  const answered = new Promise<void>((resolve) => { answer = resolve; });
  let sent!: () => void;
  const asked = new Promise<void>((resolve) => { sent = resolve; });
  await page.route(url, async (route) => {
    if (route.request().method() !== 'GET' || (opts.which && !opts.which(new URL(route.request().url())))) { await route.continue(); return; }
    sent();
    const response = await route.fetch();
    const json = opts.transform ? opts.transform(await response.json()) : undefined;
    await answered;
    await route.fulfill(opts.transform ? { response, json } : { response });
  });
  return { asked, answer };
}

/** The focused element's data-testid (its tag name when it has none). */
export const focusedTestId = (page: Page) => page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? document.activeElement?.tagName);

/** The focused element: its data-testid, or its tag and text; BODY when focus fell to the page. */
export const focusedElement = (page: Page): Promise<string> => page.evaluate(() => {
  const el = document.activeElement;
  if (!el || el === document.body) return 'BODY';
  return el.getAttribute('data-testid') ?? `${el.tagName} ${String(el.textContent).trim().slice(0, 40)}`;
});

/**
 * What focus is once it is `expected` (as focusedElement names it), or without `expected` once it is off <body>,
 * or after 10 s, whatever it is then (focus moves once an action's requests answered).
 */
export async function focusSettles(page: Page, expected?: string): Promise<string> {
  await page.waitForFunction((want) => {
    const el = document.activeElement;
    if (!el || el === document.body) return false;
    return want === null || (el.getAttribute('data-testid') ?? `${el.tagName} ${String(el.textContent).trim().slice(0, 40)}`) === want;
  }, expected ?? null, { timeout: 10_000 }).catch(() => {});
  return focusedElement(page);
}

/** From now on, every text the page's screen-reader announcer (#announcer) says is kept in window.said. */
export const listenToAnnouncer = (page: Page) => page.evaluate(() => {
  window.said = [];
  const region = document.getElementById('announcer');
  new MutationObserver(() => { if (region.textContent) window.said.push(region.textContent); }).observe(region, { childList: true, characterData: true, subtree: true });
});

/** What the announcer has said since listenToAnnouncer, once it has said something matching `pattern` or after 10 s. */
export async function saidOnce(page: Page, pattern: RegExp): Promise<string[]> {
  await page.waitForFunction(([source, flags]) => window.said.some((s: string) => new RegExp(source, flags).test(s)), [pattern.source, pattern.flags] as const, { timeout: 10_000 }).catch(() => {});
  return page.evaluate(() => window.said as string[]);
}

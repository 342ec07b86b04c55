import anyTest from 'ava';
import type { Browser } from 'playwright-core';
import { newContext } from './support/browser.js';
import { connectKey, deployThroughForm, type UiStack } from './support/uiStack.js';
import { useBrowserStack } from './support/browserStack.js';
import { takingTurns } from './support/turns.js';

const test = takingTurns(anyTest);

// Code inside page.evaluate runs in the browser; these stand in for the DOM types this (Node-only) project does not load.
declare const window: any;
declare const localStorage: any;
declare const navigator: any;
declare const location: any;

// Issue 15: browser notifications when a deploy the user started ends, even in another tab; the
// permission is asked once, on the Deploy click. The page's Notification is wrapped (and still called)
// so the test can see what the app showed and asked.
let stack: UiStack;
let browser: Browser;
useBrowserStack(test, {}, (b) => ({ stack, browser } = b), { notifications: true });

const RECORD_NOTIFICATIONS = `(() => {
  const Real = window.Notification;
  window.__notes = [];
  window.__asks = 0;
  class Recorded extends Real {
    constructor(title, options) {
      super(title, options);
      const note = { title, tag: options && options.tag, body: options && options.body, closed: false };
      window.__notes.push(note);
      // Closed by the page (the browser closes one itself after ~25 s on screen: headless Chromium does).
      this.close = () => { note.closed = true; Real.prototype.close.call(this); };
    }
    static requestPermission(...args) { window.__asks += 1; return Real.requestPermission(...args); }
  }
  window.Notification = Recorded;
})()`;

test('permission is asked once, on the Deploy click, never on load', async (t) => {
  const { context, page, problems } = await newContext(browser);
  await context.addInitScript(RECORD_NOTIFICATIONS);
  const apiKey = stack.renderAccount('asker');
  stack.addNodeRepo('asker', 'one');
  stack.addNodeRepo('asker', 'two');
  await stack.signInBrowser(page, 'asker');
  await connectKey(page, apiKey);
  t.is(await page.evaluate(() => window.__asks), 0, 'not asked before any gesture');
  await deployThroughForm(page, 'asker/one');
  t.is(await page.evaluate(() => window.__asks), 1);
  await deployThroughForm(page, 'asker/two');
  t.is(await page.evaluate(() => window.__asks), 1, 'asked once');
  await page.reload();
  await deployThroughForm(page, 'asker/one', { serviceName: 'one-again' });
  t.is(await page.evaluate(() => window.__asks), 0, 'not asked again after a reload either');
  t.deepEqual(problems, []);
  await context.close();
});

test('a deploy started in one tab notifies in another tab when it goes live; a failed one says so', async (t) => {
  const { context, page: starter, problems } = await newContext(browser);
  await context.grantPermissions(['notifications'], { origin: stack.url });
  await context.addInitScript(RECORD_NOTIFICATIONS);
  const apiKey = stack.renderAccount('notified');
  stack.addNodeRepo('notified', 'shop');
  stack.addNodeRepo('notified', 'broken');
  stack.render.failBuilds({ serviceName: 'broken' }, 'build_failed');
  await stack.signInBrowser(starter, 'notified');
  await connectKey(starter, apiKey);
  const other = await context.newPage();
  await other.goto(`${stack.url}/#/`);
  await other.getByTestId('user-login').waitFor();

  // Started in the first tab, which is closed before the deploy ends: the other tab notifies.
  await deployThroughForm(starter, 'notified/shop');
  await starter.close();
  await other.waitForFunction(() => window.__notes.length >= 1, null, { timeout: 30_000 });
  const [live] = await other.evaluate(() => window.__notes);
  t.is(live.title, 'shop is live');
  t.regex(live.tag, /^deploy-/);

  await deployThroughForm(other, 'notified/broken');
  await other.waitForFunction(() => window.__notes.length >= 2, null, { timeout: 30_000 });
  const notes = await other.evaluate(() => window.__notes);
  t.is(notes[1].title, 'Deploy of broken failed');
  t.regex(notes[1].body, /build failed/);
  t.is(notes.length, 2, 'one notification per deploy');

  // Two tabs open: both hear the end, only one shows it.
  const third = await context.newPage();
  await third.goto(`${stack.url}/#/`);
  await third.getByTestId('user-login').waitFor();
  stack.addNodeRepo('notified', 'twice');
  await deployThroughForm(other, 'notified/twice');
  const total = async () => (await other.evaluate(() => window.__notes.length)) + (await third.evaluate(() => window.__notes.length));
  // Each tab has handled the end once its view shows it (the notification is decided in the same handler).
  await other.locator('#deployment-status[data-status="live"]').waitFor({ timeout: 30_000 });
  await third.locator('[data-testid=service-card][data-state="live"]').filter({ hasText: 'twice' }).waitFor({ timeout: 30_000 });
  // The tabs settle who shows it through a Web Lock, after their views drew the end: bounded only against a hang.
  for (let i = 0; i < 600 && await total() < 3; i++) await other.waitForTimeout(50);
  t.is(await total(), 3, 'the third deploy was shown once across the two open tabs');

  // Signed out in the third tab: every tab closes the notifications it showed (service names of the user
  // who left), the other tab once it hears the session ended. Each one, whether or not the browser took it
  // off the screen meanwhile: what the browser keeps in its notification list is up to the browser.
  const notClosed = async () => [...await other.evaluate(() => window.__notes), ...await third.evaluate(() => window.__notes)]
    .filter((n: { closed: boolean }) => !n.closed).map((n: { title: string }) => n.title);
  t.is((await notClosed()).length, 3, 'none closed by the page while signed in');
  await third.getByTestId('sign-out').click();
  await third.getByText('You are signed out.').waitFor();
  await other.getByTestId('signin').waitFor({ timeout: 15_000 });
  t.deepEqual(await notClosed(), [], 'every one closed');
  t.deepEqual(problems, []);
  await context.close();
});

test('a tab that has not yet seen another tab\'s claim (localStorage reaches other tabs asynchronously) does not show the notification again', async (t) => {
  const { context, page: first, problems } = await newContext(browser);
  await context.grantPermissions(['notifications'], { origin: stack.url });
  await context.addInitScript(RECORD_NOTIFICATIONS);
  const second = await context.newPage();
  // Signed out: each page forgets the deploys remembered in this browser once, as it shows the sign-in
  // page; what the test remembers comes after that.
  for (const page of [first, second]) {
    await page.goto(`${stack.url}/`);
    await page.getByTestId('signin').waitFor();
  }
  const notesIn = (page: typeof first) => page.evaluate(() => window.__notes.length as number);
  // The first tab hears the end of a deploy started here and shows it.
  await first.evaluate(async () => {
    const m = await import(`${location.origin}/assets/deploy-notify.js`);
    m.rememberStartedDeploy('dpl-lagging', 'lagging', 1);
    m.notifyDeployEnded({ id: 'dpl-lagging', status: 'live' });
  });
  await first.waitForFunction(() => window.__notes.length === 1);
  // The second tab hears the same event while its copy of localStorage still predates that claim (here:
  // the claim taken back and the deploy remembered again, as that tab would still read them).
  await second.evaluate(async () => {
    const m = await import(`${location.origin}/assets/deploy-notify.js`);
    localStorage.removeItem('orch.notify.done.dpl-lagging');
    m.rememberStartedDeploy('dpl-lagging', 'lagging', 1);
    m.notifyDeployEnded({ id: 'dpl-lagging', status: 'live' });
    await navigator.locks.request('orch-deploy-notify-settled', async () => {}); // a turn for its lock request
    await new Promise((resolve) => setTimeout(resolve, 500));
  });
  t.is(await notesIn(first) + await notesIn(second), 1, 'shown once');
  t.deepEqual(problems, []);
  await context.close();
});

// A Deploy answered after its user signed out (the answer on its way as "Sign out" was clicked): the page
// remembered that deployment for notifications and moved to its address, after the sign-out had cleared
// both. The next user signing in in the tab then read that deployment by id (to notify its end) and landed
// on its page: two 404s, which the server counts as that user probing another user's deployment.
test('a Deploy answered after its user signed out: the next user of the tab neither reads that deployment nor lands on it', async (t) => {
  t.timeout(120_000);
  const { context, page, problems } = await stack.signedInWithKey(browser, 'lateanswer', ['late']);
  await context.grantPermissions(['notifications'], { origin: stack.url });
  let signedOut!: () => void;
  const afterSignOut = new Promise<void>((resolve) => { signedOut = resolve; });
  let answered!: () => void;
  const answerHeld = new Promise<void>((resolve) => { answered = resolve; });
  await page.route('**/api/render/deploy', async (route) => {
    const response = await route.fetch(); // made on the server; its answer reaches the page after the sign-out
    answered();
    await afterSignOut;
    await route.fulfill({ response });
  });
  await page.getByRole('link', { name: 'New deploy' }).first().click();
  await page.getByTestId('repo-search').fill('late');
  await page.locator('[data-testid=repo-option][data-repo="lateanswer/late"]').click();
  await page.getByTestId('detected-stack-name').waitFor();
  await page.getByTestId('deploy-submit').click();
  await answerHeld;
  await page.getByTestId('sign-out').click();
  await page.getByText('You are signed out.').waitFor();
  signedOut();
  await page.waitForTimeout(500); // the Deploy handler's turn, with the answer
  const theirs = (await page.evaluate(() => Object.keys(JSON.parse(localStorage.getItem('orch.notify.started') ?? '{}') as object)));
  t.deepEqual(theirs, [], 'nothing of the signed-out user kept for notifications');
  t.is(new URL(page.url()).hash, '', 'the sign-in page\'s address names no deployment');

  const asked: string[] = [];
  page.on('request', (r) => { if (r.url().includes('/api/render/deployments/')) asked.push(r.url()); });
  // In the sign-ins' queue: the file's other test signing in at the same time made the simulator approve its
  // user here (this one waited 30 s for 'lateafter').
  await stack.signInBrowser(page, 'lateafter', { id: 848_484, name: 'Late After', here: true });
  await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
  await page.waitForTimeout(1_000); // the first catch-up's reads
  t.deepEqual(asked, [], 'no read of the previous user\'s deployment');
  t.deepEqual(problems, []);
  await context.close();
});

/**
 * Two tabs of one browser recording notifications, signed in as `login` with a Render key; the first has
 * just deployed `<login>/<repo>`, held building on Render until `release`; the second shows `hash`.
 */
async function buildingWithTwoTabs(login: string, repo: string, hash: string) {
  const { context, page, problems } = await newContext(browser);
  await context.grantPermissions(['notifications'], { origin: stack.url });
  await context.addInitScript(RECORD_NOTIFICATIONS);
  const apiKey = stack.renderAccount(login);
  stack.addNodeRepo(login, repo);
  const release = stack.render.holdPhase({ serviceName: repo }, 'build_in_progress');
  await stack.signInBrowser(page, login);
  await connectKey(page, apiKey);
  const other = await context.newPage();
  await other.goto(`${stack.url}/${hash}`);
  await other.getByTestId('user-login').waitFor();
  await deployThroughForm(page, `${login}/${repo}`);
  await page.locator('#deployment-status[data-status="build_in_progress"]').waitFor({ timeout: 30_000 });
  return { context, page, other, problems, release };
}

// A sign-out stops the session's deploys (credentials_revoked) and says so on the live stream before it
// closes: each open tab of the app heard "failed" for a deploy started here and showed a notification, with
// the service's name, just after its user signed out, for whoever sits at the computer next (and a click
// on it opens that deployment's address in a tab now signed out). (Review of what a shared browser carries
// between users.) A late read's 401 no longer replaces "You are signed out." with "Your session has ended".
test('signing out with a deploy running shows no notification of its end: the deploy stopped with the session', async (t) => {
  t.timeout(120_000);
  const { context, page, other, problems, release } = await buildingWithTwoTabs('leaver', 'running', '#/');

  await page.getByTestId('sign-out').click();
  await page.getByText('You are signed out.').waitFor();
  await other.getByTestId('signin').waitFor({ timeout: 15_000 });
  await page.waitForTimeout(1_000); // a notification is shown a few turns after the event (a Web Lock)
  t.deepEqual([...await page.evaluate(() => window.__notes), ...await other.evaluate(() => window.__notes)], []);
  release();

  t.deepEqual(problems, []);
  await context.close();
});

// The other side of the test above: the page asks for its session before notifying of a deploy stopped for
// its credentials, and notifies when it is still signed in. A key cleared in another tab stops the deploys
// of a user who stays at the computer: they are told, as of any failed deploy, once (by the event, or by the
// read of deploys ended meanwhile that follows the session's change: either, here, tells the user; the test
// fails when a stopped deploy is not notified at all, e.g. credentials_revoked not counted as failed).
test('a key cleared in another tab, the user still signed in: the deploy it stopped is notified as failed', async (t) => {
  t.timeout(120_000);
  const { context, page, other, problems, release } = await buildingWithTwoTabs('keyclearer', 'stopped', '#/settings');

  await other.getByTestId('clear-key').click();
  await other.getByTestId('clear-key-confirm').click();
  await page.locator('#deployment-status[data-status="credentials_revoked"]').waitFor({ timeout: 30_000 });
  // Shown by one of the two tabs (they take turns by a Web Lock).
  const shown = async () => [...await page.evaluate(() => window.__notes), ...await other.evaluate(() => window.__notes)];
  for (let i = 0; i < 100 && (await shown()).length === 0; i++) await new Promise((r) => setTimeout(r, 150));
  await new Promise((r) => setTimeout(r, 1_000)); // and no second one
  const notes = await shown();
  t.deepEqual(notes.map((n: { title: string }) => n.title), ['Deploy of stopped failed'], 'one notification, in one tab');
  t.is(await page.getByTestId('user-login').count(), 1, 'still signed in');
  release();
  t.deepEqual(problems, []);
  await context.close();
});

test('the claims of notifications shown more than a day ago are let go when a deploy starts; newer ones stay', async (t) => {
  const { context, page, problems } = await newContext(browser);
  await context.grantPermissions(['notifications'], { origin: stack.url });
  await context.addInitScript(RECORD_NOTIFICATIONS);
  const apiKey = stack.renderAccount('claimer');
  stack.addNodeRepo('claimer', 'kept');
  await stack.signInBrowser(page, 'claimer');
  await connectKey(page, apiKey);
  const HOUR = 3_600_000;
  await page.evaluate((hour) => {
    localStorage.setItem('orch.notify.done.dpl-written-before-times', '1');
    localStorage.setItem('orch.notify.done.dpl-two-days-old', String(Date.now() - 48 * hour));
    localStorage.setItem('orch.notify.done.dpl-an-hour-old', String(Date.now() - hour));
  }, HOUR);
  const started = Date.now();
  const id = await deployThroughForm(page, 'claimer/kept');
  await page.waitForFunction(() => window.__notes.length >= 1, null, { timeout: 30_000 });
  const claims = await page.evaluate(() => Object.fromEntries(Object.keys(localStorage).filter((k: string) => k.startsWith('orch.notify.done.')).map((k: string) => [k, localStorage.getItem(k)])));
  t.deepEqual(Object.keys(claims).sort(), [`orch.notify.done.${id}`, 'orch.notify.done.dpl-an-hour-old'].sort());
  const claimedAt = Number(claims[`orch.notify.done.${id}`]);
  t.true(claimedAt >= started - 1_000 && claimedAt <= Date.now() + 1_000, 'the new claim holds its time');
  t.deepEqual(problems, []);
  await context.close();
});

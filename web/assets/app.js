/**
 * The single-page UI: boots from /api/meta and /api/session, draws the shell, routes on the URL hash
 * and feeds live deployment updates to whichever view is showing.
 */
import { ApiError, createApi } from './api.js';
import { announce, clearAnnouncement, focusLost, h, notice, replace } from './dom.js';
import { createLive } from './live.js';
import { forgetStartedDeploys, notifyDeployEnded, notifyEndedMeanwhile } from './deploy-notify.js';
import { navKey, parseRoute } from './router.js';
import { renderSandboxBanner, showReleaseBanner } from './banner.js';
import { hideBlockBanner, showBlockBanner } from './block-banner.js';
import { refreshRelativeTimes } from './format.js';
import { renderSignIn } from './view-signin.js';
import { dashboardView } from './view-dashboard.js';
import { deployView } from './view-deploy.js';
import { deploymentView } from './view-deployment.js';
import { serviceView } from './view-service.js';
import { settingsView } from './view-settings.js';
import { auditView } from './view-audit.js';
import { securityView } from './view-security.js';
import { notFoundView } from './view-notfound.js';

// The module graph loaded and runs: boot-guard.js, which says so when it could not, leaves the page alone.
document.documentElement.dataset.appStarted = '1';

const VIEWS = {
  dashboard: dashboardView,
  deploy: deployView,
  deployment: deploymentView,
  service: serviceView,
  settings: settingsView,
  audit: auditView,
  security: securityView,
  notfound: notFoundView,
};

const MODE_TEXT = {
  connecting: 'Connecting to live updates…',
  live: 'Live updates on',
  polling: 'Live updates by polling (streaming unavailable)',
};

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const account = document.getElementById('account');
const liveMode = document.getElementById('live-mode');

const SESSION_ENDED = 'Your session has ended. Sign in again to continue.';
const api = createApi({
  // A read still in flight at a sign-out answers 401 after it: the page already says so ("You are signed out.").
  onSignedOut: (err) => { if (session) showSignedOut({ message: err.code === 'unauthenticated' ? SESSION_ENDED : err.message }); },
  // Not once signed out here: a call answered after the sign-out is the previous user's block. At boot,
  // before any session is known, the session read itself is what a block refuses.
  onBlocked: (err) => { if (session || !sessionRead) showBlockBanner(document.getElementById('block-banner'), err); },
  // Render refused the session's key: the session says so now (server/render/keyRejected.ts), and the pages
  // that show the key's state (Settings, the header's badge, the deploy form, the dashboard) follow it.
  // This browser's other tabs are told as of any session change (their Settings page makes no Render call).
  onKeyRejected: () => { if (session?.render && !session.render.rejectedAt) void followSession().then(signalOtherTabs); },
  // The app was deployed again since this page loaded: offer a reload (web/assets/banner.js).
  onNewRelease: () => showReleaseBanner(document.getElementById('release-banner')),
});
let sessionRead = false;
let meta = { sandbox: false, demo: null };
let session = null;
let auditAvailable = false;
let current = null;
let firstRender = true;

const openDeployment = (id) => { location.hash = `#/deployments/${id}`; };
const live = createLive({
  api,
  onEvent: (e) => {
    current?.onDeployment?.(e);
    // Stopped because this browser's session ended or lost its key (the session changes first): once
    // this page knows which, so that a sign-out (here or in another tab) shows no notification of it to
    // whoever sits here next; a key cleared in another tab, the user still signed in, still does.
    if (e.status === 'credentials_revoked') void followSession().then(() => { if (session) notifyDeployEnded(e, openDeployment); });
    else notifyDeployEnded(e, openDeployment);
  },
  // The end of a deploy started here, published while the stream was down (or no tab was open), is never
  // sent again: views only redrew it, and its notification never came. Read after each gap, boot included.
  onResync: () => { current?.onResync?.(); void notifyEndedMeanwhile(api, openDeployment, session?.user.id); },
  onLogs: (e) => current?.onLogs?.(e),
  onSentinel: (e) => { current?.onSentinel?.(e); void refreshBadge(); },
  onService: (e) => current?.onService?.(e),
  // The badge too: while polling no `sentinel` event refreshes it.
  onServicePoll: () => { current?.onServicePoll?.(); void refreshBadge(); },
  onSessionEnded: () => void followSession(),
  onMode: (mode) => {
    liveMode.textContent = MODE_TEXT[mode] ?? '';
    liveMode.dataset.mode = mode;
  },
});

/** What every view gets. */
const ctx = {
  api,
  get meta() { return meta; },
  get session() { return session; },
  get auditAvailable() { return auditAvailable; },
  get liveMode() { return live.mode; },
  followLogs: (deploymentId) => live.follow(deploymentId),
  onSentinelChanged: () => void refreshBadge(),
  navigate(hash) {
    // An action answered after its session ended (signed out meanwhile) leaves the sign-in page and its
    // address as they are: that user's deployment address would be the next user's page after sign-in.
    if (!session) return;
    if (location.hash === hash) route(); else location.hash = hash;
  },
  // Not once signed out: an action answered after the sign-out would tell the next user of the tab the
  // previous user's names ("payroll: Suspend done"), in the live region of the sign-in page.
  announce: (message) => { if (session) announce(message); },
  /**
   * Asks Render again which workspaces the session's key can use (the deploy form and Settings, as they open:
   * the session keeps the list Render gave when the key was connected). True when the list changed: the
   * session here has Render's now (the view shows it), and other tabs are told. Quietly false when Render
   * could not say, or the session changed meanwhile.
   */
  async refreshWorkspaces() {
    const before = session;
    if (!before?.render?.configured || before.render.rejectedAt) return false;
    let status;
    try { status = await api.refreshWorkspaces(); } catch { return false; }
    if (session !== before || !status?.configured) return false;
    if (JSON.stringify(status.owners) === JSON.stringify(before.render.owners)) return false;
    session = { ...before, render: status };
    // This browser's other tabs follow (followSession: the same key, its workspaces only).
    signalOtherTabs();
    return true;
  },
  async refreshSession() {
    const before = session;
    const now = await api.session();
    signalOtherTabs();
    // Another user signed in (in another tab) while the read was out: this page is the previous user's,
    // and it starts afresh at the dashboard as followSession does. Taken as the session here, followSession
    // would find this tab already moved on and leave that user's page under the new user's name.
    if (before && now && now.user.id !== before.user.id) {
      session = null;
      history.replaceState(null, '', '/');
      location.reload();
      return null;
    }
    session = now;
    if (!session) showSignedOut({ message: SESSION_ENDED });
    else drawAccount();
    return session;
  },
  async signOut() {
    try { await api.logout(); } catch (err) { if (!(err instanceof ApiError) || err.status !== 401) throw err; }
    signalOtherTabs();
    // Whoever signs in next in this tab starts at the dashboard, not on the page this user left (nor on
    // the one the stream's word of this end, come first, kept for them): showSignedOut clears the address
    // while this session is the tab's. Not once it ended here meanwhile (that word, a read's 401): the page
    // it ended on was cleared then, and the tab may have moved since, Back into this user's entries. Cleared
    // after the answer, whichever entry the tab was on lost its tag (claimEntry), and a reload already on its
    // way there came back with this user's deployment address, untagged: the next user to sign in landed on it.
    showSignedOut({ message: 'You are signed out.', kind: 'success' });
    endedOn = null;
  },
};

/**
 * The session ended or its Render key was cleared or replaced, here or in another tab of this browser:
 * show what the session is now. Views drawn from the old one (the key's hint, its workspaces) are
 * drawn again; another user's session (signed in over it elsewhere) starts the page afresh, so nothing
 * of the old user's stays in this page's state.
 */
/**
 * Tells this browser's other tabs that the session changed (a key connected ends no session, so their
 * streams hear nothing of it): a localStorage write fires their `storage` event. The value is a nonce.
 */
const SESSION_SIGNAL = 'session-changed';
function signalOtherTabs() {
  try { localStorage.setItem(SESSION_SIGNAL, `${Date.now()}-${Math.random()}`); } catch { /* storage off: streams still tell of ends */ }
}
window.addEventListener('storage', (e) => { if (e.key === SESSION_SIGNAL) void followSession(); });

async function followSession() {
  const before = session;
  let now;
  try { now = await api.session(); } catch { return; } // the stream's reconnect catches up
  if (session !== before) return; // this tab moved on meanwhile (signed out, refreshed the session)
  // Signed in in another tab: this signed-out one loads the app too.
  if (!before) { if (now) location.reload(); return; }
  if (!now) { showSignedOut({ message: SESSION_ENDED }); return; }
  // Another user: the page in the address is the previous user's (their service, their deployment).
  if (now.user.id !== before.user.id) { history.replaceState(null, '', '/'); location.reload(); return; }
  session = now;
  drawAccount();
  if (JSON.stringify(now.render ?? null) === JSON.stringify(before.render ?? null)) return;
  // The same key, only what the session says of it changed (Render's list of its workspaces, refreshed in
  // another tab; Render's refusal of it): not a key replaced, and a deploy whose answer was lost is still
  // the same request (its Idempotency-Key kept).
  // A key connected (another, or the same one pasted again) has its own verifiedAt; a refresh of its workspaces
  // or a refusal noted leaves it (server/routes/renderKey.ts). The hint alone is 4 characters two keys may share.
  const sameKey = Boolean(before.render?.configured) === Boolean(now.render?.configured)
    && before.render?.keyHint === now.render?.keyHint && before.render?.verifiedAt === now.render?.verifiedAt;
  if (!sameKey) api.forgetUnanswered();
  if (current?.onSessionChanged) current.onSessionChanged({ workspacesOnly: sameKey }); else route();
}

function drawNav(active) {
  const link = (key, href, label) => h('a', { href, class: 'nav__link', 'aria-current': key === active ? 'page' : null, dataset: { nav: key } }, label);
  replace(nav,
    link('dashboard', '#/', 'Dashboard'),
    link('deploy', '#/deploy', 'New deploy'),
    auditAvailable ? link('audit', '#/audit', 'Audit') : null,
    h('a', { href: '#/security', class: 'nav__link', 'aria-current': active === 'security' ? 'page' : null, dataset: { nav: 'security' } }, 'Security', securityBadge),
    h('a', { href: '#/settings', class: 'nav__link', 'aria-current': active === 'settings' ? 'page' : null, dataset: { nav: 'settings' } }, 'Settings', keyBadge));
  nav.hidden = false;
}

/** Header badge on Settings: Render refused the session's key (revoked on its side), so a new one is needed. */
// Its meaning as text for screen readers (an aria-label on a plain span is prohibited by ARIA, and some ignore it).
const keyBadge = h('span', { class: 'nav__badge', hidden: true, 'data-testid': 'key-rejected-badge', title: 'Render rejected your API key (revoked?) — connect a new key' },
  h('span', { 'aria-hidden': 'true' }, '!'), h('span', { class: 'visually-hidden' }, ' Render rejected your API key'));
function drawKeyBadge() {
  keyBadge.hidden = !session?.render?.rejectedAt;
}

/** Header badge: high and medium findings Sentinel has recorded (hidden while there are none). */
const securityBadge = h('span', { class: 'nav__badge', hidden: true, 'data-testid': 'security-badge' });
async function refreshBadge() {
  try {
    const s = await api.sentinel();
    const n = (s?.counts?.high ?? 0) + (s?.counts?.medium ?? 0);
    securityBadge.textContent = String(n);
    securityBadge.hidden = n === 0;
    securityBadge.setAttribute('aria-label', `${n} security finding${n === 1 ? '' : 's'}`);
  } catch { /* the badge is a hint; the page shows errors */ }
}

function drawAccount() {
  drawKeyBadge();
  if (!session) { account.replaceChildren(); return; }
  const { user } = session;
  // The CSP admits GitHub's avatar host only; anything else gets initials instead of a broken image.
  const initials = () => h('span', { class: 'avatar avatar--initials', 'aria-hidden': 'true' }, (user.login || '?').slice(0, 1).toUpperCase());
  let avatar = initials();
  if (/^https:\/\/avatars\.githubusercontent\.com\//.test(user.avatarUrl ?? '')) {
    avatar = h('img', { class: 'avatar', src: user.avatarUrl, alt: '', width: 28, height: 28 });
    avatar.addEventListener('error', () => avatar.replaceWith(initials()), { once: true });
  }
  const signOut = h('button', { type: 'button', class: 'btn btn--ghost btn--small', 'data-testid': 'sign-out' }, 'Sign out');
  signOut.addEventListener('click', async () => {
    signOut.disabled = true;
    try { await ctx.signOut(); } catch (err) {
      signOut.disabled = false;
      if (focusLost()) signOut.focus();
      // Seen as well as heard: someone leaving a shared computer must know they are still signed in.
      main.querySelector('[data-testid=sign-out-failed]')?.remove();
      main.prepend(h('div', { class: 'flash', 'data-testid': 'sign-out-failed' }, notice('error', h('strong', null, 'You are still signed in. '), `Signing out failed: ${err.message}`)));
    }
  });
  replace(account, avatar, h('span', { class: 'account__login', 'data-testid': 'user-login' }, user.login), signOut);
}

function route() {
  if (!session) return;
  claimEntry();
  current?.dispose?.();
  const r = parseRoute(location.hash);
  const view = VIEWS[r.name] ?? notFoundView;
  current = view(ctx, r);
  replace(main, current.el);
  document.title = `${current.title} · Render Deployer`;
  drawNav(navKey(r));
  // Move focus to the new page's heading so keyboard and screen reader users land on it.
  if (!firstRender) main.querySelector('h1')?.focus();
  firstRender = false;
  window.scrollTo(0, 0);
}

/**
 * Each history entry this tab draws is tagged with the signed-in user (its `history.state`). Back or
 * Forward (or a reload) into another user's entry, after a sign-out and someone else's sign-in in this tab,
 * opens the dashboard in its place: drawn, that user's deployment id was read as this one (404s the server
 * notes against them, and counts toward their many-404s probe event). Untagged entries made in this document
 * are its user's (a link clicked here); the one a document loads on is anyone's only if opened by a link
 * (loadedOwner), and the same user's own entries open as before.
 */
function claimEntry({ atLoad = false } = {}) {
  const me = session.user.id;
  const owner = atLoad ? loadedOwner() : history.state?.user ?? null;
  if (owner !== me && owner !== null) history.replaceState({ user: me }, '', '/');
  else if (history.state?.user !== me) history.replaceState({ ...history.state, user: me }, '');
  noteOwner(location.hash, me);
}

/**
 * Whose each address of this tab is, most recent last (sessionStorage, which a reload keeps): a user's id
 * (claimEntry drew it for them), or null (opened signed out by a link, anyone's). The entry's tag can be
 * lost: a reload on its way while showSignedOut replaces its entry (a session ended elsewhere: another
 * tab's sign-out, expiry, a stream's 401) comes back untagged, Chromium committing it as a new entry.
 * The notes go with the session that ends (forgetOwners), so such a reload finds none and opens the
 * dashboard; what they keep across a reload is a link's address signed out (anyone's) and, signed in,
 * the user's own.
 */
const OWNERS = 'page-owners';
const OWNERS_KEPT = 50;
function owners() {
  try {
    const list = JSON.parse(sessionStorage.getItem(OWNERS) ?? '[]');
    return Array.isArray(list) ? list.filter(Array.isArray) : [];
  } catch { return []; }
}
function noteOwner(hash, user) {
  const list = owners().filter(([h]) => h !== hash);
  list.push([hash, user]);
  try { sessionStorage.setItem(OWNERS, JSON.stringify(list.slice(-OWNERS_KEPT))); } catch { /* storage off: the tags alone */ }
}
/**
 * A session that ended here leaves no note of whose this tab's addresses were (its user's id, their
 * deployments): a sign-out's Clear-Site-Data empties it anyway, an expiry or a 401 did not, and the next
 * person at the tab could read it. An untagged reload with no note is taken for another user's (loadedOwner).
 */
function forgetOwners() {
  try { sessionStorage.removeItem(OWNERS); } catch { /* storage off: nothing kept */ }
}
/**
 * Whose the entry this document loaded on is: its tag; else anyone's if a link (or a typed address) opened
 * it; else the owner noted for its address. Undefined when unknown after a reload or Back, taken for another
 * user's: a sign-out's Clear-Site-Data empties the notes of every tab, so an untagged reload of the previous
 * user's page may find none. Where the browser does not say how it loaded, anyone's, as before.
 */
function loadedOwner() {
  if (history.state?.user != null) return history.state.user;
  const how = loadType();
  if (how === 'navigate') return null;
  const noted = owners().find(([h]) => h === location.hash);
  if (noted) return noted[1];
  return how === 'reload' || how === 'back_forward' ? undefined : null;
}
/** How this document was loaded: 'navigate', 'reload', 'back_forward', or undefined if the browser does not say. */
function loadType() {
  // The Navigation API first: it stays true where `performance` is stubbed (a faked clock has no entries).
  const activation = globalThis.navigation?.activation?.navigationType;
  if (activation) return { push: 'navigate', replace: 'navigate', reload: 'reload', traverse: 'back_forward' }[activation];
  return performance.getEntriesByType?.('navigation')[0]?.type;
}

function showSignedOut({ authError = null, message = null, kind = 'error', atLoad = false } = {}) {
  // A session that ended here on a page (expired, signed out in another tab): the page is its user's to
  // come back to, and leaves the address, so that nobody else signing in here (or reloading) opens it.
  if (session) {
    endedOn = { hash: location.hash, user: session.user.id };
    history.replaceState(null, '', '/');
    forgetOwners();
  }
  live.stop();
  forgetStartedDeploys();
  current?.dispose?.();
  current = null;
  session = null;
  nav.hidden = true;
  nav.replaceChildren();
  account.replaceChildren();
  liveMode.textContent = '';
  // What the page said to the user who left: their block (and its reason), the last thing announced.
  hideBlockBanner(document.getElementById('block-banner'));
  clearAnnouncement();
  document.title = 'Sign in · Render Deployer';
  replace(main, renderSignIn({ meta, authError, message, kind }));
  main.querySelector('[data-testid=sign-in]')?.addEventListener('click', rememberPage);
  // A page that was a signed-in one (Sign out pressed, the session ended): the focus, on a control gone with it, fell
  // to <body>, and the new page's notice was not read out. The heading takes it, as a route change gives it.
  if (!atLoad && focusLost()) main.querySelector('h1')?.focus();
}

/**
 * The page a signed-out visitor came for (a link to a deployment, a session that timed out on a service's
 * page) is lost on GitHub's round trip: the callback lands on /. Kept in this tab's sessionStorage when
 * "Sign in" is clicked, and opened after the sign-in if it is one of the app's pages and recent. A page a
 * session ended on (not by this tab's sign-out) is opened only for that session's user: on a shared
 * computer the next person signing in in the tab is someone else, and starts at the dashboard.
 */
const RETURN_TO = 'return-to';
const RETURN_TO_MAX_AGE_MS = 30 * 60_000;
/** The page this tab's session ended on, and whose session it was (showSignedOut): for that user only. */
let endedOn = null;
/**
 * The address this document loaded on signed out, and whose it is (loadedOwner): a link's is anyone's. One
 * reached after a sign-out here (Back into the previous user's pages, a late action's address), or loaded
 * on with no known owner, is not remembered: it would open that user's deployment for the next one, whom
 * the server then takes for a prober of another user's id.
 */
let openedOn = null;
function rememberPage() {
  // The page this tab loaded on, for its owner (anyone, for a link); otherwise the page the session ended
  // on, for its user.
  const opened = parseRoute(location.hash).name !== 'dashboard' && location.hash === openedOn?.hash;
  const page = opened ? openedOn : endedOn;
  const route = parseRoute(page?.hash ?? '');
  // Nothing to remember: a page remembered earlier stays (a sign-in declined on GitHub comes back to
  // /?auth_error=…, and the try after it is still for that page; its user is checked on the way back).
  if (route.name === 'dashboard' || route.name === 'notfound') return;
  try {
    sessionStorage.setItem(RETURN_TO, JSON.stringify({ hash: page.hash, user: page.user, at: Date.now() }));
  } catch { /* storage off: the dashboard it is */ }
}
function takeRememberedPage(userId) {
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(RETURN_TO) ?? 'null');
    sessionStorage.removeItem(RETURN_TO);
  } catch { return null; }
  if (!saved || typeof saved.hash !== 'string' || !(Date.now() - saved.at < RETURN_TO_MAX_AGE_MS)) return null;
  if (saved.user != null && saved.user !== userId) return null; // the previous user's page
  const route = parseRoute(saved.hash);
  return route.name === 'dashboard' || route.name === 'notfound' ? null : saved.hash;
}

async function probeAudit() {
  try {
    await api.audit({ limit: 1 });
    auditAvailable = true;
  } catch {
    auditAvailable = false;
  }
  if (current) drawNav(navKey(parseRoute(location.hash)));
}

async function boot() {
  const query = new URLSearchParams(location.search);
  const authError = query.get('auth_error');
  // Drop ?auth_error from the address bar: the message is shown once, a reload starts clean.
  if (query.size) history.replaceState(history.state, '', `/${location.hash}`);
  try {
    meta = await api.meta();
  } catch {
    meta = { sandbox: false, demo: null };
  }
  renderSandboxBanner(document.getElementById('sandbox-banner'), meta);
  try {
    session = await api.session();
  } catch (err) {
    const blocked = err instanceof ApiError && err.code === 'account_temporarily_blocked';
    replace(main, h('div', { class: 'notice notice--error', role: blocked ? null : 'alert' },
      blocked ? 'The app loads again when the block lifts (see above).' : `Could not load the app: ${err.message}`));
    return;
  }
  sessionRead = true;
  if (!session) {
    const owner = loadedOwner();
    if (owner !== undefined) openedOn = { hash: location.hash, user: owner };
    // Signed out: the notes of the session that ended (expired while the tab was closed or away, so no
    // document of it saw the end) go, as showSignedOut's forgetOwners does; only this page's, if a link's.
    forgetOwners();
    if (owner === null) noteOwner(location.hash, null); // a link's reload is still the link
    showSignedOut({ authError, atLoad: true });
    return;
  }
  // Loaded on another user's entry (a reload, Back from another page): the dashboard, before anything reads it.
  claimEntry({ atLoad: true });
  // Back from signing in: to the page asked for then, unless this address names one itself.
  const remembered = takeRememberedPage(session.user.id);
  if (remembered && parseRoute(location.hash).name === 'dashboard') history.replaceState(null, '', `/${remembered}`);
  signalOtherTabs();
  drawAccount();
  live.start();
  // The first view reads its data once the stream is subscribed: nothing published meanwhile is lost,
  // and the stream's open needs no second read.
  await live.opened();
  route();
  // Listened for only now: a hash changed while the stream opened is drawn by the route() above, once.
  // Listening earlier drew that view twice, and the second drawing replaced a form already typed in.
  window.addEventListener('hashchange', route);
  setInterval(() => refreshRelativeTimes(main), 30_000);
  void probeAudit();
  void refreshBadge();
}

document.getElementById('skip-link').addEventListener('click', (e) => {
  // The hash is the router's; move focus without touching it.
  e.preventDefault();
  main.focus();
});

boot();

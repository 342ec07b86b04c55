/**
 * Browser notifications when a deploy the user started here ends (issue 15): live, or failed. The
 * deployments started from this browser are kept in localStorage, so whichever tab of the app is open
 * when the live stream reports the end shows it, even if the deploy was started from another tab. An end
 * no tab heard (its stream down, no tab open) is found when a tab catches up (notifyEndedMeanwhile).
 * Every tab hears the same event: the tab that takes the deployment's Web Lock first, and finds it not
 * yet claimed in localStorage, notifies; the notification's tag (the deployment id) folds any duplicate.
 * Permission is asked at most once, from the Deploy button's click (browsers only ask on a user gesture).
 */
const STARTED = 'orch.notify.started';
const ASKED = 'orch.notify.asked';
/** `orch.notify.done.<deployment id>`: the time (ms) the tab that showed its notification claimed it. */
const CLAIM = 'orch.notify.done.';
/** How long a started deploy and a claim are kept: a day. */
const KEEP_MS = 24 * 3_600_000;
/** How long the tab that showed a deploy's notification holds its lock: far past a localStorage write's way to the other tabs. */
const CLAIM_HOLD_MS = 30_000;
const FAILED = new Set(['build_failed', 'update_failed', 'pre_deploy_failed', 'failed', 'credentials_revoked']);

const supported = () => typeof Notification !== 'undefined' && typeof localStorage !== 'undefined';

/**
 * The notifications this tab showed in this session, closed when it ends (forgetStartedDeploys). Kept
 * after their 'close' event too: a browser may take one off the screen and still list it.
 */
const shownHere = new Set();

function readStarted() {
  try {
    const all = JSON.parse(localStorage.getItem(STARTED) ?? '{}');
    return all && typeof all === 'object' ? all : {};
  } catch { return {}; }
}

/** Call first thing in the Deploy click/submit handler: asks for permission once, ever, per browser. */
export function askNotificationPermissionOnce() {
  if (!supported() || Notification.permission !== 'default' || localStorage.getItem(ASKED)) return;
  localStorage.setItem(ASKED, new Date().toISOString());
  try { void Notification.requestPermission(); } catch { /* old browsers: callback form only; skip */ }
}

/**
 * A deploy user `userId` started in this browser: notify when it ends. Kept with whose it is: a session that
 * ended without a sign-out here (expired, the browser closed) leaves its deploys remembered, and the next
 * user of the browser must not ask for them (the server takes a read of another user's deployment for a
 * probe, and reports that user). None without a user: a Deploy answered after its session's sign-out.
 */
export function rememberStartedDeploy(id, serviceName, userId, now = Date.now()) {
  if (!supported() || userId == null) return;
  const all = readStarted();
  for (const [k, v] of Object.entries(all)) if (!(now - (v?.at ?? 0) < KEEP_MS)) delete all[k];
  all[id] = { name: String(serviceName ?? ''), at: now, user: userId };
  localStorage.setItem(STARTED, JSON.stringify(all));
  forgetOldClaims(now);
}

/**
 * A claim only has to outlive its deploy's end reaching every open tab, but each shown notification left
 * one (the ids of a day's deploys add up over months of use): those older than a day go, as started
 * deploys do. A claim written before claims held their time ('1') is old.
 */
function forgetOldClaims(now) {
  try {
    for (const k of Object.keys(localStorage)) {
      if (k.startsWith(CLAIM) && !(now - Number(localStorage.getItem(k)) < KEEP_MS)) localStorage.removeItem(k);
    }
  } catch { /* storage off */ }
}

/**
 * The session ended (signed out, expired, another user): its deploys stopped with it, and nothing of
 * them (ids, service names) stays in this browser for whoever uses it next, in the system's notification
 * list either: each tab closes those it showed (a tab closed before cannot; the next user's click on one
 * opens a deployment that is not theirs: a 404).
 */
export function forgetStartedDeploys() {
  for (const n of shownHere) { try { n.close(); } catch { /* already gone */ } }
  shownHere.clear();
  if (typeof localStorage === 'undefined') return;
  try {
    for (const k of Object.keys(localStorage)) if (k === STARTED || k.startsWith(CLAIM)) localStorage.removeItem(k);
  } catch { /* storage off: nothing was kept */ }
}

/**
 * A deploy started here that ended while this tab heard nothing (its stream down: a laptop asleep, a
 * network change; or no tab of the app open) is never told of again: the update was published then. So
 * each catch-up (live.js onResync: the stream's open after a gap, the first one at boot included, and
 * polling's start) reads the deployments still remembered and notifies those that ended; one that did not
 * stays remembered for its end's event. One request: the newest page of the user's deployments (a
 * deploy remembered but not on it, a hundred newer since, is read by id). None without a deploy
 * remembered or without the permission to show one.
 */
export async function notifyEndedMeanwhile(api, onOpen, userId, now = Date.now()) {
  if (!supported()) return;
  const all = readStarted();
  // Another user's (this browser's user before, whose session ended without a sign-out here): forgotten unread.
  const others = Object.keys(all).filter((id) => userId == null || all[id]?.user !== userId);
  if (others.length) {
    for (const id of others) delete all[id];
    try { localStorage.setItem(STARTED, JSON.stringify(all)); } catch { /* storage off */ }
  }
  if (Notification.permission !== 'granted') return;
  const ids = Object.entries(all).filter(([, v]) => now - (v?.at ?? 0) < KEEP_MS).map(([id]) => id);
  if (!ids.length) return;
  let listed;
  try { listed = new Map(((await api.myDeployments({ limit: 100 })).deployments ?? []).map((d) => [d.id, d])); } catch { return; }
  for (const id of ids) {
    let d = listed.get(id);
    if (!d) {
      try { d = await api.deployment(id); } catch (err) {
        // Not the user's (any more): no end of it will ever come.
        if (err?.status === 404) forgetStarted(id);
        continue;
      }
    }
    if (typeof d?.status === 'string') notifyDeployEnded({ id, status: d.status }, onOpen);
  }
}

function forgetStarted(id) {
  const all = readStarted();
  if (!(id in all)) return;
  delete all[id];
  try { localStorage.setItem(STARTED, JSON.stringify(all)); } catch { /* storage off */ }
}

/** A live-stream event {id, status}: a notification when a deploy started here went live or failed. */
export function notifyDeployEnded(event, onOpen) {
  if (!supported() || Notification.permission !== 'granted') return;
  const live = event.status === 'live';
  if (!live && !FAILED.has(event.status)) return;
  if (!readStarted()[event.id]) return;
  // Every open tab hears the same event: exactly one of them shows it (claimAndShow true).
  const claimAndShow = () => {
    const all = readStarted();
    const started = all[event.id];
    if (!started || localStorage.getItem(CLAIM + event.id)) return false;
    localStorage.setItem(CLAIM + event.id, String(Date.now()));
    delete all[event.id];
    localStorage.setItem(STARTED, JSON.stringify(all));
    const name = started.name || 'Your service';
    const n = new Notification(live ? `${name} is live` : `Deploy of ${name} failed`, {
      body: live ? 'The deploy finished and the service is running on Render.' : `Status: ${event.status.replaceAll('_', ' ')}. Open it to see the logs.`,
      tag: `deploy-${event.id}`,
    });
    shownHere.add(n);
    n.addEventListener('click', () => { window.focus(); onOpen?.(event.id); n.close(); });
    return true;
  };
  if (!navigator.locks?.request) { claimAndShow(); return; }
  // The claim in localStorage reaches the origin's other tabs only asynchronously (Chromium keeps a copy
  // per renderer process): a tab taking a shared lock right after the claim could still read it as
  // unclaimed, and under load one did (two notifications for one deploy). So the tab that shows it
  // keeps this deployment's lock a while; the others, finding it held, let it be.
  void navigator.locks.request(`orch-deploy-notify-${event.id}`, { ifAvailable: true }, async (lock) => {
    if (lock && claimAndShow()) await new Promise((resolve) => setTimeout(resolve, CLAIM_HOLD_MS));
  }).catch(() => {});
}

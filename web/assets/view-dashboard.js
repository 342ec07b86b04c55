/** Dashboard: the caller's deployments (live statuses) and Render services (with lifecycle actions). */
import { busy, focusFirstRow, focusLost, h, keepFocus, keepOpen, latestOnly, notice, replace, rowsPast } from './dom.js';
import { relativeTime, timeEl } from './format.js';
import { isTerminal, serviceStateBadge, setBadge, statusBadge, statusLabel } from './status.js';
import { IN_PLACE_OF, serviceActions } from './service-actions.js';
import { siteLink } from './site-link.js';


/**
 * A deploy started on Render's side (its Dashboard, an auto-deploy on push) publishes no event here (the
 * stream carries only what the app did), and the deployments list is the app's own records: only the
 * service cards can show it. So while the page streams and its tab is visible, the cards are read again
 * once they have not been read for CARDS_IDLE_MS (a hidden tab reads nothing; on its return, at once if
 * due), and drawn again only when the answer changed. A read costs 1 Render GET a page of services and 1
 * per service (its newest deploy), once per 8 s across the user's tabs (server/render/serviceCache.ts):
 * at most services + 1 a minute per open dashboard. While polling, onServicePoll reads them every 15 s.
 */
const CARDS_IDLE_MS = 60_000;
/**
 * While a card shows a deploy in progress (a Resume here starts one on Render's side, which no event
 * announces): read every 6 s, as the settings page does while a deploy runs, so it is not shown
 * "Deploying" for a minute after it went live. The server's list cache still bounds the Render calls.
 */
const CARDS_BUSY_MS = 6_000;

const TYPE_LABELS = {
  web_service: 'Web service', static_site: 'Static site', private_service: 'Private service',
  background_worker: 'Background worker', cron_job: 'Cron job',
};

export function deploymentRow(d) {
  const req = d.request ?? {};
  // A finished deployment of a deleted service is not "Live" any more, whatever its last status was.
  const shown = d.serviceDeleted && d.finished ? 'service_deleted' : d.status;
  const badge = statusBadge(shown, { 'data-testid': 'deployment-row-status', title: shown === d.status ? null : `Last status: ${statusLabel(d.status)}` });
  return h('li', { class: 'row', dataset: { deploymentId: d.id }, 'data-testid': 'deployment-row' },
    h('a', { class: 'row__link', href: `#/deployments/${d.id}` },
      h('span', { class: 'row__main' },
        h('span', { class: 'row__title' }, req.serviceName || 'Deployment'),
        h('span', { class: 'row__meta' },
          req.githubRepo ? h('span', { class: 'mono' }, req.githubRepo) : null,
          req.branch ? h('span', { class: 'mono' }, ` @ ${req.branch}`) : null,
          // A space before each tag: the link's text (read out as its name) is otherwise '@ mainredeploy'.
          d.kind && d.kind !== 'deploy' ? [' ', h('span', { class: 'tag' }, d.kind)] : null,
          d.serviceDeleted ? [' ', h('span', { class: 'tag', 'data-testid': 'service-deleted' }, `was ${statusLabel(d.status).toLowerCase()}`)] : null,
          d.status === 'deactivated' ? h('span', { class: 'muted' }, ' replaced by a newer deploy') : null)),
      h('span', { class: 'row__side' }, badge, h('span', { class: 'row__time' }, timeEl(h, d.updatedAt ?? d.createdAt)))));
}

export function dashboardView(ctx) {
  const configured = Boolean(ctx.session.render?.configured);
  const flash = h('div', { class: 'flash' });
  const list = h('ol', { class: 'rows', 'aria-label': 'Your deployments', 'data-testid': 'deployment-list' });
  const listStatus = h('p', { class: 'muted', role: 'status' }, 'Loading deployments…');
  const more = h('button', { type: 'button', class: 'btn btn--secondary', hidden: true }, 'Load older deployments');
  const services = h('div', { class: 'services', 'data-testid': 'service-list' });
  const servicesHeading = h('h2', { id: 'services-heading', tabindex: '-1' }, 'Render services');
  let nextCursor = null;
  let reloadTimer = null;
  let servicesTimer = null;
  let disposed = false;
  /** When the cards were last answered, reads of them out, what was drawn, and the timer of the next read for Render's own deploys. */
  let cardsReadAt = 0;
  let cardsOut = 0;
  let cardsDrawn = null;
  /** The last read showed a deploy in progress on some card (read every CARDS_BUSY_MS then). */
  let cardsBusy = false;
  let watchTimer = null;
  /** Set while the timer starts a read: that read draws the cards only if they changed. */
  let watching = false;

  // Reloads started so far. An answer is drawn only if no reload started after its request: that
  // reload reads at least as far (a page more than was shown), so a 'Load older' page it overtook would
  // list its rows twice, and an older reload would bring back a stale list.
  let reloads = 0;

  // The newest status heard live for each deployment: a list answer read before it arrived (a reload's, on its way
  // back meanwhile) drew the row back to the older status, and nothing drew it again (found by a live-updates probe).
  const heard = new Map();
  const withHeard = (d) => {
    const e = heard.get(d.id);
    if (!e) return d;
    if (!(e.updatedAt > (d.updatedAt ?? ''))) { heard.delete(d.id); return d; }
    return { ...d, status: e.status, updatedAt: e.updatedAt, finished: isTerminal(e.status) };
  };

  async function loadDeployments({ append = false } = {}) {
    const generation = append ? reloads : ++reloads;
    const lastShown = list.lastElementChild?.dataset.deploymentId;
    try {
      // A reload (a deployment started elsewhere, a reconnect) reads as far as the list was paged, and a
      // page more for what is new: older pages a user loaded stay, with the row they were on focused.
      const shown = append ? 0 : list.children.length;
      const page = await ctx.api.myDeployments({ limit: Math.min(100, shown + 20), cursor: append ? nextCursor : null });
      if (disposed) return;
      if (generation !== reloads) {
        // Overtaken by a reload that listed the rows this page brought: a keyboard user's focus goes to the
        // first of them, as it would have, when the button is gone.
        if (append && more.hidden && lastShown) focusFirstRow(list.querySelector(`[data-deployment-id="${CSS.escape(lastShown)}"]`)?.nextElementSibling);
        return;
      }
      const rows = (page.deployments ?? []).map((d) => deploymentRow(withHeard(d)));
      // Older rows loaded past what a reload reads (100 at most) stay, with the cursor past them.
      const kept = append || !page.nextCursor ? [] : rowsPast(list, rows, 'deploymentId');
      if (!kept.length) nextCursor = page.nextCursor ?? null;
      const focusedId = append ? null : document.activeElement?.closest('[data-deployment-id]')?.dataset.deploymentId;
      if (append) list.append(...rows); else replace(list, [...rows, ...kept]);
      more.hidden = !nextCursor;
      if (append && more.hidden) focusFirstRow(rows[0]);
      if (focusedId && focusLost()) list.querySelector(`[data-deployment-id="${CSS.escape(focusedId)}"] a`)?.focus();
      listStatus.textContent = list.children.length ? '' : 'No deployments yet. Deploy a repository and it shows up here, live.';
      listStatus.hidden = list.children.length > 0;
    } catch (err) {
      if (disposed || generation !== reloads) return;
      listStatus.hidden = false;
      listStatus.textContent = `Could not load deployments: ${err.message}`;
    }
  }
  more.addEventListener('click', () => busy(more, 'Loading…', () => loadDeployments({ append: true })));

  /** "Latest deploy: build failed · 1a2b3c4 · 3 min ago" */
  function latestDeployLine(s) {
    const d = s.latestDeploy;
    if (!d) return s.state === 'not_deployed' ? h('p', { class: 'service__latest muted' }, 'Render has no deploy of this service yet.') : null;
    return h('p', { class: 'service__latest', 'data-testid': 'service-latest-deploy' },
      h('span', { class: 'muted' }, 'Latest deploy: '), statusLabel(d.status === 'queued' ? 'render_queued' : d.status),
      d.commitId ? [' · ', h('span', { class: 'mono', title: d.commitId }, d.commitId.slice(0, 7))] : null,
      d.finishedAt || d.createdAt ? [' · ', timeEl(h, d.finishedAt ?? d.createdAt)] : null);
  }

  function serviceCard(s) {
    const suspended = s.suspended === true || s.suspended === 'suspended';
    const actionFlash = h('div', { class: 'flash' });
    const actions = serviceActions({
      ctx, service: s, flash: actionFlash, reload: loadServices, fallback: servicesHeading, disposed: () => disposed,
      find: (testId) => services.querySelector(`[data-service-id="${CSS.escape(s.id)}"] [data-testid="${CSS.escape(testId)}"]`),
    });
    // Render names a service's URL when it is created; it serves nothing until a deploy has been live
    // (beenLive null: not known, the link stays as before).
    const url = s.beenLive === false ? null : s.url ?? null;
    return h('li', { class: 'card service', dataset: { serviceId: s.id, state: s.state ?? (suspended ? 'suspended' : 'unknown') }, 'data-testid': 'service-card' },
      h('div', { class: 'service__head' },
        h('h3', { class: 'service__name' }, s.name),
        serviceStateBadge(s.state ?? (suspended ? 'suspended' : 'unknown'))),
      h('p', { class: 'service__meta' },
        [TYPE_LABELS[s.type] ?? s.type, s.runtime, s.region, s.plan].filter(Boolean).join(' · ')),
      s.repo ? h('p', { class: 'service__repo mono' }, String(s.repo).replace(/^https:\/\/github\.com\//, ''), s.branch ? ` @ ${s.branch}` : '') : null,
      // Render lists pull request previews with the services: say whose, so one is not taken for a service of its own.
      s.previewOf ? h('p', { class: 'muted', 'data-testid': 'preview-of' }, `Pull request preview of ${s.previewOf.name}`) : null,
      latestDeployLine(s),
      h('p', { class: 'service__links' },
        // A private service's host:port is no link (site-link.js).
        siteLink(url, 'Open site'),
        s.dashboardUrl ? h('a', { href: s.dashboardUrl, rel: 'noopener noreferrer', target: '_blank' }, 'Render dashboard', h('span', { class: 'visually-hidden' }, ' (new tab)')) : null,
        s.updatedAt ? h('span', { class: 'muted' }, `updated ${relativeTime(s.updatedAt)}`) : null),
      h('div', { class: 'actions actions--compact' },
        h('a', { class: 'btn btn--secondary btn--small', href: `#/services/${s.id}`, 'data-testid': 'service-settings' }, 'Settings'),
        suspended ? null : actions.redeploy(),
        actions.suspendOrResume(suspended),
        actions.delete()),
      actionFlash);
  }

  // Reads overlap (a change here, events from other tabs): an answer overtaken by a later read is
  // dropped (latestOnly), or a slow one from before a delete would draw the deleted service again, for good.
  const loadServices = latestOnly(async (current) => {
    if (!configured) return;
    const quiet = watching;
    cardsOut += 1;
    try {
      const res = await ctx.api.services();
      cardsReadAt = Date.now();
      if (disposed || !current()) return;
      const items = res.services ?? [];
      cardsBusy = items.some((s) => s.latestDeploy && !isTerminal(s.latestDeploy.status));
      // The timer's read of an unchanged list draws nothing again: focus, a screen reader's place and what was opened stay.
      const drawn = JSON.stringify(items);
      if (quiet && drawn === cardsDrawn) return;
      cardsDrawn = drawn;
      // Drawn again after a change (perhaps in another tab): focus on a card stays on that card's control,
      // and a delete asked for stays asked.
      const keyOf = (el) => el.closest('[data-service-id]')?.dataset.serviceId;
      const itemOf = (serviceId) => services.querySelector(`[data-service-id="${CSS.escape(serviceId)}"]`);
      await keepFocus({ area: services, fallback: servicesHeading, alternatives: IN_PLACE_OF, keyOf, itemOf }, () => keepOpen({ area: services, keyOf, itemOf }, () => replace(services, items.length
        ? h('ul', { class: 'cards' }, items.map(serviceCard))
        : h('p', { class: 'muted' }, 'No services on your Render account yet.'))));
    } catch (err) {
      cardsReadAt = Date.now();
      if (disposed || !current()) return;
      cardsDrawn = null;
      replace(services, h('p', { class: 'muted' }, err.status === 404 ? 'The service list is not available on this server.' : `Could not load your Render services: ${err.message}`));
    } finally {
      cardsOut -= 1;
      watchCards();
    }
  });

  /** How often the cards are read while nothing announces what Render does (CARDS_IDLE_MS, CARDS_BUSY_MS above). */
  const cardsEvery = () => (cardsBusy ? CARDS_BUSY_MS : CARDS_IDLE_MS);

  /** (Re)schedules the cards' next read for what Render started itself (CARDS_IDLE_MS above). */
  function watchCards() {
    clearTimeout(watchTimer);
    watchTimer = null;
    if (disposed || !configured || document.visibilityState === 'hidden') return;
    watchTimer = setTimeout(watchTick, Math.max(0, cardsReadAt + cardsEvery() - Date.now()));
  }
  function watchTick() {
    watchTimer = null;
    if (disposed || document.visibilityState === 'hidden') return;
    // Polling (onServicePoll reads them) or connecting (the open's resync will): not now. A read out: its end reschedules.
    if (ctx.liveMode !== 'live') { watchTimer = setTimeout(watchTick, CARDS_IDLE_MS); return; }
    if (cardsOut > 0) return;
    const due = cardsReadAt + cardsEvery() - Date.now();
    if (due > 0) { watchTimer = setTimeout(watchTick, due); return; }
    watching = true;
    try { void loadServices(); } finally { watching = false; }
  }
  const onVisibility = () => watchCards();
  document.addEventListener('visibilitychange', onVisibility);

  /** The service cards show each one's latest deploy and whether it still exists: read them again once a burst settles. */
  function reloadServicesSoon() {
    clearTimeout(servicesTimer);
    servicesTimer = setTimeout(() => loadServices(), 500);
  }

  // Render refused the key on a call made with it (revoked on Render's side): the services below cannot load.
  const keyRejected = h('div');
  const drawKeyRejected = () => replace(keyRejected, ctx.session.render?.rejectedAt ? h('div', { 'data-testid': 'key-rejected' }, notice('error',
    h('strong', null, 'Render rejected your API key (revoked?) — connect a new key. '),
    h('a', { href: '#/settings' }, 'Go to settings'))) : null);
  drawKeyRejected();

  const el = h('section', { class: 'page' },
    h('div', { class: 'page__head' },
      h('h1', { tabindex: '-1' }, 'Dashboard'),
      h('a', { class: 'btn btn--primary', href: '#/deploy', 'data-testid': 'new-deploy' }, '+ New deploy')),
    flash,
    configured ? null : notice('info',
      h('strong', null, 'Connect your Render API key to start deploying. '),
      h('a', { href: '#/settings', 'data-testid': 'connect-key-link' }, 'Go to settings')),
    keyRejected,
    h('section', { class: 'section', 'aria-labelledby': 'deployments-heading' },
      h('h2', { id: 'deployments-heading' }, 'Deployments'),
      listStatus, list, more),
    configured ? h('section', { class: 'section', 'aria-labelledby': 'services-heading' },
      servicesHeading,
      replace(services, h('p', { class: 'muted' }, 'Loading services…'))) : null);

  loadDeployments();
  loadServices();

  return {
    title: 'Dashboard',
    el,
    onDeployment(e) {
      if (e.updatedAt && !(heard.get(e.id)?.updatedAt >= e.updatedAt)) heard.set(e.id, { status: e.status, updatedAt: e.updatedAt });
      const row = list.querySelector(`[data-deployment-id="${CSS.escape(e.id)}"]`);
      if (!row) {
        // A deployment this page has not listed yet (another tab, a redeploy): reload once things settle.
        clearTimeout(reloadTimer);
        reloadTimer = setTimeout(() => loadDeployments(), 300);
        return;
      }
      const badge = row.querySelector('.badge');
      if (badge.dataset.status === e.status || badge.dataset.status === 'service_deleted') {
        // Same status, changed record (its service was deleted, say, perhaps in another tab): re-read the
        // list and the cards once things settle.
        if (isTerminal(e.status)) { clearTimeout(reloadTimer); reloadTimer = setTimeout(() => loadDeployments(), 300); reloadServicesSoon(); }
        return;
      }
      setBadge(badge, e.status);
      const time = row.querySelector('time');
      if (time && e.updatedAt) { time.dateTime = e.updatedAt; time.textContent = relativeTime(e.updatedAt); }
      if (isTerminal(e.status)) {
        const name = row.querySelector('.row__title')?.textContent ?? 'Deployment';
        ctx.announce(`${name}: ${statusLabel(e.status)}`);
        reloadServicesSoon();
      }
    },
    // A service changed (suspended, resumed, deleted, its settings), here or in another tab: read the cards again.
    onService() { reloadServicesSoon(); },
    // Polling (no stream, so no service changes heard): the cards are read again now and then (the server caches the list).
    onServicePoll() { loadServices(); },
    // After a gap in the stream (a reconnect, a tab asleep) the cards may be as stale as the list; drawn again
    // only if they changed, as the timer's reads (live.js reopens a stream silent for a few keepalives, and a tab
    // woken from sleep does so at once: unchanged cards drawn again lost focus and what was opened on them).
    onResync() {
      loadDeployments();
      watching = true;
      try { void loadServices(); } finally { watching = false; }
    },
    /**
     * The same key's state changed (Render's refusal of it noted, by this page's read or in another tab; its
     * workspaces refreshed): the notice follows in place. The page drawn again whole (route) moved focus to
     * its heading, and a keyboard or screen-reader user lost their place. Another key, or none: drawn again.
     */
    onSessionChanged({ workspacesOnly = false } = {}) {
      if (!workspacesOnly) { ctx.navigate(location.hash); return; }
      const wasRejected = Boolean(keyRejected.firstChild);
      drawKeyRejected();
      // No longer refused (the same key stored again): the cards' error was its refusal's.
      if (wasRejected && !ctx.session.render?.rejectedAt) void loadServices();
    },
    dispose() { disposed = true; clearTimeout(reloadTimer); clearTimeout(servicesTimer); clearTimeout(watchTimer); document.removeEventListener('visibilitychange', onVisibility); },
  };
}

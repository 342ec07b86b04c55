/**
 * A service's settings page (#/services/:id): auto-deploy and its deploy history (rollback, clear-cache
 * redeploy), instances / plan / health check / PR previews (a cron job: its schedule and plan), env vars,
 * secret files and custom domains.
 */
import { busy, field, focusFirstRow, focusLost, h, keepFocus, keepOpen, latestOnly, notice, openable, replace, rowsPast, setOpen } from './dom.js';
import { timeEl, triggerLabel } from './format.js';
import { isTerminal, statusBadge } from './status.js';
import { secretsSection } from './service-secrets.js';
import { domainsSection } from './service-domains.js';
import { IN_PLACE_OF, serviceActions } from './service-actions.js';
import { siteLink } from './site-link.js';
import { cronScheduleProblem } from './cron.js';
import { SCHEDULE_HINT, SCHEDULE_LABEL, SCHEDULE_NEEDED } from './service-type.js';

const TYPE_LABELS = { web_service: 'Web service', static_site: 'Static site', private_service: 'Private service', background_worker: 'Background worker', cron_job: 'Cron job' };
/** Render's statuses of a deploy that is or was live (the server's wasLive). */
const WENT_LIVE = new Set(['live', 'deactivated']);
/**
 * A deploy started on Render's side (its Dashboard, its auto-deploy on a push) publishes no event here:
 * the stream carries only changes made through this app. So while the page streams and is visible, its
 * deploy history is read again once it has not been read for HISTORY_IDLE_MS, or HISTORY_BUSY_MS while
 * the newest deploy listed is on its way; a read for any other cause (an update heard) counts, and a
 * hidden tab reads nothing (on its return it reads at once if one is due). Each read is three Render
 * GETs (the service, the page, the live deploy): 9 a minute per open page, 30 while a deploy is on its
 * way, of the key's 360 (server/render/budget.ts). While polling, onServicePoll reads it every 15 s instead.
 */
const HISTORY_IDLE_MS = 20_000;
const HISTORY_BUSY_MS = 6_000;
const PREVIEW_WARNING = 'Preview instances get this service\'s environment variables, database URLs and secrets included, and run code from pull requests.';

export function serviceView(ctx, route) {
  const id = route.id;
  const heading = h('h1', { tabindex: '-1' }, 'Service settings');
  const meta = h('p', { class: 'muted', 'data-testid': 'service-meta' });
  const links = h('p', { class: 'service__links' });
  const applyBanner = h('div', { 'data-testid': 'apply-banner' });
  // The service's state (loading, suspended, deleted, not found) and, beside it, what an action here said
  // (a failed auto-deploy toggle): one does not replace the other.
  const stateNotice = h('div');
  const actionNotice = h('div');
  // Render refused the session's key (noted by a call of this page's, another page's or the worker's).
  const keyNotice = h('div');
  const drawKeyNotice = () => replace(keyNotice, ctx.session.render?.rejectedAt ? h('div', { 'data-testid': 'key-rejected' }, notice('error',
    h('strong', null, 'Render rejected your API key (revoked?) — connect a new key. '), 'Nothing on this page can be read or changed with it. ',
    h('a', { href: '#/settings' }, 'Go to settings'))) : null);
  drawKeyNotice();
  const top = h('div', { 'data-testid': 'service-notices' }, keyNotice, stateNotice, actionNotice);
  const autoBox = h('input', { type: 'checkbox', id: 'auto-deploy', 'data-testid': 'auto-deploy' });
  const autoNote = h('p', { class: 'field__hint', 'data-testid': 'auto-deploy-note' });
  const history = h('ol', { class: 'rows', 'aria-label': 'Deploys', 'data-testid': 'deploy-history' });
  const historyFlash = h('div');
  const more = h('button', { type: 'button', class: 'btn btn--ghost', hidden: true }, 'Load older deploys');
  const scaling = h('div', { 'data-testid': 'scaling-section' });
  const scalingHeading = h('h2', { id: 'scaling-heading' }, 'Scaling, plan and previews');
  // Suspend / Resume, as on the dashboard's card (service-actions.js).
  const lifecycleButtons = h('div', { class: 'actions actions--compact' });
  const lifecycleFlash = h('div', { class: 'flash' });
  const lifecycle = h('div', { 'data-testid': 'service-lifecycle' }, lifecycleButtons, lifecycleFlash);
  let settings = null;
  let nextCursor = null;
  let disposed = false;
  /** The env var, secret file and custom domain sections, once the service is read. */
  let sections = null;
  /** The lifecycle buttons' actions, once the service is read. */
  let actions = null;
  /** The scaling form was edited since it was drawn: a change from another tab does not redraw it. */
  let scalingEdited = false;
  /** The service was deleted (here we only hear of it): the page says so and offers nothing. */
  let deleted = false;
  /**
   * Whether a deploy of the service has ever been live, as the deploy history listed here says (the
   * dashboard card's beenLive): true when a listed one is or was live, false when the whole history is
   * listed and none was, null when not known (older deploys not listed, or the history could not be read).
   * Undefined until the history first answers, so "Open site" is not offered and then taken back.
   */
  let beenLive;

  /**
   * While the service is suspended Render serves nothing and refuses a redeploy or a rollback (409
   * service_suspended), so, as on the dashboard's card, none is offered and no deploy is "Serving now".
   * Marked here, hidden or shown again by drawSuspended (drawService: this page's Suspend / Resume, or
   * another tab's, heard as a service event), without reading the history again.
   */
  const whileRunning = (el) => { el.dataset.whileRunning = ''; el.hidden = Boolean(settings?.suspended); return el; };
  function drawSuspended() {
    for (const el of [...body.querySelectorAll('[data-while-running]'), ...applyBanner.querySelectorAll('[data-while-running]')]) el.hidden = Boolean(settings.suspended);
  }

  const offerRedeploy = () => replace(applyBanner, notice('info', 'Saved on Render. It takes effect at the next deploy. ', redeployButton('Redeploy to apply', false, 'apply-redeploy')));

  function redeployButton(label, clearCache, testId) {
    const b = h('button', { type: 'button', class: `btn ${testId === 'apply-redeploy' ? 'btn--primary' : 'btn--secondary'} btn--small`, 'data-testid': testId }, label);
    b.addEventListener('click', () => busy(b, 'Starting…', async () => {
      try { const rec = await ctx.api.redeployService(id, clearCache); ctx.navigate(`#/deployments/${rec.id}`); } catch (err) {
        replace(historyFlash, notice('error', err.message));
        await stateChanged(err);
      }
    }));
    return whileRunning(b);
  }

  /** Saves answered here: a settings read begun before one and answered after it is older than what it drew. */
  let saves = 0;
  async function patch(body) {
    const res = await ctx.api.patchServiceSettings(id, body);
    saves += 1;
    settings = {
      ...res.settings,
      previewServices: res.settings.previewServices ?? settings?.previewServices ?? [],
      previewServicesComplete: res.settings.previewServicesComplete ?? settings?.previewServicesComplete ?? true,
    };
    return settings;
  }

  /** The service's pull request previews; a look that stopped at its cap says where to see them all. */
  function previewList(s) {
    const partial = s.previewServicesComplete === false;
    if (!s.previewServices.length && !partial) return null;
    return h('div', { 'data-testid': 'preview-services' }, h('h3', {}, 'Preview services'),
      s.previewServices.length ? h('ul', {}, s.previewServices.map((p) => h('li', {}, p.url ? h('a', { href: p.url, rel: 'noopener noreferrer', target: '_blank' }, p.name) : p.name))) : null,
      partial ? h('p', { class: 'muted', 'data-testid': 'preview-services-partial' }, 'This workspace has too many services to look through them all here: there may be more previews. The Render Dashboard lists them all under the service.') : null);
  }

  function drawAuto() {
    autoBox.checked = settings.autoDeploy;
    autoNote.textContent = settings.imageBacked
      ? 'This service deploys from an image: there are no pushes to follow.'
      : settings.autoDeploy
        ? `Render deploys each push to ${settings.branch ?? 'the branch'}, if your Render account's GitHub connection can see this repository; when pushes do not deploy, connect GitHub under Account Settings in the Render Dashboard.`
        : 'Render does not deploy on push: deploy from here or the Render Dashboard.';
  }
  autoBox.addEventListener('change', async () => {
    autoBox.disabled = true;
    replace(actionNotice);
    try { await patch({ auto_deploy: autoBox.checked }); drawAuto(); ctx.announce(`Auto-deploy ${settings.autoDeploy ? 'on' : 'off'}`); } catch (err) {
      autoBox.checked = !autoBox.checked;
      replace(actionNotice, notice('error', err.message));
      void stateChanged(err);
    } finally { autoBox.disabled = false; }
  });

  function rollbackControl(d) {
    const wrap = h('span', { class: 'confirm' });
    const start = h('button', { type: 'button', class: 'btn btn--secondary btn--small', 'data-testid': 'history-rollback' }, 'Roll back to this');
    const showStart = () => { setOpen(wrap, null); replace(wrap, start); };
    /** Asks; when the history is drawn again while it asks, it asks again as the user left it (keepOpen). */
    const ask = ({ autoOff, focus }) => {
      const off = h('input', { type: 'checkbox', checked: autoOff, 'data-testid': 'rollback-auto-off' });
      const yes = h('button', { type: 'button', class: 'btn btn--primary btn--small', 'data-testid': 'history-rollback-confirm' }, 'Roll back');
      const no = h('button', { type: 'button', class: 'btn btn--ghost btn--small' }, 'Keep');
      off.addEventListener('change', () => setOpen(wrap, { autoOff: off.checked }));
      yes.addEventListener('click', () => busy(yes, 'Rolling back…', async () => {
        setOpen(wrap, null);
        try {
          // Render's rollback leaves auto-deploy on, so the next push would silently undo it.
          if (off.checked && settings.autoDeploy) { await patch({ auto_deploy: false }); drawAuto(); }
          const rec = await ctx.api.serviceAction(id, 'rollback', { deploy_id: d.id });
          ctx.navigate(`#/deployments/${rec.id}`);
        } catch (err) {
          replace(historyFlash, notice('error', err.message));
          // Still asking: a redraw keeps the question.
          if (wrap.contains(yes)) setOpen(wrap, { autoOff: off.checked });
          await stateChanged(err);
        }
      }));
      // Keep took focus with it when the question closed: back on the button that asked, not <body>.
      no.addEventListener('click', () => { showStart(); start.focus(); });
      replace(wrap, h('span', { class: 'confirm__question' }, `Roll back to ${d.commitId ? d.commitId.slice(0, 7) : d.id}?`),
        settings.autoDeploy ? h('label', { class: 'checkbox' }, off, ' and turn auto-deploy off (else the next push replaces it)') : null, yes, no);
      setOpen(wrap, { autoOff: off.checked });
      if (focus) yes.focus();
    };
    start.addEventListener('click', () => ask({ autoOff: settings.autoDeploy, focus: true }));
    // Escape answers Keep, as it closes any question (confirmButton).
    wrap.addEventListener('keydown', (e) => {
      if (e.key !== 'Escape' || !wrap.hasAttribute('data-open')) return;
      e.preventDefault();
      showStart();
      start.focus();
    });
    showStart();
    return openable(wrap, 'rollback', (state) => ask({ autoOff: state.autoOff, focus: false }));
  }

  function historyRow(d) {
    return h('li', { class: 'row history', dataset: { deployId: d.id, status: d.status ?? '' }, 'data-testid': 'history-row' },
      h('div', { class: 'history__main' },
        statusBadge(d.status ?? 'unknown'),
        d.current ? whileRunning(h('span', { class: 'badge badge--success' }, 'Serving now')) : null,
        h('span', { class: 'mono', title: d.commitId ?? '' }, d.commitId ? d.commitId.slice(0, 7) : d.id),
        d.commitMessage ? h('span', { class: 'history__msg' }, d.commitMessage) : null),
      h('div', { class: 'history__side' },
        h('span', { class: 'muted', title: d.trigger ? 'What started this deploy' : null, 'data-testid': 'history-trigger' }, triggerLabel(d.trigger)),
        d.finishedAt || d.createdAt ? timeEl(h, d.finishedAt ?? d.createdAt) : null,
        d.rollbackable ? whileRunning(rollbackControl(d)) : null));
  }

  const deployIdOf = (el) => el.closest('[data-deploy-id]')?.dataset.deployId;
  const deployRow = (deployId) => history.querySelector(`[data-deploy-id="${CSS.escape(deployId)}"]`);

  // Reads of the whole history started: an answer is drawn only if none started after its request (that
  // one reads at least as far; the dashboard's list does the same).
  let historyReads = 0;
  /** What the last read of the whole history drew (null after a page of older ones): the same again is not drawn again. */
  let historyDrawn = null;
  /** When the whole history was last answered, and the timer of its next read for deploys started on Render's side. */
  let historyReadAt = 0;
  let watchTimer = null;
  /** The notice of a history read that failed, until a later read succeeds (an action's error beside it stays). */
  let historyReadError = null;

  async function loadHistory(append = false) {
    const generation = append ? historyReads : ++historyReads;
    const lastShown = history.lastElementChild?.dataset.deployId;
    try {
      // Read again (a redeploy or rollback, here or in another tab): as far as it was paged and a page
      // more for what is new, so the older deploys a user loaded stay listed.
      const shown = append ? 0 : history.children.length;
      const res = await ctx.api.serviceDeploys(id, append ? nextCursor : null, Math.min(100, shown + 20));
      if (disposed) return;
      if (!append) historyReadAt = Date.now();
      if (generation !== historyReads) {
        if (append && more.hidden && lastShown) focusFirstRow(history.querySelector(`[data-deploy-id="${CSS.escape(lastShown)}"]`)?.nextElementSibling);
        return;
      }
      // Read again (a timed read, a retry): what a failed read said is no longer so, whether or not anything is drawn again.
      if (!append) { historyReadError?.remove(); historyReadError = null; }
      // Nothing changed since the last read (a poll, an update that moved nothing here): nothing is drawn
      // again, so a screen reader's place in the list and what the user opened stay as they are.
      const drawn = append ? null : JSON.stringify([res.deploys, res.nextCursor]);
      if (drawn !== null && drawn === historyDrawn) return;
      historyDrawn = drawn;
      const rows = res.deploys.map(historyRow);
      // Older deploys loaded past what a read again reads (100 at most) stay, with the cursor past them.
      const kept = append || !res.nextCursor ? [] : rowsPast(history, rows, 'deployId');
      if (append) history.append(...rows);
      // A rollback asked for stays asked, if that deploy can still be rolled back to.
      else keepOpen({ area: history, keyOf: deployIdOf, itemOf: deployRow }, () => replace(history, [...rows, ...kept]));
      if (!kept.length) nextCursor = res.nextCursor;
      more.hidden = !nextCursor;
      const rowsWentLive = [...history.children].some((row) => WENT_LIVE.has(row.dataset.status));
      beenLive = rowsWentLive ? true : nextCursor ? null : false;
      drawLinks();
      if (append && more.hidden) focusFirstRow(rows[0]);
    } catch (err) {
      if (!append) historyReadAt = Date.now();
      if (disposed) return;
      // Gone from Render (deleted on its Dashboard, say; no event here): said as a re-read of the service says it, and not read again.
      if (err.status === 404) { showDeleted(); return; }
      if (generation !== historyReads) return;
      historyReadError = notice('error', `Could not load deploys: ${err.message}`);
      replace(historyFlash, historyReadError);
      // Not known: the link as before beenLive (a history read before this one may have known).
      if (beenLive === undefined) { beenLive = null; drawLinks(); }
    }
  }
  more.addEventListener('click', () => busy(more, 'Loading…', () => loadHistory(true)));

  const watchDelay = () => {
    const newest = history.firstElementChild?.dataset.status;
    return newest && !isTerminal(newest) ? HISTORY_BUSY_MS : HISTORY_IDLE_MS;
  };
  /** (Re)schedules the history's next read for what Render started itself (HISTORY_IDLE_MS above). */
  function watchHistory() {
    clearTimeout(watchTimer);
    watchTimer = null;
    if (disposed || deleted || document.visibilityState === 'hidden') return;
    watchTimer = setTimeout(watchTick, Math.max(0, historyReadAt + watchDelay() - Date.now()));
  }
  function watchTick() {
    watchTimer = null;
    if (disposed || deleted || document.visibilityState === 'hidden') return;
    // Polling (onServicePoll reads it) or connecting (the open's resync will): not now. A read out: its end reschedules.
    if (ctx.liveMode !== 'live') { watchTimer = setTimeout(watchTick, watchDelay()); return; }
    if (historyOut) return;
    const due = historyReadAt + watchDelay() - Date.now();
    if (due > 0) { watchTimer = setTimeout(watchTick, due); return; }
    void rereadHistory();
  }
  const onVisibility = () => watchHistory();
  document.addEventListener('visibilitychange', onVisibility);

  /**
   * The history read again for a change heard (a deploy of this service on its way, a redeploy, a poll),
   * focus in it kept: one read out at a time, and one more after it when asked for meanwhile (the first
   * may have been answered before that change), so a burst of updates costs two reads, not one each.
   */
  let historyOut = null;
  let historyAgain = false;
  function rereadHistory() {
    if (historyOut) { historyAgain = true; return historyOut; }
    historyOut = keepFocus({ area: history, fallback: null, keyOf: deployIdOf, itemOf: deployRow }, () => loadHistory()).finally(() => {
      historyOut = null;
      const again = historyAgain;
      historyAgain = false;
      if (again && !disposed && !deleted) void rereadHistory();
      else watchHistory();
    });
    return historyOut;
  }

  /**
   * Our deployments heard of (the stream's updates name no service): id → the service each deploys, read
   * once from the deployment (no Render call), updates arriving meanwhile waiting for that one read. A new
   * service's deployment names none until the service is created: asked again at its next update.
   */
  const servicesOfDeployments = new Map();
  function serviceOfDeployment(e) {
    if (e.serviceId !== undefined) return Promise.resolve(e.serviceId); // a polled list names it
    let known = servicesOfDeployments.get(e.id);
    if (!known) {
      known = ctx.api.deployment(e.id).then((rec) => rec.serviceId ?? null);
      servicesOfDeployments.set(e.id, known);
      known.then((serviceId) => { if (!serviceId) servicesOfDeployments.delete(e.id); }, () => servicesOfDeployments.delete(e.id));
    }
    return known;
  }

  /**
   * An update of one of the user's deployments (the stream, or a poll): when it deploys this service (a
   * redeploy or rollback from another tab, CI), the history is read again, so the deploy is listed on its
   * way, then live (and "Open site" with it).
   */
  async function deploymentUpdated(e) {
    if (disposed || deleted || !settings) return;
    let serviceId;
    try { serviceId = await serviceOfDeployment(e); } catch { return; }
    if (serviceId === id && !disposed && !deleted) await rereadHistory();
  }

  function drawScaling() {
    const s = settings;
    const fields = [];
    const instances = s.numInstances === null ? null : field({ label: 'Instances', control: h('input', { type: 'number', class: 'input', min: '1', max: String(s.maxInstances), step: '1', value: String(s.numInstances), disabled: Boolean(s.autoscaling), 'data-testid': 'num-instances' }),
      hint: s.autoscaling ? `Autoscaling is on (${s.autoscaling.min}–${s.autoscaling.max}); Render sets the count.` : `1 to ${s.maxInstances}. Billed per instance.` });
    const plan = s.plan === null ? null : field({ label: 'Instance type', control: h('select', { class: 'input', 'data-testid': 'plan', value: s.plan }, s.plans.map((p) => h('option', { value: p }, p))), hint: 'Changing it restarts the service on the new type; paid types need a payment method on Render.' });
    if (plan && !s.plans.includes(s.plan)) plan.control.append(h('option', { value: s.plan, selected: true }, s.plan));
    const health = s.healthCheckPath === null ? null : field({ label: 'Health check path', control: h('input', { class: 'input input--mono', value: s.healthCheckPath, placeholder: '/healthz', 'data-testid': 'health-check' }), hint: 'Render waits for 2xx/3xx here before switching traffic. Empty: no check.' });
    const previews = s.previews === null ? null : field({ label: 'Pull request previews', control: h('select', { class: 'input', 'data-testid': 'previews', value: s.previews }, ['off', 'manual', 'automatic'].map((v) => h('option', { value: v }, v))), hint: PREVIEW_WARNING });
    // A cron job's schedule (null for other types): checked as the deploy form checks it (cron.js, the server's rule).
    const schedule = s.schedule === null ? null : field({ label: SCHEDULE_LABEL, control: h('input', { type: 'text', class: 'input input--mono', autocomplete: 'off', spellcheck: 'false', maxlength: 200, value: s.schedule, placeholder: '0 3 * * *', 'data-testid': 'schedule' }), hint: SCHEDULE_HINT });
    const scheduleProblem = () => {
      const typed = schedule.control.value.trim();
      return typed === s.schedule ? null : typed ? cronScheduleProblem(typed) : SCHEDULE_NEEDED;
    };
    if (schedule) {
      schedule.control.addEventListener('input', () => schedule.setError(null));
      // Not when focus leaves for Save (its press's mousedown): the error shown then moved Save down under the
      // pointer, the click was lost, and focus stayed on Save with the error unsaid. The submit checks it, and
      // takes focus to the field.
      schedule.control.addEventListener('blur', (e) => {
        if (e.relatedTarget?.type === 'submit' && e.relatedTarget.form === schedule.control.form) return;
        if (schedule.control.value.trim()) schedule.setError(scheduleProblem());
      });
    }
    scalingHeading.textContent = s.schedule === null ? 'Scaling, plan and previews' : 'Schedule and plan';
    for (const f of [schedule, instances, plan, health, previews]) if (f) fields.push(f.el);
    const flash = h('div', { 'data-testid': 'settings-flash' });
    const save = h('button', { type: 'submit', class: 'btn btn--primary', 'data-testid': 'settings-save' }, 'Save settings');
    const form = h('form', { class: 'card', 'data-testid': 'settings-form' },
      // Render names no region for a static site (served from its CDN): no 'Region: unknown'.
      s.region ? h('p', { class: 'muted' }, `Region: ${s.region} (fixed when the service is created).`) : null,
      h('div', { class: 'grid-2' }, fields), flash, h('div', { class: 'actions' }, save),
      previewList(s));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const byField = { schedule, num_instances: instances, plan, health_check_path: health, previews };
      for (const f of Object.values(byField)) f?.setError(null);
      replace(flash);
      const body = {};
      if (schedule) {
        const problem = scheduleProblem();
        if (problem) { schedule.setError(problem); schedule.control.focus(); return; }
        if (schedule.control.value.trim() !== s.schedule) body.schedule = schedule.control.value.trim();
      }
      if (instances && !s.autoscaling && Number(instances.control.value) !== s.numInstances) body.num_instances = Number(instances.control.value);
      if (plan && plan.control.value !== s.plan) body.plan = plan.control.value;
      if (health && health.control.value.trim() !== s.healthCheckPath) body.health_check_path = health.control.value.trim();
      if (previews && previews.control.value !== s.previews) body.previews = previews.control.value;
      if (!Object.keys(body).length) { replace(flash, notice('info', 'Nothing changed.')); return; }
      void busy(save, 'Saving…', async () => {
        try {
          await patch(body);
          drawScaling();
          // The header's meta line names the plan: drawn again from the saved settings.
          drawService();
          // Said on the page, not only to a screen reader: "Nothing changed." was shown, a save was not.
          const saved = scaling.querySelector('[data-testid=settings-flash]');
          if (saved) replace(saved, notice('success', 'Saved on Render.'));
          // The form was drawn again with the saved values: focus its button, not <body>.
          scaling.querySelector('[data-testid=settings-save]')?.focus();
          ctx.announce('Settings saved');
        } catch (err) {
          const f = byField[err.field];
          if (f) { f.setError(err.message); f.control.focus(); } else replace(flash, notice('error', err.message));
          void stateChanged(err);
        }
      });
    });
    form.addEventListener('input', () => { scalingEdited = true; });
    form.addEventListener('change', () => { scalingEdited = true; });
    scalingEdited = false;
    replace(scaling, form);
  }

  /**
   * "Open site" and "Render dashboard". Render names a service's URL when it is created; it serves nothing
   * until a deploy has been live, so the site is offered only once the history says one has (or cannot say).
   */
  function drawLinks() {
    if (deleted || !settings) return;
    // Suspended: nothing is served (whileRunning above).
    const url = beenLive === undefined || beenLive === false || settings.suspended ? null : settings.url;
    replace(links,
      // A private service's host:port is no link (site-link.js).
      siteLink(url, 'Open site'),
      settings.dashboardUrl ? h('a', { href: settings.dashboardUrl, rel: 'noopener noreferrer', target: '_blank' }, 'Render dashboard') : null);
  }

  /** The heading, meta line, links and the suspended notice, from `settings`. */
  function drawService() {
    heading.textContent = settings.name;
    meta.textContent = [TYPE_LABELS[settings.type] ?? settings.type, settings.runtime, settings.region, settings.plan, settings.repo ? `${settings.repo.replace(/^https:\/\/github\.com\//, '')}${settings.branch ? ` @ ${settings.branch}` : ''}` : null].filter(Boolean).join(' · ');
    drawLinks();
    drawSuspended();
    replace(lifecycleButtons, actions.suspendOrResume(settings.suspended));
    replace(stateNotice, settings.suspended ? notice('warning', h('span', { 'data-testid': 'service-suspended' }, 'This service is suspended: changes are saved but nothing runs until you resume it.')) : null);
  }

  /** Gone from Render (deleted in another tab, or found gone on a re-read): said as the deployment page says it. */
  function showDeleted() {
    if (deleted) return;
    deleted = true;
    const hadFocus = body.contains(document.activeElement);
    body.hidden = true;
    replace(applyBanner);
    replace(links);
    replace(lifecycleButtons);
    replace(lifecycleFlash); // a lifecycle action's "not found": said below
    replace(actionNotice); // an auto-deploy toggle's, the same
    replace(stateNotice, notice('warning', h('span', { 'data-testid': 'service-deleted' }, h('strong', null, 'Service deleted. '),
      // The name in a <bdi>: a teammate may rename a service, and an override in its name reversed the words after it.
      settings?.name ? h('bdi', null, settings.name) : 'This service', ' no longer exists on Render, so its settings cannot be changed.')));
    ctx.announce(`${settings?.name || 'The service'} was deleted`);
    // Only focus that went with the hidden settings moves (to the page's heading); any other stays.
    if (hadFocus && focusLost()) heading.focus();
  }

  /**
   * Reads the service's settings again and draws them; a read overtaken by a later one is dropped (they
   * overlap: this tab's own change and the event it publishes, changes from other tabs). A form being
   * edited here is left as it is. True if drawn.
   */
  const reread = latestOnly(async (current) => {
    const savesBefore = saves;
    // Not read once the page is gone (a sign-out, another key): its id would be the next session's 404.
    if (disposed || deleted) return false;
    const res = await ctx.api.serviceSettings(id);
    if (disposed || deleted || !current()) return false;
    // A save here answered meanwhile: what it drew is newer (a poll's read drew the old values back, for 15 s).
    if (saves !== savesBefore) return true;
    settings = res.settings;
    // Drawn again, focus in them stays on its control (Resume in place of Suspend if another tab suspended it).
    await keepFocus({ area: lifecycle, fallback: null, keyOf: () => 'service', itemOf: () => lifecycle, alternatives: IN_PLACE_OF }, drawService);
    if (!autoBox.disabled) drawAuto();
    // This tab's own Save, say.
    if (!scalingEdited) await keepFocus({ area: scaling, fallback: null, keyOf: () => 'form', itemOf: () => scaling }, drawScaling);
    return true;
  });
  /** The service read again (reread); found gone from Render, the page says so. */
  const rereadService = () => reread().catch((err) => { if (err.status === 404) showDeleted(); });

  /**
   * An action here refused because the service is not as drawn: a 404 (deleted on Render's side, no event
   * heard here) or a 409 service_suspended (suspended there). The service is read again: gone, the page says
   * so (showDeleted) and offers nothing; suspended, it offers Resume (focused, when the refused button went
   * with the redraw) and no redeploy or rollback. A 404 that was not the service's (an env var or a domain
   * removed meanwhile) draws the service as it is.
   */
  async function stateChanged(err) {
    if (disposed || deleted || !settings || (err?.status !== 404 && err?.code !== 'service_suspended')) return;
    await rereadService();
    if (err.code === 'service_suspended' && !disposed && !deleted && focusLost()) lifecycle.querySelector('[data-testid=service-resume]')?.focus();
  }

  /**
   * What the env var, secret file and custom domain sections are given: the page's ctx, its API calls
   * watched, so a 404 from any of them (a save, a removal, a read) also checks the service itself
   * (stateChanged) and a service deleted on Render's side is said as such, not as a section's bare
   * "Service not found.".
   */
  const sectionCtx = Object.create(ctx, {
    api: {
      value: new Proxy(ctx.api, {
        get(api, name) {
          const call = Reflect.get(api, name);
          if (typeof call !== 'function') return call;
          return (...args) => {
            const answer = call.apply(api, args);
            return answer instanceof Promise ? answer.catch((err) => { if (err?.status === 404) void stateChanged(err); throw err; }) : answer;
          };
        },
      }),
    },
  });

  /**
   * A change made elsewhere (another tab or device; this tab's own too): what it touched is read again
   * through the API. 'resync' (a gap in the stream): all of it; 'poll' (no stream): the settings, the
   * deploy history and the custom domains (not the env vars or secret files).
   */
  async function refresh(action) {
    if (deleted || !settings) return;
    if (action === 'delete') { showDeleted(); return; }
    if (action.startsWith('env_var_')) { void sections.env.reload(action); return; }
    if (action.startsWith('secret_file_')) { void sections.file.reload(action); return; }
    if (action.startsWith('domain_')) { void sections.domains.reload(); return; }
    if (action === 'resync') for (const section of Object.values(sections)) void section.reload(action);
    if (action === 'poll') void sections.domains.reload();
    try {
      if (!(await reread())) return;
      if (['redeploy', 'rollback', 'clear_cache_redeploy', 'resync', 'poll'].includes(action)) await rereadHistory();
    } catch (err) {
      if (err.status === 404) showDeleted();
    }
  }

  async function load() {
    // Said until the service is read (Render may be slow), then replaced by what it says.
    replace(stateNotice, h('p', { class: 'muted', role: 'status', 'data-testid': 'service-loading' }, 'Loading service…'));
    try {
      const res = await ctx.api.serviceSettings(id);
      if (disposed) return;
      settings = res.settings;
      actions = serviceActions({
        ctx, service: { id, get name() { return settings.name; } }, flash: lifecycleFlash, fallback: heading, disposed: () => disposed || deleted,
        // Drawn again after the action, with the button in place of the pressed one.
        reload: rereadService,
        find: (testId) => lifecycle.querySelector(`[data-testid="${CSS.escape(testId)}"]`),
      });
      drawService();
      drawAuto();
      drawScaling();
      void loadHistory().then(watchHistory);
      sections = {
        env: secretsSection({ kind: 'env', ctx: sectionCtx, serviceId: id, onChanged: offerRedeploy, gone: () => disposed }),
        file: secretsSection({ kind: 'file', ctx: sectionCtx, serviceId: id, onChanged: offerRedeploy, gone: () => disposed }),
        domains: domainsSection({ ctx: sectionCtx, serviceId: id, gone: () => disposed }),
      };
      body.append(sections.env.el, sections.file.el, sections.domains.el);
      body.hidden = false;
    } catch (err) {
      replace(stateNotice, notice('error', err.status === 404 ? 'There is no such service among your Render workspaces.' : `Could not load the service: ${err.message}`));
    }
  }

  const body = h('div', { hidden: true },
    h('section', { class: 'section', 'aria-labelledby': 'deploys-heading' },
      h('h2', { id: 'deploys-heading' }, 'Deploys'),
      h('div', { class: 'card' },
        h('label', { class: 'checkbox', for: 'auto-deploy' }, autoBox, ' Auto-deploy on push'), autoNote,
        h('div', { class: 'actions' }, redeployButton('Redeploy', false, 'service-redeploy-now'), redeployButton('Redeploy, clearing the build cache', true, 'service-redeploy-clear'))),
      historyFlash, history, more),
    h('section', { class: 'section', 'aria-labelledby': 'scaling-heading' }, scalingHeading, scaling));

  void load();
  return {
    title: 'Service settings',
    el: h('section', { class: 'page page--narrow', 'data-testid': 'service-page' },
      h('p', {}, h('a', { href: '#/' }, '← Dashboard')),
      h('div', { class: 'page__head' }, h('div', {}, heading, meta, links, lifecycle)),
      top, applyBanner, body),
    onService(e) { if (e.id === id) void refresh(e.action); },
    // A deployment's update (stream or poll): a deploy of this service shows in the history as it goes.
    onDeployment(e) { void deploymentUpdated(e); },
    // Polling (no stream, so no service changes heard): the settings, the deploy history (a deploy started
    // on Render itself, say) and the custom domains are read again now and then; not the env vars and
    // secret files (each read of those is in the user's Render audit log).
    onServicePoll() { void refresh('poll'); },
    // After a gap in the stream (a reconnect, polling, a stream that opened late): everything is read again.
    onResync() { void refresh('resync'); },
    /**
     * The same key's state changed (Render's refusal of it noted; its workspaces refreshed in another tab): a
     * notice in place, and a failed save's message and focus stay where they are. The page drawn again whole
     * lost both. Another key, or none: drawn again (the service may not be this key's).
     */
    onSessionChanged({ workspacesOnly = false } = {}) {
      if (!workspacesOnly) { ctx.navigate(location.hash); return; }
      drawKeyNotice();
    },
    dispose() { disposed = true; clearTimeout(watchTimer); document.removeEventListener('visibilitychange', onVisibility); },
  };
}

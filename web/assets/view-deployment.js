/**
 * One deployment: live status, progress through the phases, failure reason, status timeline, its
 * logs (log-panel.js: live over the event stream), and cancel / redeploy / roll back.
 */
import { ApiError, noAnswer } from './api.js';
import { busy, confirmButton, focusLost, h, notice, replace } from './dom.js';
import { duration, formatClock, formatTime, timeEl } from './format.js';
import { STEPS, isTerminal, setBadge, skippedSteps, statusBadge, statusLabel, statusTone, stepState } from './status.js';
import { createLogPanel } from './log-panel.js';
import { serviceTypeLabel } from './service-type.js';
import { siteLink } from './site-link.js';

const STACK_LABELS = { node: 'Node.js', python: 'Python', go: 'Go', ruby: 'Ruby', rust: 'Rust', elixir: 'Elixir', docker: 'Docker', static: 'Static site' };

/** Statuses whose note says something about that same entry (a wait, an outcome), not about the step before. */
const SELF_NOTED = new Set(['render_queued']);

/**
 * The worker writes what a step found as it moves on: "Branch main at 1a2b3c4" arrives with the move to
 * "detecting" but is what "verifying" found. Such notes go to the entry before; notes on an ending
 * (failure reason) or a wait describe their own entry.
 */
function notesByStep(entries) {
  const notes = entries.map(() => []);
  entries.forEach((t, i) => {
    if (!t.note) return;
    const own = i === 0 || isTerminal(t.status) || SELF_NOTED.has(t.status);
    notes[own ? i : i - 1].push(t.note);
  });
  return notes;
}

/** What the deploy's own time was, worded by its outcome: beside "Service deleted" a bare "took 11 s" read as the deletion's. */
const ENDED = { live: 'Deployed in', deactivated: 'Deployed in', canceled: 'Canceled after', credentials_revoked: 'Stopped after' };
function elapsedText(rec) {
  const took = duration(rec.createdAt, rec.finishedAt);
  if (!took) return '';
  return `${ENDED[rec.status] ?? (statusTone(rec.status) === 'failure' ? 'Failed after' : 'Ended after')} ${took}`;
}

export function deploymentView(ctx, route) {
  const id = route.id;
  let rec = null;
  let disposed = false;
  let fetching = null;
  let refetch = false;
  /** The error a failed read left in actionFlash ("Could not refresh…"), taken away by the next update. */
  let refreshError = null;
  /** The latest update heard while a read was on its way: that read may already have it (see load). */
  let heard = null;

  const heading = h('h1', { tabindex: '-1', class: 'deployment__title' }, 'Deployment');
  const subtitle = h('p', { class: 'deployment__subtitle' });
  const badge = statusBadge('queued', { id: 'deployment-status', 'data-testid': 'deployment-status' });
  const statusBox = h('div', { class: 'status-box', 'aria-live': 'polite', 'aria-atomic': 'true' }, h('span', { class: 'visually-hidden' }, 'Status: '), badge);
  const elapsed = h('span', { class: 'muted status-elapsed' });
  const steps = h('ol', { class: 'steps', 'aria-label': 'Progress', 'data-testid': 'deployment-steps' });
  // Phones show the steps as dots; this line names where the deploy is.
  const stepCaption = h('p', { class: 'steps-caption', 'aria-hidden': 'true' });
  const failureBox = h('div', { 'data-testid': 'failure' });
  const stateNote = h('div', { 'data-testid': 'state-note' });
  const links = h('p', { class: 'deployment__links' });
  const actions = h('div', { class: 'actions' });
  const actionFlash = h('div', { class: 'flash' });
  const details = h('dl', { class: 'details' });
  const timeline = h('ol', { class: 'timeline', 'data-testid': 'timeline' });
  const logPanel = createLogPanel(ctx, id);
  /**
   * Made in a workspace the connected key does not see (the key was since replaced by another account's):
   * Render answers 404 for its service, logs and deploys, which says nothing of a deletion. The page is
   * drawn again when the key changes (app.js followSession), so this is read from the session once per record.
   */
  const otherKey = () => {
    const render = ctx.session?.render;
    const owners = render?.configured ? render.owners ?? [] : [];
    return Boolean(rec?.request?.ownerId && owners.length && !owners.some((o) => o.id === rec.request.ownerId));
  };

  const el = h('section', { class: 'page deployment' },
    h('p', { class: 'back' }, h('a', { href: '#/' }, '← Dashboard')),
    h('div', { class: 'page__head' }, h('div', null, heading, subtitle)),
    h('div', { class: 'card status-card' },
      h('div', { class: 'status-card__row' }, statusBox, elapsed),
      steps,
      stepCaption,
      failureBox,
      stateNote,
      links,
      actions,
      actionFlash),
    h('div', { class: 'columns' },
      h('section', { class: 'card', 'aria-labelledby': 'timeline-heading' },
        h('h2', { id: 'timeline-heading' }, 'Timeline'), timeline),
      h('section', { class: 'card', 'aria-labelledby': 'details-heading' },
        h('h2', { id: 'details-heading' }, 'Details'), details)),
    logPanel.el);

  // --- rendering -------------------------------------------------------------------------------

  function drawSteps() {
    const { current, outcome } = stepState(rec);
    const skipped = skippedSteps(rec);
    const word = { done: 'done', running: 'in progress', failed: 'failed', stopped: 'stopped' }[outcome];
    stepCaption.textContent = `Step ${current + 1} of ${STEPS.length}: ${STEPS[current].label} (${word})`;
    replace(steps, STEPS.map((step, i) => {
      let state = 'upcoming';
      if (skipped.has(step.key) && i !== current) state = 'skipped';
      else if (i < current || (i === current && outcome === 'done')) state = 'done';
      else if (i === current) state = outcome === 'running' ? 'current' : outcome;
      const icon = { done: '✓', current: '●', failed: '✕', stopped: '■', upcoming: '○', skipped: '–' }[state];
      const said = { done: 'done', current: 'in progress', failed: 'failed', stopped: 'stopped', upcoming: 'not started', skipped: 'skipped' }[state];
      return h('li', { class: `step step--${state}`, 'aria-current': state === 'current' ? 'step' : null, dataset: { step: step.key, state } },
        h('span', { class: 'step__icon', 'aria-hidden': 'true' }, icon),
        h('span', { class: 'step__label' }, step.label),
        h('span', { class: 'visually-hidden' }, `: ${said}`));
    }));
  }

  function drawFailure() {
    if (!rec.failure) { failureBox.replaceChildren(); return; }
    replace(failureBox, notice(rec.status === 'canceled' ? 'info' : 'error',
      h('strong', null, rec.status === 'canceled' ? 'Canceled. ' : `${statusLabel(rec.status)}: `),
      h('span', { 'data-testid': 'failure-message' }, rec.failure.message),
      h('span', { class: 'muted' }, ` (${rec.failure.code})`)));
  }

  /** What Render says about this deploy since it ended: replaced by a newer one, or its service deleted. */
  function drawStateNote() {
    const parts = [];
    if (otherKey() && !rec.serviceDeleted) {
      parts.push(notice('info', h('strong', null, 'Made with another Render key. '),
        'The key connected now cannot see this service, so its logs, redeploy and rollback are out of reach here. Connect the key it was made with in ',
        h('a', { href: '#/settings' }, 'Settings'), ' to use them.'));
    }
    if (rec.serviceDeleted) {
      parts.push(notice('warning', h('strong', null, 'Service deleted. '),
        rec.request?.serviceName ? h('bdi', null, rec.request.serviceName) : 'This service', ' no longer exists on Render, so it cannot be redeployed or rolled back.'));
    }
    if (rec.status === 'deactivated') {
      const by = rec.replacedBy;
      const what = by?.deploymentId
        ? h('a', { href: `#/deployments/${by.deploymentId}`, 'data-testid': 'replaced-by-link' }, 'a newer deploy')
        : h('span', null, 'a newer deploy', by?.deployId ? h('span', { class: 'mono' }, ` (${by.deployId}, made outside this app)`) : null);
      parts.push(notice('info', h('strong', null, 'Deactivated: '), 'replaced by ', what,
        by?.at ? [' ', timeEl(h, by.at)] : null, '. This deploy is no longer live.'));
    }
    replace(stateNote, ...parts);
  }

  function drawLinks() {
    if (rec.serviceDeleted) { links.replaceChildren(); return; }
    const a = (href, text) => h('a', { href, rel: 'noopener noreferrer', target: '_blank' }, text, h('span', { class: 'visually-hidden' }, ' (new tab)'));
    replace(links,
      // A private service's host:port is no link (site-link.js).
      rec.status === 'live' ? siteLink(rec.serviceUrl, 'Open the live site') : null,
      rec.dashboardUrl ? a(rec.dashboardUrl, 'View on Render') : null);
  }

  let actionsKey = null;
  function drawActions() {
    const canCancel = !rec.finished;
    const reachable = !rec.serviceDeleted && !otherKey();
    const canRedeploy = Boolean(rec.serviceId && rec.finished && reachable);
    // Only a deploy that was live and has been replaced can be made live again; the live one already is.
    const canRollback = Boolean(rec.serviceId && rec.deployId && rec.status === 'deactivated' && reachable);
    // Rebuild only when the choice of actions changes: a status update must not swallow a pending "Confirm".
    // The handlers read the current `rec`, so ids arriving later (Render's deploy id while "Cancel deploy?"
    // is open) need no rebuild; with them in the key, a CI run lost the cancel confirmation that way.
    const key = `${canCancel}|${canRedeploy}|${canRollback}`;
    if (key === actionsKey) return;
    actionsKey = key;
    const list = [];
    if (canCancel) {
      list.push(confirmButton({
        label: 'Cancel deploy', question: 'Cancel this deploy?', confirmLabel: 'Cancel deploy', danger: true, testId: 'cancel',
        onConfirm: () => act('Cancel', () => ctx.api.cancelDeployment(id), { stay: true }),
      }));
    }
    if (canRedeploy) {
      const redeploy = h('button', { type: 'button', class: 'btn btn--secondary', 'data-testid': 'redeploy' }, 'Redeploy');
      redeploy.addEventListener('click', () => busy(redeploy, 'Starting…', () => act('Redeploy', () => ctx.api.serviceAction(rec.serviceId, 'redeploy'))));
      list.push(redeploy);
    }
    if (canRollback) {
      list.push(confirmButton({
        label: 'Roll back to this deploy', question: 'Make this deploy live again?', confirmLabel: 'Roll back', testId: 'rollback',
        onConfirm: () => act('Rollback', () => ctx.api.serviceAction(rec.serviceId, 'rollback', { deploy_id: rec.deployId })),
      }));
    }
    const hadFocus = actions.contains(document.activeElement);
    replace(actions, list);
    actions.hidden = list.length === 0;
    // An update took away the focused control (Cancel deploy, or its question, once the deploy ended): the
    // heading, not <body>, and not the action drawn in its place (Redeploy starts on one press: an Enter meant
    // for the question would have started a deploy).
    if (hadFocus && focusLost()) heading.focus();
  }

  async function act(label, fn, { stay = false } = {}) {
    actionFlash.replaceChildren();
    try {
      const res = await fn();
      if (!stay && res && typeof res.id === 'string' && res.id !== id) { ctx.navigate(`#/deployments/${res.id}`); return; }
      // Drawn only while shown: after a sign-out it would title the sign-in page with this deployment.
      if (res && res.id === id && !disposed) update(res);
      ctx.announce(`${label}: done`);
    } catch (err) {
      // No answer is not a failure: the server may have started it (pressing again opens that one).
      replace(actionFlash, notice('error', noAnswer(err) ? `${label}: ${err.message}` : `${label} failed: ${err.message}`));
      // Refused because the deployment moved on (409: it ended, live or canceled, since this page last heard):
      // read it again, so the page shows what it is and drops the controls it no longer has.
      if (err instanceof ApiError && err.status === 409 && !disposed) void load();
    } finally {
      // The pressed button went with the actions it was one of (a canceled deploy offers Redeploy instead).
      if (!disposed && focusLost()) (actions.querySelector('button') ?? heading).focus();
    }
  }

  function drawDetails() {
    const r = rec.request ?? {};
    // A static site is served from Render's CDN: the region and plan the form sent by default do not apply to it.
    const served = (rec.stack?.serviceType ?? r.serviceType) !== 'static_site';
    const row = (term, value, mono = false) => (value === null || value === undefined || value === '' ? null
      : [h('dt', null, term), h('dd', { class: mono ? 'mono' : null }, value)]);
    replace(details,
      row('Repository', r.githubRepo, true),
      row('Branch', r.branch ?? 'default branch', true),
      row('Commit', commitDetail(), true),
      row('Kind', rec.kind),
      row('Stack', rec.stack ? `${STACK_LABELS[rec.stack.stack] ?? rec.stack.stack} · ${serviceTypeLabel(rec.stack.serviceType).toLowerCase()}${rec.stack.fromBlueprint ? ' · from render.yaml' : ''}` : null),
      row('Schedule', rec.stack?.schedule ?? r.schedule ?? null, true),
      row('Build command', r.buildCommand ?? rec.stack?.buildCommand ?? null, true),
      row('Start command', r.startCommand ?? rec.stack?.startCommand ?? null, true),
      row('Region', served ? r.region : null),
      row('Plan', served ? r.plan : null),
      row('Environment', r.envVarKeys?.length ? h('ul', { class: 'plain-list mono' }, r.envVarKeys.map((k) => h('li', null, k))) : null),
      row('Service', rec.serviceId, true),
      row('Render deploy', rec.deployId, true),
      row('Requested', formatTime(rec.createdAt)));
  }

  /** The commit Render built; the one we checked beside it when they differ (a new service builds the branch head). */
  function commitDetail() {
    const built = rec.renderCommitId ?? null;
    const checked = rec.commitSha ?? null;
    if (!built && !checked) return null;
    if (!built || built === checked) return h('span', { 'data-testid': 'commit-built' }, (built ?? checked).slice(0, 12));
    if (!checked) return h('span', { 'data-testid': 'commit-built' }, built.slice(0, 12));
    return h('span', null,
      h('span', { 'data-testid': 'commit-built' }, built.slice(0, 12)), h('span', { class: 'muted' }, ' built by Render'),
      h('br'), h('span', { 'data-testid': 'commit-checked' }, checked.slice(0, 12)), h('span', { class: 'muted' }, ' checked when requested'));
  }

  function drawTimeline() {
    const entries = rec.timeline ?? [];
    const notes = notesByStep(entries);
    replace(timeline, entries.map((t, i) => {
      // Past phases read as passed; only the latest entry of a running deploy is "in progress".
      const running = i === entries.length - 1 && !rec.finished;
      const tone = isTerminal(t.status) ? statusTone(t.status) : running ? 'progress' : 'passed';
      const icon = { passed: '✓', progress: '●', success: '✓', failure: '✕', neutral: '■' }[tone];
      return h('li', { class: `timeline__item timeline__item--${tone}`, dataset: { status: t.status } },
        h('span', { class: 'timeline__icon', 'aria-hidden': 'true' }, icon),
        h('span', { class: 'timeline__body' },
          h('span', { class: 'timeline__status' }, statusLabel(t.status)),
          h('span', { class: 'timeline__meta' },
            h('time', { datetime: t.at, title: formatTime(t.at) }, formatClock(t.at)),
            t.source === 'render' ? ' · Render' : ' · orchestrator'),
          notes[i].map((note) => h('span', { class: 'timeline__note', 'data-testid': 'timeline-note' }, note))));
    }));
  }

  function update(next) {
    const before = rec?.status;
    rec = next;
    // A refresh that failed (the network cut) is said until the deployment is heard of again: not for good
    // beside the status a later read or update drew (an action's own error stays until the next action).
    if (refreshError) { refreshError.remove(); refreshError = null; }
    heading.textContent = rec.request?.serviceName || 'Deployment';
    replace(subtitle,
      h('span', { class: 'mono' }, rec.request?.githubRepo ?? ''),
      rec.request?.branch ? h('span', { class: 'mono' }, ` @ ${rec.request.branch}`) : null,
      ` · ${rec.kind} · started `, timeEl(h, rec.createdAt));
    setBadge(badge, rec.serviceDeleted && rec.finished ? 'service_deleted' : rec.status);
    elapsed.textContent = rec.finishedAt ? elapsedText(rec) : '';
    drawSteps();
    drawFailure();
    drawStateNote();
    drawLinks();
    drawActions();
    drawDetails();
    drawTimeline();
    document.title = `${statusLabel(rec.status)} · ${heading.textContent} · Render Deployer`;
    logPanel.onRecord(rec, { otherKey: otherKey() });
  }

  // --- data ------------------------------------------------------------------------------------

  /** Whether the record shown is the one an update names (its write publishes status and updatedAt). */
  const shows = (e) => e.status === rec?.status && e.updatedAt === rec?.updatedAt;

  /**
   * Fetch the record; overlapping requests collapse into one more fetch after the current one. An update
   * heard meanwhile asks for one only if the read did not bring it: updates arrive in the order they were
   * published (one stream delivers at a time, live.js), so the last one heard is the newest.
   */
  async function load() {
    if (fetching) { refetch = true; return fetching; }
    fetching = (async () => {
      try {
        const next = await ctx.api.deployment(id);
        if (!disposed) update(next);
      } catch (err) {
        if (disposed) return;
        if (err instanceof ApiError && err.status === 404) {
          logPanel.dispose();
          const notFound = h('h1', { tabindex: '-1' }, 'Deployment not found');
          replace(el, notFound,
            h('p', null, 'There is no deployment of yours with this id. ', h('a', { href: '#/' }, 'Back to the dashboard'), '.'));
          // The heading the router focused went with the page: focus (and so read out) the one saying why.
          if (focusLost()) notFound.focus();
          return;
        }
        refreshError = notice('error', `Could not refresh this deployment: ${err.message}`);
        replace(actionFlash, refreshError);
      } finally {
        fetching = null;
        const again = refetch || (heard !== null && !shows(heard));
        refetch = false;
        heard = null;
        if (again && !disposed) void load();
      }
    })();
    return fetching;
  }

  void load();

  return {
    title: 'Deployment',
    el,
    // Changes after the end (deactivated, service deleted) keep or change the status: compare the time too.
    onDeployment(e) {
      if (e.id !== id || shows(e)) return;
      if (fetching) heard = e; else void load();
    },
    onLogs(e) { logPanel.onLogs(e); },
    onResync() { void load(); logPanel.onResync(); },
    dispose() { disposed = true; logPanel.dispose(); },
  };
}

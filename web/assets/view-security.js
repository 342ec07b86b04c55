/**
 * Security (Sentinel): opt in to watching your Render workspace, an optional Slack webhook, and the
 * findings — audit-log events, grouped app-log errors and silent service failures — live over SSE (read
 * again every 15 s while the page polls instead).
 */
import { ApiError } from './api.js';
import { busy, field, focusLost, h, latestOnly, notice, replace } from './dom.js';
import { timeEl } from './format.js';

const SEVERITY = { high: ['failure', 'High'], medium: ['progress', 'Medium'], low: ['neutral', 'Low'] };
const KIND = { audit: 'Audit log', app_log: 'App logs', service_event: 'Service event' };

/**
 * Values from Render (a service's name, an actor's email, an env var's key, log lines) each in a <bdi>: anyone in
 * the workspace can rename a service or write a log line, and a right-to-left override in one ran on past it and
 * drew what follows it (the workspace id, "by …", the time) reversed.
 */
function findingRow(f) {
  const [tone, label] = SEVERITY[f.severity] ?? ['neutral', String(f.severity)];
  const name = f.serviceName ?? f.serviceId;
  const where = name || f.ownerId ? h('span', { class: 'mono', 'data-testid': 'finding-where' },
    name ? h('bdi', null, name) : null, name && f.ownerId ? ' · ' : null, f.ownerId ? h('bdi', null, f.ownerId) : null) : null;
  const who = f.actor ? h('span', { 'data-testid': 'finding-actor' }, 'by ', h('bdi', null, f.actor.email ?? f.actor.type)) : null;
  const lines = f.firstLine ? h('div', { class: 'finding__lines' },
    h('div', {}, h('span', { class: 'muted' }, 'First: '), h('code', { 'data-testid': 'finding-first-line' }, h('bdi', null, f.firstLine))),
    f.lastLine && f.count > 1 ? h('div', {}, h('span', { class: 'muted' }, 'Last: '), h('code', {}, h('bdi', null, f.lastLine))) : null) : null;
  return h('li', { class: 'row finding', 'data-testid': 'finding', dataset: { severity: String(f.severity), rule: String(f.rule) } },
    h('div', { class: 'finding__head' },
      h('span', { class: `badge badge--${tone}`, 'data-testid': 'finding-severity' }, label),
      h('strong', { class: 'finding__title', 'data-testid': 'finding-title' }, f.title),
      h('span', { class: 'muted' }, KIND[f.kind] ?? f.kind)),
    h('div', { class: 'finding__meta muted' },
      where,
      who,
      f.envVarKey ? h('span', { class: 'mono' }, h('bdi', null, f.envVarKey)) : null,
      f.lastAt ? timeEl(h, f.lastAt) : null),
    lines);
}

export function securityView(ctx) {
  const notices = h('div', { 'data-testid': 'sentinel-notices' });
  const status = h('p', { class: 'muted', role: 'status' }, 'Loading…');
  const list = h('ol', { class: 'rows', 'aria-label': 'Findings', 'data-testid': 'findings' });
  const enabled = h('input', { type: 'checkbox', id: 'sentinel-enabled', 'data-testid': 'sentinel-enabled' });
  const BUDGET_HINT = 'Sentinel uses at most 10% of your key\'s Render API budget; deploys come first.';
  const interval = field({ label: 'Check every (seconds)', control: h('input', { type: 'number', class: 'input', min: '30', max: '3600', step: '1', inputmode: 'numeric', 'data-testid': 'sentinel-interval' }), hint: `At least 30 seconds. ${BUDGET_HINT}` });
  const intervalHint = interval.el.querySelector('.field__hint');
  const slack = field({ label: 'Slack incoming webhook (optional)', control: h('input', { type: 'url', class: 'input input--mono', autocomplete: 'off', placeholder: 'https://hooks.slack.com/services/…', 'data-testid': 'sentinel-slack' }), hint: 'Only hooks.slack.com. Kept encrypted for this session only; high and medium findings are sent, at most 10 per 10 minutes.' });
  // Deploy results (issue 15) share this webhook: a message when a deploy goes live or fails.
  const deployResults = h('input', { type: 'checkbox', id: 'sentinel-deploy-results', 'data-testid': 'sentinel-deploy-results' });
  const save = h('button', { type: 'submit', class: 'btn btn--primary', 'data-testid': 'sentinel-save' }, 'Save');
  const testBtn = h('button', { type: 'button', class: 'btn btn--secondary', 'data-testid': 'sentinel-test' }, 'Send a test message');
  const removeSlack = h('button', { type: 'button', class: 'btn btn--ghost', hidden: true, 'data-testid': 'sentinel-slack-remove' }, 'Remove webhook');
  const testResult = h('div', { 'data-testid': 'sentinel-test-result' });
  const form = h('form', { class: 'card', 'data-testid': 'sentinel-form' },
    h('label', { class: 'checkbox', for: 'sentinel-enabled' }, enabled, ' Watch my Render workspace while I am signed in'),
    interval.el, slack.el,
    h('label', { class: 'checkbox', for: 'sentinel-deploy-results' }, deployResults, ' Also post my deploy results (live or failed) to this webhook'),
    h('div', { class: 'actions' }, save, testBtn, removeSlack), testResult);
  let disposed = false;
  let settings = null;
  // Nothing to edit until the settings are read: a box ticked before then was unticked by their arrival.
  const editable = [enabled, interval.control, slack.control, deployResults, save, testBtn];
  for (const control of editable) control.disabled = true;
  let ready = false;
  // What the user changed and has not saved yet. A read again (the stream opening, another tab's save, a
  // finding, a poll) draws the rest and leaves these as the user set them; a save of this form draws them all.
  const edited = new Set();
  for (const control of [enabled, interval.control, deployResults]) {
    for (const type of ['input', 'change']) control.addEventListener(type, () => edited.add(control));
  }

  function drawSettings(s, { saved = false } = {}) {
    settings = s;
    if (saved) edited.clear();
    const keep = (control) => edited.has(control);
    if (!keep(enabled)) enabled.checked = Boolean(s.enabled);
    if (!keep(interval.control)) interval.control.value = String(s.intervalSeconds);
    // The operator's default may be shorter than what a user may pick; it stays valid as it is.
    interval.control.min = String(Math.min(30, s.intervalSeconds));
    // And the hint says so: a bare "At least 30 seconds" above the 15 of sandbox mode (SENTINEL_INTERVAL_SECONDS)
    // called the value shown invalid.
    intervalHint.textContent = s.intervalSeconds < 30
      ? `At least 30 seconds, or this server's default of ${s.intervalSeconds} as it is. ${BUDGET_HINT}`
      : `At least 30 seconds. ${BUDGET_HINT}`;
    slack.control.placeholder = s.slack?.configured ? `Saved webhook ${s.slack.hint ?? ''} (enter a new one to replace it)` : 'https://hooks.slack.com/services/…';
    removeSlack.hidden = !s.slack?.configured;
    if (!keep(deployResults)) deployResults.checked = Boolean(s.slack?.deployResults);
    const items = (s.notices ?? []).map((text) => notice('warning', text));
    if (s.enabled && !s.watchingThisSession) items.push(notice('warning', 'Sentinel is watching with another of your sessions; saving here moves it to this one.'));
    if (!s.enabled) items.push(notice('info', 'Sentinel is off. Turn it on to be told when someone views database credentials, opens a shell, downloads a backup, or a service fails silently.'));
    replace(notices, ...items);
  }

  // Findings are read again on each event (a finding, a settings change): a read answered after a later
  // one is older than what is drawn and would take the newest findings away until the next event.
  const loadFindings = latestOnly(async (current) => {
    try {
      const res = await ctx.api.sentinelFindings();
      if (disposed || !current()) return;
      const findings = Array.isArray(res?.findings) ? res.findings : [];
      replace(list, findings.map(findingRow));
      status.textContent = findings.length ? `${findings.length} finding${findings.length === 1 ? '' : 's'}, newest first.` : 'No findings yet.';
    } catch (err) {
      if (!disposed && current()) status.textContent = `Could not load findings: ${err.message}`;
    }
  });

  // A read answered after a save, or after a read begun later, is older than what is drawn: dropped (its
  // old values, the box unticked and "Sentinel is off.", stayed until the next event).
  let reads = 0;
  let drawnRead = 0;
  let saves = 0;
  async function loadSettings() {
    const mine = ++reads;
    const savesBefore = saves;
    try {
      const s = await ctx.api.sentinel();
      if (disposed || mine < drawnRead || saves !== savesBefore) return;
      drawnRead = mine;
      drawSettings(s);
    } catch (err) {
      if (!disposed) replace(notices, notice('error', `Could not load Sentinel settings: ${err.message}`));
    } finally {
      // Once, after the first read: a failed one still leaves the form usable (a save says what the server
      // thinks), and a later read must not free a button that a save in progress holds.
      if (!ready && !disposed) {
        ready = true;
        for (const control of editable) control.disabled = false;
      }
    }
  }

  // A save's answer is the settings as they were when it was made: a round that ran while it was on its
  // way (the first round of a watch just turned on) may have written a notice since, whose event's read
  // this page drew, or dropped as older than the save. Drawn last, the answer hid that notice until the
  // next event, maybe never. Read once more after each save.
  const readAfterSave = () => { void loadSettings(); };

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    interval.setError(null);
    slack.setError(null);
    void busy(save, 'Saving…', async () => {
      // `enabled` only when the box was changed here: as last read it may be stale (a polling page reads
      // again every 15 s), and a save of the interval then turned back on a watch another tab had turned
      // off. Left out, the server keeps the watch on or off as it is, and refuses settings for one that is off.
      const body = {};
      if (edited.has(enabled)) body.enabled = enabled.checked;
      if (enabled.checked) {
        const secs = Number(interval.control.value);
        if (Number.isFinite(secs) && secs > 0 && secs !== settings?.intervalSeconds) body.intervalSeconds = Math.round(secs);
        if (slack.control.value.trim()) body.slackWebhookUrl = slack.control.value.trim();
        body.slackDeployResults = deployResults.checked;
      }
      if (Object.keys(body).length === 0) {
        // The box unticked as read, nothing else to send: Sentinel stays off.
        ctx.announce('Nothing to save: Sentinel is off.');
        readAfterSave();
        return;
      }
      try {
        const saved = await ctx.api.putSentinel(body);
        saves += 1;
        drawSettings(saved, { saved: true });
        readAfterSave();
        slack.control.value = '';
        ctx.announce(saved.enabled ? 'Sentinel is on.' : 'Sentinel is off.');
        ctx.onSentinelChanged?.();
      } catch (err) {
        if (err instanceof ApiError && err.status === 400 && /^enabled: /.test(err.message)) {
          // Turned off since this page last read it (another tab or session): nothing was saved. The page
          // shows it off, keeps what was typed, and says how to turn it on with those settings.
          await loadSettings();
          notices.prepend(notice('warning', h('strong', null, 'Not saved: Sentinel was turned off meanwhile '), '(in another tab or session). Tick "Watch my Render workspace" and save again to turn it on with these settings.'));
          enabled.focus();
          return;
        }
        // On its field, focused so that it is read out with it; else above the form.
        const on = /slackWebhookUrl/.test(err.message) ? slack : /intervalSeconds/.test(err.message) ? interval : null;
        if (on) { on.setError(err.message.replace(/^(slackWebhookUrl|intervalSeconds): /, '')); on.control.focus(); } else replace(notices, notice('error', err.message));
      }
    });
  });
  testBtn.addEventListener('click', () => busy(testBtn, 'Sending…', async () => {
    replace(testResult);
    slack.setError(null);
    try {
      const url = slack.control.value.trim();
      const res = await ctx.api.sentinelTestAlert(url ? { slackWebhookUrl: url } : {});
      // Shown, not only announced: a sighted user saw nothing happen. The server waits for Slack's answer,
      // so a refused or unreachable webhook says so here (before, it was only a line in the server's log).
      replace(testResult, res.delivered
        ? notice('success', 'Slack accepted the test message: it should appear in the channel within seconds.')
        : notice('error', h('strong', null, 'Test message not delivered: '), `${(res.reason ?? 'Slack did not accept it').replace(/\.$/, '')}.`,
          ' Sentinel\'s alerts to this webhook would fail the same way; check the URL, or create a new webhook in Slack.'));
    } catch (err) { slack.setError(err.message.replace(/^slackWebhookUrl: /, '')); slack.control.focus(); }
  }));
  removeSlack.addEventListener('click', () => busy(removeSlack, 'Removing…', async () => {
    try {
      // `enabled` left out: the server keeps the watch on or off as it is. Sent from what this page last
      // read, it turned back on a Sentinel another tab had turned off meanwhile.
      const saved = await ctx.api.putSentinel({ slackWebhookUrl: null });
      saves += 1;
      drawSettings(saved);
      readAfterSave();
      ctx.announce('Slack webhook removed.');
      // The pressed button is hidden now (no webhook to remove): the webhook's field, not <body>.
      if (focusLost()) slack.control.focus();
    } catch (err) { replace(notices, notice('error', err.message)); }
  }));

  loadSettings();
  loadFindings();

  return {
    title: 'Security',
    el: h('section', { class: 'page' },
      h('h1', { tabindex: '-1' }, 'Security'),
      h('p', { class: 'lead' }, 'Sentinel watches your Render workspace with your key while you are signed in: audit-log events, error bursts in app logs, and services failing silently.'),
      notices, form, h('h2', {}, 'Findings'), status, list),
    onSentinel() { void loadFindings(); void loadSettings(); },
    // After a gap in the stream (reconnect, polling) the notices may have changed too.
    onResync() { void loadFindings(); void loadSettings(); },
    // While polling no `sentinel` event comes (the stream's only): live.js asks every fifth poll (15 s) for
    // what they would have made the page read. Without it a polling page never showed a new finding, nor
    // another tab's change of the settings.
    onServicePoll() { void loadFindings(); void loadSettings(); },
    dispose() { disposed = true; },
  };
}

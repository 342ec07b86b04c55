/** The caller's audit trail (GET /api/audit): what happened on this account, newest first, one line per event. */
import { busy, h, notice, replace } from './dom.js';
import { timeEl } from './format.js';

/** Filter groups: what a person looks for, not the stored action names. */
const KINDS = {
  all: { label: 'All events', actions: null },
  signin: { label: 'Sign-ins and sign-outs', actions: ['sign_in', 'sign_in_failed', 'sign_out'] },
  key: { label: 'Render key', actions: ['render_key_set', 'render_key_cleared', 'render_key_invalid'] },
  deploys: { label: 'Deploys', actions: ['deploy_requested', 'deploy_finished'] },
  services: { label: 'Service actions', actions: ['lifecycle'] },
  assistants: { label: 'AI assistants (MCP)', actions: ['mcp_tool'] },
  security: { label: 'Security', actions: ['security', 'sentinel_finding', 'sentinel_settings'] },
};

// Plain glyphs: emoji such as ⛔ are missing from many system fonts.
const OUTCOMES = { success: ['success', '✓', 'succeeded'], failure: ['failure', '✕', 'failed'], denied: ['failure', '✕', 'refused'], detected: ['warning', '!', 'detected'] };
const FINISHED = {
  live: 'went live', build_failed: 'failed: the build failed', update_failed: 'failed: the update failed', pre_deploy_failed: 'failed: the pre-deploy step failed',
  failed: 'failed', canceled: 'was canceled', credentials_revoked: 'stopped: the Render key was removed', deactivated: 'was replaced',
};
const LIFECYCLE = { redeploy: 'Redeployed', rollback: 'Rolled back', suspend: 'Suspended', resume: 'Resumed', delete: 'Deleted', cancel: 'Canceled' };
/** The settings page's actions (server/routes/serviceSettings/scope.ts SettingsAction): what was done, then the service. */
const SETTINGS = {
  env_var_set: 'Set an environment variable on service ', env_var_delete: 'Removed an environment variable from service ',
  env_var_reveal: 'Viewed an environment variable\'s value on service ', secret_file_set: 'Set a secret file on service ',
  secret_file_delete: 'Removed a secret file from service ', secret_file_reveal: 'Viewed a secret file\'s contents on service ',
  domain_add: 'Added a custom domain to service ', domain_delete: 'Removed a custom domain from service ',
  domain_verify: 'Asked Render to verify a custom domain of service ',
  settings_update: 'Changed the settings (auto-deploy, scaling, plan, health check or previews) of service ',
  clear_cache_redeploy: 'Cleared the build cache and redeployed service ',
};
/** A Sentinel save's changes (server/routes/sentinel.ts SentinelChange). */
const SENTINEL_CHANGES = {
  turned_on: 'turned on', turned_off: 'turned off', watch_moved: 'now watches with the Render key of the session that saved',
  interval_changed: 'time between rounds changed', webhook_set: 'Slack webhook set', webhook_replaced: 'Slack webhook replaced',
  webhook_removed: 'Slack webhook removed', deploy_results_on: 'deploy results posted to Slack', deploy_results_off: 'deploy results no longer posted to Slack',
};
const REASONS = {
  access_denied: 'you declined on GitHub', github_login_failed: 'GitHub did not confirm it', github_profile_failed: 'GitHub profile unavailable',
  unauthorized: 'Render did not accept it', forbidden: 'it lacks workspace access',
};

const str = (v) => (typeof v === 'string' ? v : null);
const idOk = (v) => typeof v === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(v);

/** "1 min 12 s" from milliseconds. */
function humaneDuration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return null;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** The browser fingerprint is a hash of the user agent: only shown where it explains something, and labelled. */
function fingerprint(d) {
  return str(d.uaHash) ? h('span', { class: 'mono', title: 'A short hash of the browser’s user agent; the browser itself is not stored.' }, `fingerprint ${d.uaHash.slice(0, 8)}`) : null;
}

/** One sentence for an entry (nodes, so ids can be links). */
function sentence(entry) {
  const d = entry.detail && typeof entry.detail === 'object' ? entry.detail : {};
  const deployment = idOk(d.deploymentId) ? h('a', { href: `#/deployments/${d.deploymentId}`, class: 'mono' }, d.deploymentId) : null;
  const service = idOk(d.serviceId) ? h('span', { class: 'mono' }, d.serviceId) : null;
  const reason = str(d.reason) ? ` (${REASONS[d.reason] ?? d.reason.replaceAll('_', ' ')})` : '';
  switch (entry.action) {
    case 'sign_in': return [`Signed in${str(d.login) ? ` as ${d.login}` : ''}`];
    case 'sign_in_failed': return [`Sign-in failed${reason}`];
    case 'sign_out': return ['Signed out'];
    case 'render_key_set': return ['Render API key connected'];
    case 'render_key_cleared': return ['Render API key removed'];
    case 'render_key_invalid': return [`Render API key rejected${reason}`];
    case 'deploy_requested': return ['Deploy requested', deployment ? [' · ', deployment] : null];
    case 'deploy_finished': {
      const took = humaneDuration(d.durationMs);
      const status = FINISHED[d.status] ?? `ended (${str(d.status)?.replaceAll('_', ' ') ?? 'unknown'})`;
      return [`Deploy ${status}${took ? ` after ${took}` : ''}`, deployment ? [' · ', deployment] : null];
    }
    case 'lifecycle': {
      const verb = LIFECYCLE[d.lifecycleAction] ?? 'Changed';
      if (d.lifecycleAction === 'cancel') return [`${verb} deployment `, deployment];
      // Not 'Changed service' for every settings action: a value shown is a read, which the trail is there to tell apart.
      if (Object.hasOwn(SETTINGS, d.lifecycleAction)) return [SETTINGS[d.lifecycleAction], service];
      return [`${verb} service `, service];
    }
    case 'security': {
      const minutes = typeof d.retryAfterSec === 'number' ? Math.ceil(d.retryAfterSec / 60) : null;
      switch (d.securityEvent) {
        case 'client_changed': return ['Session ended: browser changed (', fingerprint(d) ?? 'unknown fingerprint', ')'];
        case 'render_key_lockout': return [`Key setup locked${minutes ? ` for ${minutes} min` : ''}${typeof d.count === 'number' ? ` after ${d.count} rejected keys` : ''}`];
        case 'repeated_sign_in_failures': return [`Repeated failed sign-ins${typeof d.count === 'number' ? ` (${d.count})` : ''}`];
        default: return [`Security event: ${str(d.securityEvent)?.replaceAll('_', ' ') ?? 'unknown'}`];
      }
    }
    // Failed calls past the first few in a window are one entry each time their count doubles (server/mcp/audit.ts).
    case 'mcp_tool': return [`Assistant (MCP) used ${str(d.tool)?.replaceAll('_', ' ') ?? 'a tool'}${entry.outcome === 'success' ? '' : `: ${str(d.reason)?.replaceAll('_', ' ') ?? 'failed'}${typeof d.count === 'number' ? ` (${d.count} times so far)` : ''}`}`];
    case 'sentinel_settings': {
      const changes = Array.isArray(d.changes) ? d.changes.filter((c) => Object.hasOwn(SENTINEL_CHANGES, c)).map((c) => SENTINEL_CHANGES[c]) : [];
      return [`Sentinel ${changes.length ? changes.join(', ') : 'settings changed'}`];
    }
    case 'sentinel_finding': return [`Sentinel finding (${str(d.reason) ?? 'unknown'} severity): ${str(d.securityEvent)?.replaceAll('_', ' ') ?? 'unknown'}`, service ? [' · ', service] : null];
    default: return [String(entry.action ?? 'Unknown event')];
  }
}

function entryRow(entry) {
  const [tone, icon, said] = OUTCOMES[entry.outcome] ?? ['neutral', '•', String(entry.outcome ?? '')];
  const d = entry.detail && typeof entry.detail === 'object' ? entry.detail : {};
  const where = str(d.ip) ? `from ${d.ip}` : null;
  return h('li', { class: 'audit-row', 'data-testid': 'audit-entry', dataset: { action: String(entry.action ?? ''), seq: String(entry.seq ?? '') } },
    h('span', { class: 'audit-row__time' }, entry.at ? timeEl(h, entry.at) : null),
    h('span', { class: `audit-row__icon audit-row__icon--${tone}`, role: 'img', 'aria-label': said, title: said }, icon),
    h('span', { class: 'audit-row__what' }, sentence(entry)),
    h('span', { class: 'audit-row__where muted' }, where));
}

export function auditView(ctx) {
  const status = h('p', { class: 'muted', role: 'status' }, 'Loading your audit trail…');
  const chain = h('div', { 'data-testid': 'audit-integrity' });
  const list = h('ol', { class: 'audit-list', 'aria-label': 'Audit entries', 'data-testid': 'audit-list' });
  const more = h('button', { type: 'button', class: 'btn btn--secondary', hidden: true, 'data-testid': 'audit-more' }, 'Load more');
  const kind = h('select', { id: 'audit-kind', 'data-testid': 'audit-kind' }, Object.entries(KINDS).map(([value, k]) => h('option', { value }, k.label)));
  const until = h('input', { type: 'date', id: 'audit-until', 'data-testid': 'audit-until', max: new Date().toISOString().slice(0, 10) });
  const filters = h('form', { class: 'audit-filters', role: 'search', onsubmit: (e) => e.preventDefault() },
    h('label', { for: 'audit-kind' }, 'Show'), kind,
    h('label', { for: 'audit-until' }, 'On or before'), until);
  let entries = [];
  let cursor = null;
  let disposed = false;
  let generation = 0;
  /**
   * The read whose list the cursor pages on. Read again for another date, the list shown is being replaced:
   * its next page is not offered (it answered after the new list and was added to it, entries past the
   * date among them), nor read.
   */
  let cursorOf = 0;
  const pageable = () => cursor !== null && cursorOf === generation;

  /** The loaded entries that match the kind filter; the date filter is the server's (it pages from that day). */
  function render() {
    const actions = KINDS[kind.value]?.actions;
    const shown = actions ? entries.filter((e) => actions.includes(e.action)) : entries;
    replace(list, shown.map(entryRow));
    more.hidden = !pageable();
    status.hidden = false;
    if (!entries.length) status.textContent = until.value ? `Nothing recorded on or before ${until.value}.` : 'Nothing recorded yet.';
    else if (!shown.length) status.textContent = `None of the ${entries.length} loaded events match.${cursor ? ' Load more to look further back.' : ''}`;
    else if (actions) status.textContent = `${shown.length} of ${entries.length} loaded events match.`;
    else status.hidden = true;
  }

  function showIntegrity(res) {
    const i = res?.integrity;
    if (res?.chainValid === false) {
      const where = i?.problem?.seq ? ` (entry ${i.problem.seq}: ${i.problem.message})` : '';
      replace(chain, notice('error', `This trail failed its integrity check${where}. Entries may have been altered; the problem has been logged.`));
    } else if (res?.chainValid === true && !chain.querySelector('.notice')) {
      replace(chain, h('p', { class: 'muted audit-chain', title: 'Each entry is chained to the one before it by a hash, and the chain is signed by this server every 100 entries.' },
        h('span', { class: 'ok-mark', 'aria-hidden': 'true' }, '✓ '), 'Integrity check passed: these entries are unaltered.'));
    }
  }

  async function load(append) {
    if (append && !pageable()) return;
    const mine = append ? generation : ++generation;
    if (!append) more.hidden = true;
    try {
      const res = await ctx.api.audit({ cursor: append ? cursor : null, until: until.value || null });
      if (disposed || mine !== generation) return;
      const page = Array.isArray(res?.entries) ? res.entries : [];
      entries = append ? [...entries, ...page] : page;
      cursor = typeof res?.nextCursor === 'string' || typeof res?.nextCursor === 'number' ? String(res.nextCursor) : null;
      cursorOf = mine;
      if (!append) replace(chain);
      showIntegrity(res);
      render();
    } catch (err) {
      // A read a newer one replaced (the date changed again): its failure is not the list's.
      if (disposed || mine !== generation) return;
      status.hidden = false;
      status.textContent = err.status === 404 ? 'The audit trail is not available on this server.' : `Could not load the audit trail: ${err.message}`;
    }
  }
  more.addEventListener('click', () => busy(more, 'Loading…', () => load(true)));
  kind.addEventListener('change', render);
  until.addEventListener('change', () => load(false));
  load(false);

  return {
    title: 'Audit trail',
    el: h('section', { class: 'page' },
      h('h1', { tabindex: '-1' }, 'Audit trail'),
      h('p', { class: 'lead' }, 'Sign-ins, key changes, deploys and service actions on your account. Secrets are never recorded.'),
      filters, chain, status, list, more),
    dispose() { disposed = true; },
  };
}

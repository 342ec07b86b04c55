/** The caller's audit trail (GET /api/audit): what happened on this account, newest first. */
import { busy, h, notice, replace } from './dom.js';
import { timeEl } from './format.js';

const ACTIONS = {
  sign_in: 'Signed in', sign_in_failed: 'Sign-in failed', sign_out: 'Signed out',
  render_key_set: 'Render key connected', render_key_cleared: 'Render key removed', render_key_invalid: 'Render key rejected',
  deploy_requested: 'Deploy requested', deploy_finished: 'Deploy finished', lifecycle: 'Service action', security: 'Security event',
};
const OUTCOMES = {
  success: ['success', '✓'], failure: ['failure', '✕'], denied: ['failure', '⛔'], detected: ['warning', '⚠'],
};
const DETAIL_LABELS = {
  login: 'Login', ip: 'IP', uaHash: 'Browser', route: 'Route', method: 'Method', deploymentId: 'Deployment', serviceId: 'Service',
  status: 'Status', lifecycleAction: 'Action', reason: 'Reason', securityEvent: 'Event', resource: 'Resource',
  durationMs: 'Duration (ms)', retryAfterSec: 'Retry after (s)', count: 'Count',
};

const text = (v) => (v === null || v === undefined ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v));

function entryItem(entry) {
  // Known shape {seq, at, action, outcome, detail}; anything else at the top level is shown as detail too.
  const { at, action, outcome, detail, seq, hash, prevHash, ...rest } = entry;
  const pairs = Object.entries({ ...(detail && typeof detail === 'object' ? detail : {}), ...rest });
  const [tone, icon] = OUTCOMES[outcome] ?? ['neutral', '•'];
  const deploymentId = typeof detail?.deploymentId === 'string' ? detail.deploymentId : null;
  return h('li', { class: 'audit-item', 'data-testid': 'audit-entry', dataset: { action: String(action ?? '') } },
    h('div', { class: 'audit-item__head' },
      h('span', { class: 'audit-item__action' }, ACTIONS[action] ?? text(action)),
      outcome ? h('span', { class: `badge badge--${tone === 'warning' ? 'neutral' : tone === 'failure' ? 'failure' : 'success'}` },
        h('span', { class: 'badge__icon', 'aria-hidden': 'true' }, icon), h('span', { class: 'badge__text' }, text(outcome))) : null,
      at ? h('span', { class: 'audit-item__time' }, timeEl(h, at)) : null),
    pairs.length ? h('dl', { class: 'audit-item__detail' },
      pairs.map(([k, v]) => [
        h('dt', null, DETAIL_LABELS[k] ?? k),
        h('dd', { class: 'mono' }, k === 'deploymentId' && deploymentId && /^[A-Za-z0-9_-]{1,64}$/.test(deploymentId)
          ? h('a', { href: `#/deployments/${deploymentId}` }, deploymentId)
          : text(v)),
      ])) : null);
}

export function auditView(ctx) {
  const status = h('p', { class: 'muted', role: 'status' }, 'Loading your audit trail…');
  const chain = h('div');
  const list = h('ol', { class: 'audit-list', 'aria-label': 'Audit entries', 'data-testid': 'audit-list' });
  const more = h('button', { type: 'button', class: 'btn btn--secondary', hidden: true }, 'Load older entries');
  let cursor = null;
  let disposed = false;

  async function load(append) {
    try {
      const res = await ctx.api.audit({ cursor: append ? cursor : null });
      if (disposed) return;
      const entries = Array.isArray(res?.entries) ? res.entries : [];
      const items = entries.map(entryItem);
      if (append) list.append(...items); else replace(list, items);
      cursor = typeof res?.nextCursor === 'string' || typeof res?.nextCursor === 'number' ? String(res.nextCursor) : null;
      more.hidden = !cursor;
      status.textContent = list.children.length ? '' : 'Nothing recorded yet.';
      status.hidden = list.children.length > 0;
      if (res?.chainValid === false) {
        replace(chain, notice('error', 'This trail failed its integrity check: entries may have been altered. The problem has been logged.'));
      } else if (res?.chainValid === true) {
        replace(chain, h('p', { class: 'muted audit-chain' }, h('span', { class: 'ok-mark', 'aria-hidden': 'true' }, '✓ '), 'Integrity check passed (hash chain verified).'));
      }
    } catch (err) {
      if (disposed) return;
      status.hidden = false;
      status.textContent = err.status === 404
        ? 'The audit trail is not available on this server.'
        : `Could not load the audit trail: ${err.message}`;
    }
  }
  more.addEventListener('click', () => busy(more, 'Loading…', () => load(true)));
  load(false);

  return {
    title: 'Audit trail',
    el: h('section', { class: 'page' },
      h('h1', { tabindex: '-1' }, 'Audit trail'),
      h('p', { class: 'lead' }, 'Sign-ins, key changes, deploys and service actions on your account. Secrets are never recorded.'),
      chain, status, list, more),
    dispose() { disposed = true; },
  };
}

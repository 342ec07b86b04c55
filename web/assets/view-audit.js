/** The caller's audit trail (GET /api/audit): what happened on this account, newest first. */
import { h, replace } from './dom.js';
import { timeEl } from './format.js';

function detailValue(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function entryItem(entry) {
  const { at, action, ...rest } = entry;
  const pairs = Object.entries(rest).filter(([k]) => k !== 'hash' && k !== 'prevHash');
  return h('li', { class: 'audit-item', 'data-testid': 'audit-entry' },
    h('div', { class: 'audit-item__head' },
      h('span', { class: 'audit-item__action mono' }, String(action ?? 'event')),
      at ? timeEl(h, at) : null),
    pairs.length ? h('dl', { class: 'audit-item__detail' },
      pairs.map(([k, v]) => [h('dt', null, k), h('dd', { class: 'mono' }, detailValue(v))])) : null);
}

export function auditView(ctx) {
  const body = h('div', null, h('p', { class: 'muted', role: 'status' }, 'Loading your audit trail…'));
  ctx.api.audit().then((res) => {
    const entries = Array.isArray(res?.entries) ? res.entries : [];
    replace(body, entries.length
      ? h('ol', { class: 'audit-list', 'aria-label': 'Audit entries' }, entries.map(entryItem))
      : h('p', { class: 'muted' }, 'Nothing recorded yet.'));
  }, (err) => {
    replace(body, h('p', { class: 'muted' }, err.status === 404
      ? 'The audit trail is not available on this server.'
      : `Could not load the audit trail: ${err.message}`));
  });
  return {
    title: 'Audit trail',
    el: h('section', { class: 'page' },
      h('h1', { tabindex: '-1' }, 'Audit trail'),
      h('p', { class: 'lead' }, 'Sign-ins, key changes and deploys on your account. Secrets are never recorded.'),
      body),
  };
}

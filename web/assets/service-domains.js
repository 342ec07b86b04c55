/** The settings page's custom domains: add one, the DNS records to create for it, verify, remove. */
import { busy, confirmButton, field, focusLost, h, keepFocus, keepOpen, latestOnly, notice, replace } from './dom.js';

const VERIFIED = { verified: ['success', 'Verified'], unverified: ['progress', 'Waiting for DNS'] };

export function domainsSection({ ctx, serviceId, gone = () => false }) {
  const api = ctx.api;
  const list = h('ul', { class: 'rows', 'aria-label': 'Custom domains', 'data-testid': 'domain-list' });
  const status = h('p', { class: 'muted', role: 'status' }, 'Loading…');
  const flash = h('div');
  const name = field({
    label: 'Domain', control: h('input', { class: 'input input--mono', autocomplete: 'off', spellcheck: 'false', placeholder: 'app.example.com or *.example.com', 'data-testid': 'domain-name' }),
    hint: 'A root domain (example.com) also gets www.example.com, which redirects to it.',
  });
  const add = h('button', { type: 'submit', class: 'btn btn--primary', 'data-testid': 'domain-add' }, 'Add domain');
  const form = h('form', { class: 'kv__form', 'data-testid': 'domain-form' }, h('div', { class: 'input-row' }, name.el), h('div', { class: 'actions' }, add));
  const body = h('div', { class: 'card' }, status, list, flash, form);
  const heading = h('h2', { id: 'domains-heading', tabindex: '-1' }, 'Custom domains');

  function dnsTable(records) {
    if (!records.length) return null;
    return h('table', { class: 'dns', 'data-testid': 'domain-dns' },
      h('caption', { class: 'field__hint' }, 'Create at your DNS provider (and remove any AAAA records for this name):'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Type'), h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Value'))),
      // data-label: on a phone each record is stacked, its cells labelled (later-views.css). The name and
      // value, which the user copies, are one selection each.
      h('tbody', {}, records.map((r) => h('tr', {},
        h('td', { class: 'mono' }, r.type),
        h('td', { class: 'mono', 'data-label': 'Name' }, h('span', { class: 'dns__copy', 'data-testid': 'dns-name' }, r.name)),
        h('td', { class: 'mono', 'data-label': 'Value' }, h('span', { class: 'dns__copy', 'data-testid': 'dns-value' }, r.value),
          r.note ? h('span', { class: 'muted' }, ` (${r.note})`) : null)))));
  }

  /** Removed meanwhile (another tab, the Render Dashboard): the list is read again and says so. */
  async function goneMeanwhile(err, d) {
    if (err.status !== 404 || !(await load()) || shownIds.has(d.id)) return false;
    replace(flash, notice('info', h('bdi', null, d.name), ' was already removed.'));
    ctx.announce(`${d.name} was already removed`);
    // Its row, and the focused button with it, is gone: the section's heading, not <body>.
    if (focusLost()) heading.focus();
    return true;
  }

  function row(d) {
    const [tone, text] = VERIFIED[d.verificationStatus] ?? ['neutral', d.verificationStatus];
    // Named after the domain: a screen reader heard "Verify, Remove" on every row.
    const verify = h('button', { type: 'button', class: 'btn btn--secondary btn--small', 'aria-label': `Verify ${d.name}`, 'data-testid': 'domain-verify' }, 'Verify');
    verify.addEventListener('click', () => busy(verify, 'Checking…', async () => {
      try {
        const res = await api.verifyCustomDomain(serviceId, d.id);
        // domain null: Render took the check, but its answer could not be read back; the list reloaded below shows it.
        const verified = res.domain?.verificationStatus === 'verified';
        const said = !res.domain ? `Render was asked to verify ${d.name}, but its result could not be read. The list below shows its status once Render answers; verify again later if it is not verified.`
          : verified ? `${d.name} verified.` : `${d.name}: Render does not see the DNS records yet. They can take a while to spread; verify again later.`;
        // On the page too, not only to a screen reader: the button said "Checking…" and then nothing.
        replace(flash, notice(verified ? 'success' : 'info', said));
        ctx.announce(said);
        await load();
      } catch (err) { if (!(await goneMeanwhile(err, d))) replace(flash, notice('error', err.message)); }
    }));
    const remove = confirmButton({
      label: 'Remove', name: `Remove ${d.name}`, question: ['Remove ', h('bdi', null, d.name), '?'], confirmLabel: 'Remove', danger: true, small: true, testId: 'domain-remove',
      onConfirm: async () => {
        try {
          await api.deleteCustomDomain(serviceId, d.id);
          ctx.announce(`${d.name} removed`);
          await load();
          // Its row, and the focused button with it, is gone: the section's heading, not <body>.
          if (focusLost()) heading.focus();
        } catch (err) { if (!(await goneMeanwhile(err, d))) replace(flash, notice('error', err.message)); }
      },
    });
    return h('li', { class: 'row domain', dataset: { domain: d.name }, 'data-testid': 'domain-row' },
      h('div', { class: 'kv__head' },
        h('span', { class: 'mono kv__key' }, d.name),
        h('span', { class: `badge badge--${tone}`, 'data-testid': 'domain-status' }, text),
        d.redirectForName ? h('span', { class: 'muted' }, `redirects to ${d.redirectForName}`) : null,
        h('span', { class: 'kv__actions' }, d.verificationStatus === 'verified' ? null : verify, remove)),
      d.verificationStatus === 'verified' ? null : dnsTable(d.dns));
  }

  const keyOf = (el) => el.closest('[data-domain]')?.dataset.domain;
  const itemOf = (domain) => list.querySelector(`[data-domain="${CSS.escape(domain)}"]`);

  /** The ids listed now (after the last load that succeeded). */
  let shownIds = new Set();
  /** What the list was last drawn from: the same answer again (a poll) is not drawn again. */
  let drawnFrom = null;
  /** A service type without custom domains (it stays so): nothing to read again. */
  let unsupported = false;

  /** Reads the list again; false when it could not be read (once the latest read has drawn it). */
  const load = latestOnly(async (current) => {
    // The page is gone (a sign-out, another key): its service's id would be the next session's 404.
    if (gone()) return undefined;
    try {
      const res = await api.customDomains(serviceId);
      if (!current()) return undefined;
      if (!res.supported) {
        unsupported = true;
        replace(body, h('p', { class: 'muted' }, 'Only web services and static sites can have custom domains.'));
        return false;
      }
      // Unchanged: nothing drawn again, so a screen reader's place and the focused button stay.
      const drawn = JSON.stringify(res.domains);
      if (drawn !== drawnFrom) {
        // A removal asked for stays asked, if its domain is still listed.
        keepOpen({ area: list, keyOf, itemOf }, () => replace(list, res.domains.map(row)));
        drawnFrom = drawn;
      }
      shownIds = new Set(res.domains.map((d) => d.id));
      const said = res.domains.length ? `Traffic reaches ${res.target ?? 'the service'} through these names.` : 'No custom domains yet.';
      if (status.textContent !== said) status.textContent = said;
      return true;
    } catch (err) {
      if (!current()) return undefined;
      status.textContent = `Could not load domains: ${err.message}`;
      return false;
    }
  });

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    name.setError(null);
    replace(flash);
    void busy(add, 'Adding…', async () => {
      try {
        await api.addCustomDomain(serviceId, name.control.value);
        // Said, as a variable saved is: the list's status line often reads as before, so nothing else is.
        ctx.announce(`${name.control.value.trim()} added`);
        name.control.value = '';
        await load();
      } catch (err) {
        if (err.field === 'name') { name.setError(err.message); name.control.focus(); } else replace(flash, notice('error', err.message));
      }
    });
  });

  void load();
  return {
    el: h('section', { class: 'section', 'aria-labelledby': 'domains-heading', 'data-testid': 'domains-section' }, heading, body),
    /** Changed elsewhere (another tab), or a poll: the list is read again; a focused row keeps focus on its button, else the heading. */
    reload: () => (unsupported ? Promise.resolve(false) : keepFocus({ area: list, fallback: heading, keyOf, itemOf }, load)),
  };
}

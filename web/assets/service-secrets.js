/**
 * The settings page's env vars and secret files: names listed, a value only when asked for (that read
 * appears in the user's Render audit log), one key or file added, changed or removed at a time.
 */
import { busy, confirmButton, field, focusLost, h, keepFocus, keepOpen, latestOnly, notice, openable, replace, revealToggle, setOpen } from './dom.js';
import { secretValueInput } from './secret-value.js';

const AUDIT_NOTE = 'Showing a value reads it from Render, which records the read in your workspace\'s Render audit log.';

/**
 * @param {object} o
 * @param {'env'|'file'} o.kind
 * @param {object} o.ctx
 * @param {string} o.serviceId
 * @param {() => void} o.onChanged  a change applies at the next deploy: the page offers one
 */
export function secretsSection({ kind, ctx, serviceId, onChanged, gone = () => false }) {
  const env = kind === 'env';
  const api = ctx.api;
  const label = env ? 'Environment variables' : 'Secret files';
  const list = h('ul', { class: 'rows kv', 'data-testid': env ? 'env-list' : 'file-list', 'aria-label': label });
  const status = h('p', { class: 'muted', role: 'status' }, 'Loading…');
  const flash = h('div');
  const heading = h('h2', { id: `${kind}-heading`, tabindex: '-1' }, label);

  const name = field({
    label: env ? 'Name' : 'File name',
    control: h('input', { class: 'input input--mono', autocomplete: 'off', spellcheck: 'false', 'data-testid': env ? 'env-key' : 'file-name', placeholder: env ? 'DATABASE_URL' : 'credentials.json' }),
    hint: env ? 'Letters, digits and _, not starting with a digit.' : 'Render mounts it at /etc/secrets/<name>.',
  });
  const valueControl = env
    ? secretValueInput({ 'data-testid': 'env-value' })
    : h('textarea', { class: 'input input--mono', rows: '4', spellcheck: 'false', 'data-testid': 'file-content' });
  const value = field({ label: env ? 'Value' : 'Contents', control: valueControl, addon: env ? revealToggle(valueControl) : null });
  const generate = env ? h('input', { type: 'checkbox', 'data-testid': 'env-generate' }) : null;
  const save = h('button', { type: 'submit', class: 'btn btn--primary', 'data-testid': env ? 'env-save' : 'file-save' }, env ? 'Save variable' : 'Save file');
  const form = h('form', { class: 'kv__form', 'data-testid': env ? 'env-form' : 'file-form' },
    h('div', { class: 'kv__fields' }, name.el, value.el),
    generate ? h('label', { class: 'checkbox' }, generate, ' Let Render generate a random value') : null,
    h('div', { class: 'actions' }, save));
  generate?.addEventListener('change', () => { valueControl.disabled = generate.checked; });

  /** Changes heard that may have set a value (here or in another tab): a value shown before one says it may be stale. */
  let setsHeard = 0;

  function row(item) {
    const key = env ? item.key : item.name;
    // Each row's buttons say whose they are: a screen reader heard "Show, Change, Delete" on every row.
    const showLabel = (verb) => `${verb} ${env ? 'value of ' : ''}${key}`;
    const show = h('button', { type: 'button', class: 'btn btn--ghost btn--small', 'aria-expanded': 'false', 'aria-label': showLabel('Show'), 'data-testid': 'reveal' }, 'Show');
    // Kept when the list is drawn again (keepOpen): the user asked for it, and the read was audited.
    const shown = openable(h('div', { class: 'kv__value', hidden: true }), 'revealed', (state) => display(state));
    function display(state) {
      replace(shown, h('pre', { class: 'mono kv__pre', 'data-testid': 'revealed' }, state.value),
        h('p', { class: 'field__hint' }, state.setsHeard < setsHeard
          ? `${env ? 'Variables' : 'Files'} may have changed since this was read: hide and show it again for the value Render has now.`
          : 'This read is now in your Render audit log.'));
      shown.hidden = false;
      show.textContent = 'Hide';
      show.setAttribute('aria-label', showLabel('Hide'));
      show.setAttribute('aria-expanded', 'true');
      setOpen(shown, state);
    }
    show.addEventListener('click', () => {
      if (!shown.hidden) { shown.hidden = true; replace(shown); setOpen(shown, null); show.textContent = 'Show'; show.setAttribute('aria-label', showLabel('Show')); show.setAttribute('aria-expanded', 'false'); return; }
      void busy(show, 'Reading…', async () => {
        try {
          const res = env ? await api.revealEnvVar(serviceId, key) : await api.revealSecretFile(serviceId, key);
          return { value: env ? res.value : res.content, setsHeard };
        } catch (err) { replace(flash, notice('error', err.message)); return null; }
      }).then((state) => { if (state) display(state); });
    });
    const edit = h('button', { type: 'button', class: 'btn btn--ghost btn--small', 'aria-label': `Change ${key}` }, 'Change');
    edit.addEventListener('click', () => { name.control.value = key; valueControl.value = ''; valueControl.style.height = ''; valueControl.focus(); });
    const remove = confirmButton({
      label: 'Delete', name: `Delete ${key}`, question: ['Delete ', h('bdi', null, key), '?'], confirmLabel: 'Delete', danger: true, small: true, testId: 'kv-delete',
      onConfirm: async () => {
        try {
          if (env) await api.deleteEnvVar(serviceId, key); else await api.deleteSecretFile(serviceId, key);
          ctx.announce(`${key} deleted`);
          onChanged();
          await load();
          // Its row, and the focused button with it, is gone: the section's heading, not <body>.
          if (focusLost()) heading.focus();
        } catch (err) {
          // Removed meanwhile (another tab, the Render Dashboard): the list is read again and says so.
          if (err.status === 404 && (await load()) && !shownKeys.has(key)) {
            replace(flash, notice('info', `${key} was already removed.`));
            ctx.announce(`${key} was already removed`);
            // Its row went with the list read again: the section's heading, not <body>.
            if (focusLost()) heading.focus();
            return;
          }
          replace(flash, notice('error', err.message));
        }
      },
    });
    return h('li', { class: 'row kv__row', dataset: { key } },
      h('div', { class: 'kv__head' }, h('span', { class: 'mono kv__key' }, key), h('span', { class: 'muted kv__mask', 'aria-hidden': 'true' }, '••••••'),
        h('span', { class: 'kv__actions' }, show, edit, remove)),
      shown);
  }

  const keyOf = (el) => el.closest('[data-key]')?.dataset.key;
  const itemOf = (key) => list.querySelector(`[data-key="${CSS.escape(key)}"]`);

  /** The names listed now (after the last load that succeeded). */
  let shownKeys = new Set();

  /** Reads the list again; false when it could not be read (once the latest read has drawn it). */
  const load = latestOnly(async (current) => {
    // The page is gone (a sign-out, another key): its service's id would be the next session's 404.
    if (gone()) return undefined;
    try {
      const res = env ? await api.envVars(serviceId) : await api.secretFiles(serviceId);
      if (!current()) return undefined;
      const items = env ? res.envVars : res.secretFiles;
      keepOpen({ area: list, keyOf, itemOf }, () => replace(list, items.map(row)));
      shownKeys = new Set(items.map((item) => (env ? item.key : item.name)));
      status.textContent = items.length ? `${items.length} ${env ? 'variable' : 'file'}${items.length === 1 ? '' : 's'}.` : (env ? 'No variables set on this service.' : 'No secret files.');
      return true;
    } catch (err) {
      if (!current()) return undefined;
      status.textContent = `Could not load ${label.toLowerCase()}: ${err.message}`;
      return false;
    }
  });

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    name.setError(null);
    value.setError(null);
    replace(flash);
    const key = name.control.value.trim();
    void busy(save, 'Saving…', async () => {
      try {
        if (env) await api.putEnvVar(serviceId, key, generate.checked ? { generate_value: true } : { value: valueControl.value });
        else await api.putSecretFile(serviceId, key, valueControl.value);
        ctx.announce(`${key} saved`);
        // Its value shown (if it was) is the one replaced: not kept when the list is drawn again.
        const shownBefore = itemOf(key)?.querySelector('[data-openable=revealed]');
        if (shownBefore) setOpen(shownBefore, null);
        name.control.value = '';
        valueControl.value = ''; valueControl.style.height = ''; // one row again (secret-value.js grows it)
        onChanged();
        await load();
      } catch (err) {
        const target = err.field === 'key' || err.field === 'name' ? name : err.field === 'value' || err.field === 'content' ? value : null;
        // On its field (read out with it when focused), or above the form.
        if (target) { target.setError(err.message); target.control.focus(); } else replace(flash, notice('error', err.message));
      }
    });
  });

  void load();
  return {
    el: h('section', { class: 'section', 'aria-labelledby': `${kind}-heading`, 'data-testid': env ? 'env-section' : 'file-section' },
      heading,
      h('p', { class: 'muted' }, env ? ['Values are hidden. ', AUDIT_NOTE] : 'Contents are hidden; showing a file reads it from Render.', ' Changes apply at the next deploy.'),
      h('div', { class: 'card' }, status, list, flash, form)),
    /**
     * Changed elsewhere (another tab; `action` the service event's): the list is read again; a focused row keeps
     * focus on its button, else the heading; values shown stay shown.
     */
    reload: (action) => {
      // A set, or a gap in the stream (anything may have been set meanwhile).
      if (action?.endsWith('_set') || action === 'resync') setsHeard += 1;
      return keepFocus({ area: list, fallback: heading, keyOf, itemOf }, load);
    },
  };
}

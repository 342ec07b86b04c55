/**
 * Environment variables for a deploy: name/value rows, values masked like passwords (they are often
 * secrets), checked against Render's naming rule before anything is sent.
 */
import { h, revealToggle, uid } from './dom.js';

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const MAX_VARS = 100;

export function createEnvEditor() {
  const rows = h('ol', { class: 'env-rows', 'aria-label': 'Environment variables' });
  const add = h('button', { type: 'button', class: 'btn btn--secondary btn--small', 'data-testid': 'env-add' }, '+ Add variable');
  const empty = h('p', { class: 'muted env-empty' }, 'No environment variables. Values go to Render only: kept encrypted until Render has them, never shown again.');
  const el = h('div', { class: 'env-editor' }, empty, rows, add);

  function renumber() {
    [...rows.children].forEach((row, i) => {
      const n = i + 1;
      row.querySelector('.env-name').setAttribute('aria-label', `Variable ${n} name`);
      row.querySelector('.env-value').setAttribute('aria-label', `Variable ${n} value`);
      row.querySelector('.env-remove').setAttribute('aria-label', `Remove variable ${n}`);
    });
    empty.hidden = rows.children.length > 0;
    add.disabled = rows.children.length >= MAX_VARS;
  }

  function addRow(key = '', value = '') {
    const errId = uid('env-error');
    const name = h('input', {
      type: 'text', class: 'input input--mono env-name', placeholder: 'NAME', autocomplete: 'off', spellcheck: 'false',
      autocapitalize: 'characters', value: key, 'aria-describedby': errId, 'data-testid': 'env-name',
    });
    const val = h('input', {
      type: 'password', class: 'input input--mono env-value', placeholder: 'value', autocomplete: 'off', spellcheck: 'false',
      value, 'data-testid': 'env-value',
    });
    const remove = h('button', { type: 'button', class: 'btn btn--ghost btn--small env-remove' }, 'Remove');
    const error = h('p', { class: 'field__error', id: errId, hidden: true, 'data-testid': 'env-error' });
    const row = h('li', { class: 'env-row' },
      h('div', { class: 'env-row__inputs' }, name, h('div', { class: 'input-group' }, val, revealToggle(val, 'Show value')), remove),
      error);
    remove.addEventListener('click', () => {
      const next = row.nextElementSibling ?? row.previousElementSibling;
      row.remove();
      renumber();
      (next?.querySelector('.env-name') ?? add).focus();
    });
    rows.append(row);
    renumber();
    return name;
  }

  add.addEventListener('click', () => addRow().focus());
  renumber();

  return {
    el,
    /**
     * The variables to send, or the problems found. Fully empty rows are ignored.
     * @returns {{ vars: Array<{key: string, value: string}>, firstInvalid: HTMLElement|null }}
     */
    collect() {
      const vars = [];
      const seen = new Set();
      let firstInvalid = null;
      for (const row of rows.children) {
        const nameInput = row.querySelector('.env-name');
        const valueInput = row.querySelector('.env-value');
        const error = row.querySelector('.field__error');
        const key = nameInput.value.trim();
        const value = valueInput.value;
        let problem = null;
        if (!key && !value) problem = null;
        else if (!key) problem = 'Give this variable a name.';
        else if (!NAME.test(key)) problem = `“${key}” is not a valid name: use letters, digits and _, not starting with a digit.`;
        else if (seen.has(key)) problem = `“${key}” is set twice.`;
        error.textContent = problem ?? '';
        error.hidden = !problem;
        if (problem) {
          nameInput.setAttribute('aria-invalid', 'true');
          firstInvalid ??= nameInput;
        } else nameInput.removeAttribute('aria-invalid');
        if (key && !problem) {
          seen.add(key);
          vars.push({ key, value });
        }
      }
      return { vars, firstInvalid };
    },
  };
}

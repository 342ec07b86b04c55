/**
 * Environment variables for a deploy: name/value rows, values masked like passwords (they are often
 * secrets), checked against Render's naming rule before anything is sent.
 */
import { h, revealToggle, uid } from './dom.js';
import { secretValueInput } from './secret-value.js';

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const MAX_VARS = 100;
// The server's limits (server/deployments/input.ts): per value, and all values together so the request
// stays under the 64 KB body limit. Checked here so a big value is an error on its own row.
export const MAX_VALUE_BYTES = 16 * 1024;
const MAX_TOTAL_BYTES = 48 * 1024;
const bytes = (s) => new TextEncoder().encode(s).length;
const kb = (n) => `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KB`;

export function createEnvEditor() {
  const rows = h('ol', { class: 'env-rows', 'aria-label': 'Environment variables' });
  const add = h('button', { type: 'button', class: 'btn btn--secondary btn--small', 'data-testid': 'env-add' }, '+ Add variable');
  const empty = h('p', { class: 'muted env-empty' }, 'No environment variables. Values go to Render only: kept encrypted until Render has them, never shown again.');
  const el = h('div', { class: 'env-editor' }, empty, rows, add);

  /**
   * A row's controls are named after its variable (a screen reader heard "Remove" on every row), by
   * number until it has a name; named again as the name is typed.
   */
  function label(row, n) {
    const what = row.querySelector('.env-name').value.trim() || `variable ${n}`;
    row.querySelector('.env-name').setAttribute('aria-label', `Variable ${n} name`);
    row.querySelector('.env-value').setAttribute('aria-label', `Value of ${what}`);
    row.querySelector('.reveal').setAttribute('aria-label', `Show value of ${what}`);
    row.querySelector('.env-remove').setAttribute('aria-label', `Remove ${what}`);
  }

  function renumber() {
    [...rows.children].forEach((row, i) => label(row, i + 1));
    empty.hidden = rows.children.length > 0;
    add.disabled = rows.children.length >= MAX_VARS;
  }

  function addRow(key = '', value = '') {
    const errId = uid('env-error');
    const name = h('input', {
      type: 'text', class: 'input input--mono env-name', placeholder: 'NAME', autocomplete: 'off', spellcheck: 'false',
      autocapitalize: 'characters', value: key, 'aria-describedby': errId, 'data-testid': 'env-name',
    });
    const val = secretValueInput({ class: 'input input--mono env-value', placeholder: 'value', 'aria-describedby': errId, 'data-testid': 'env-value' });
    val.value = value;
    const remove = h('button', { type: 'button', class: 'btn btn--ghost btn--small env-remove' }, 'Remove');
    const error = h('p', { class: 'field__error', id: errId, hidden: true, 'data-testid': 'env-error' });
    const row = h('li', { class: 'env-row' },
      h('div', { class: 'env-row__inputs' }, name, h('div', { class: 'input-group' }, val, revealToggle(val, 'Show value')), remove),
      error);
    name.addEventListener('input', () => label(row, [...rows.children].indexOf(row) + 1));
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

  /** Rows behind the variables of the last collect(), in order: the server's env_vars.N is lastSent[N]. */
  let lastSent = [];

  function showProblem(row, problem, badInput) {
    const error = row.querySelector('.field__error');
    error.textContent = problem ?? '';
    error.hidden = !problem;
    for (const input of row.querySelectorAll('.env-name, .env-value')) {
      if (problem && input === badInput) input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
    }
  }

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
      let total = 0;
      lastSent = [];
      for (const row of rows.children) {
        const nameInput = row.querySelector('.env-name');
        const valueInput = row.querySelector('.env-value');
        const key = nameInput.value.trim();
        const value = valueInput.value;
        const size = bytes(value);
        total += size;
        let problem = null;
        let badInput = nameInput;
        if (!key && !value) problem = null;
        else if (!key) problem = 'Give this variable a name.';
        else if (!NAME.test(key)) problem = `“${key}” is not a valid name: use letters, digits and _, not starting with a digit.`;
        else if (seen.has(key)) problem = `“${key}” is set twice.`;
        else if (size > MAX_VALUE_BYTES) {
          problem = `This value is ${kb(size)}; a variable can hold at most ${kb(MAX_VALUE_BYTES)}.`;
          badInput = valueInput;
        } else if (total > MAX_TOTAL_BYTES) {
          problem = `All values together may be at most ${kb(MAX_TOTAL_BYTES)}; with this one they are ${kb(total)}.`;
          badInput = valueInput;
        }
        showProblem(row, problem, badInput);
        if (problem) firstInvalid ??= badInput;
        if (key && !problem) {
          seen.add(key);
          vars.push({ key, value });
          lastSent.push(row);
        }
      }
      return { vars, firstInvalid };
    },
    /**
     * Puts the server's complaint about `env_vars.N.key|value` on that row; null when the field is not one of its rows.
     * @returns {HTMLElement|null} the input to focus
     */
    showServerError(field, message) {
      const m = /^env_vars\.(\d+)\.(key|value)$/.exec(field ?? '');
      const row = m ? lastSent[Number(m[1])] : null;
      if (!row) return null;
      const input = row.querySelector(m[2] === 'key' ? '.env-name' : '.env-value');
      showProblem(row, message, input);
      return input;
    },
  };
}

/** An env var's value field (the deploy form's rows, the service's settings page). */
import { h } from './dom.js';
import { fitToContent } from './command-field.js';

/**
 * A masked textarea, not a password input: a value may span lines (a PEM key, pretty-printed JSON), and a
 * one-line input drops or flattens the line breaks of a paste, so the service ran with another value than
 * the one pasted, and nothing said so. Masked by CSS (`.input--masked`, -webkit-text-security: Chromium,
 * Safari, Firefox 114+) until its Show button (dom.js revealToggle); one row tall, growing with its lines.
 * Enter submits the form, as in the input it replaces; Shift+Enter types a line break.
 */
export function secretValueInput(attrs) {
  const el = h('textarea', {
    ...attrs, class: `${attrs.class ?? 'input input--mono'} input--command input--masked`, rows: 1,
    autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off',
  });
  el.addEventListener('input', () => fitToContent(el));
  el.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter' || e.shiftKey || e.isComposing) return;
    e.preventDefault();
    el.form?.requestSubmit();
  });
  return el;
}

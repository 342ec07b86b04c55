/** The deploy form's build and start command fields. */
import { h } from './dom.js';

// Longest build or start command the API takes, and detection proposes (server/stacks/lines.ts MAX_COMMAND_CHARS).
const MAX_COMMAND_CHARS = 4096;

/**
 * A build or start command field: a textarea, since a detected command may span lines (a render.yaml
 * block) and a one-line input would drop its line breaks, showing a command other than the one that
 * runs. One row for a one-line command, growing with its lines (and wrapped long lines) up to the
 * CSS max-height, past which it scrolls.
 */
export function commandInput(testId) {
  const el = h('textarea', {
    class: 'input input--mono input--command', rows: 1, autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off',
    maxlength: MAX_COMMAND_CHARS, 'data-testid': testId,
  });
  el.addEventListener('input', () => fitToContent(el));
  return el;
}

export function setCommand(el, value) {
  el.value = value;
  fitToContent(el);
}

export function fitToContent(el) {
  el.style.height = 'auto';
  // scrollHeight is the content and padding; the border (border-box sizing) comes on top.
  const border = el.offsetHeight - el.clientHeight;
  el.style.height = `${el.scrollHeight + border}px`;
}

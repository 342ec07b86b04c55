import { MAX_LINE_CHARS, skipSpaces } from './lines.js';
import { StackDetectionError } from './types.js';

/**
 * The command of the Procfile's `web:` process, if any: a line `web: <command>` with optional spaces
 * around the name and colon. One pass over the lines, no regex (a backtracking one once stalled the web
 * process on a 60 KB line). A web: line too long to read is an error rather than a silent fallback.
 */
export function procfileWeb(text: string | null): string | null {
  return procfileProcess(text, 'web');
}

/**
 * The command of the Procfile's `<name>:` process (web, worker, …), read like procfileWeb. Only a line
 * whose first non-space characters are the name can declare it: such lines are found by searching for
 * the name (native indexOf), so the lines between them cost nothing (256 KiB of blank lines, one
 * generator step each through linesOf, was the slowest adversarial file). Each line break and each
 * line's leading spaces are passed once: linear in the text however the name repeats.
 */
export function procfileProcess(text: string | null, name: string): string | null {
  if (!text || !name) return null; // an empty name would be found everywhere, for ever
  let lineStart = 0;
  let lineBreak = text.indexOf('\n');
  let firstNonSpace = -1;
  for (let at = text.indexOf(name); at !== -1; at = text.indexOf(name, at + 1)) {
    while (lineBreak !== -1 && lineBreak < at) {
      lineStart = lineBreak + 1;
      lineBreak = text.indexOf('\n', lineStart);
      firstNonSpace = -1;
    }
    if (firstNonSpace === -1) firstNonSpace = skipSpaces(text, lineStart);
    if (at !== firstNonSpace) continue;
    // The line as linesOf cuts it: without its break (a \r before the \n included), at most MAX_LINE_CHARS.
    const end = lineBreak === -1 ? text.length : text[lineBreak - 1] === '\r' && lineBreak > lineStart ? lineBreak - 1 : lineBreak;
    const clipped = end - lineStart > MAX_LINE_CHARS;
    const command = commandOf(text.slice(lineStart, clipped ? lineStart + MAX_LINE_CHARS : end), clipped, name);
    if (command !== null) return command;
  }
  return null;
}

/** The command of one Procfile line if it is `<name>: <command>` (null otherwise); a clipped such line is an error. */
function commandOf(line: string, clipped: boolean, name: string): string | null {
  const head = line.trimStart();
  if (!head.startsWith(name)) return null;
  const afterName = head.slice(name.length).trimStart();
  if (!afterName.startsWith(':')) return null;
  if (clipped) throw new StackDetectionError(`The Procfile ${name}: line is longer than ${MAX_LINE_CHARS} characters, so its command cannot be used. Shorten it (a script in the repository can hold a long command).`);
  const command = afterName.slice(1).trim();
  // Like the regex this replaces, a command with a line terminator inside is not a command.
  return command && !/[\r\u2028\u2029]/.test(command) ? command : null;
}

import { linesOf, MAX_LINE_CHARS } from './lines.js';
import { StackDetectionError } from './types.js';

/**
 * The command of the Procfile's `web:` process, if any: a line `web: <command>` with optional spaces
 * around the name and colon. One pass over the lines, no regex (a backtracking one once stalled the web
 * process on a 60 KB line). A web: line too long to read is an error rather than a silent fallback.
 */
export function procfileWeb(text: string | null): string | null {
  return procfileProcess(text, 'web');
}

/** The command of the Procfile's `<name>:` process (web, worker, …), read like procfileWeb. */
export function procfileProcess(text: string | null, name: string): string | null {
  if (!text) return null;
  for (const { text: line, clipped } of linesOf(text)) {
    const head = line.trimStart();
    if (!head.startsWith(name)) continue;
    const afterName = head.slice(name.length).trimStart();
    if (!afterName.startsWith(':')) continue;
    if (clipped) throw new StackDetectionError(`The Procfile ${name}: line is longer than ${MAX_LINE_CHARS} characters, so its command cannot be used. Shorten it (a script in the repository can hold a long command).`);
    const command = afterName.slice(1).trim();
    // Like the regex this replaces, a command with a line terminator inside is not a command.
    if (command && !/[\r\u2028\u2029]/.test(command)) return command;
  }
  return null;
}

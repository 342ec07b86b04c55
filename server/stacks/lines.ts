/**
 * Linear-time reading of repository files. Everything under server/stacks reads untrusted text (any
 * repository the user can see), so the rule is: no backtracking regex over it, one pass per line, and
 * bounded line and file sizes. A Procfile line once froze the web process for seconds through a
 * backtracking regex; these helpers are the only way detection looks at file text.
 */

/** Largest file detection reads (the GitHub client refuses larger ones too). */
export const MAX_FILE_CHARS = 256 * 1024;
/** Longest line a manifest reader looks at; longer lines cannot hold a declaration we read. */
export const MAX_LINE_CHARS = 4096;
/**
 * Longest build or start command, detected or typed: what a render.yaml value or Procfile line may
 * hold (MAX_LINE_CHARS), so a command a repository declares is proposed whole and can be deployed and
 * edited. The deploy request (server/deployments/input.ts) and the deploy form take the same bound.
 */
export const MAX_COMMAND_CHARS = MAX_LINE_CHARS;

export interface Line {
  /** The line without its line break, cut to MAX_LINE_CHARS. */
  text: string;
  /** True when the line was longer than MAX_LINE_CHARS (and `text` is only its start). */
  clipped: boolean;
}

/** The lines of `text` (split at \n, a trailing \r dropped), each cut to MAX_LINE_CHARS. */
export function* linesOf(text: string): Generator<Line> {
  let start = 0;
  for (;;) {
    const newline = text.indexOf('\n', start);
    // A \r right before the \n is part of the line break (CRLF files).
    const end = newline === -1 ? text.length : text[newline - 1] === '\r' && newline > start ? newline - 1 : newline;
    const clipped = end - start > MAX_LINE_CHARS;
    const line = text.slice(start, clipped ? start + MAX_LINE_CHARS : end);
    yield { text: line, clipped };
    if (newline === -1) break;
    start = newline + 1;
  }
}

/** Whether `ch` (one UTF-16 unit) is what a regex `\s` matches: String#trim removes exactly that set. */
export function isSpace(ch: string | undefined): boolean {
  if (ch === undefined || ch === '') return false;
  if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') return true;
  return ch > '\u007f' || ch === '\v' || ch === '\f' ? ch.trim() === '' : false;
}

/** Index of the first non-space character at or after `from` (text.length when none). */
export function skipSpaces(text: string, from: number): number {
  let i = from;
  while (i < text.length && isSpace(text[i])) i++;
  return i;
}

/** Index just after the last non-space character before `before` (0 when none). */
export function skipSpacesBack(text: string, before: number): number {
  let i = before;
  while (i > 0 && isSpace(text[i - 1])) i--;
  return i;
}

/** Every index where `needle` occurs in `text`, left to right, without overlaps. */
export function* occurrences(text: string, needle: string): Generator<number> {
  for (let i = text.indexOf(needle); i !== -1; i = text.indexOf(needle, i + needle.length)) yield i;
}

/** Code points that show as nothing (Unicode's default-ignorable ones: U+200B, U+2060, U+3164 HANGUL FILLER, tag characters…). */
const INVISIBLE = /\p{Default_Ignorable_Code_Point}/u;

/**
 * Whether a code point is a control character (C0, DEL, C1; line and paragraph separators), a
 * bidirectional control or one that shows as nothing (default-ignorable: `node\u2060 server.js` was
 * deployed as a start command the form showed as "node server.js"): text with one can show the user
 * something other than what it is or runs.
 */
export function isControlOrOverride(c: number): boolean {
  return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x61c || c === 0x2028 || c === 0x2029 ||
    (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || (c >= 0xad && INVISIBLE.test(String.fromCodePoint(c)));
}

/** `text` with each character that isControlOrOverride replaced by `by` (U+FFFD: shown, not acted on). */
export function replaceControls(text: string, by = '\uFFFD'): string {
  let out = '';
  for (const ch of text) out += isControlOrOverride(ch.codePointAt(0)!) ? by : ch;
  return out;
}

/** The first character of `text` that isControlOrOverride and is not in `allowed`, as "U+XXXX"; null when none. */
export function firstControl(text: string, allowed = ''): string | null {
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (isControlOrOverride(c) && !allowed.includes(ch)) return `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
  }
  return null;
}

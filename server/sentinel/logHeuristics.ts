/**
 * App-log error heuristics. A line is matched by plain string checks (no backtracking regex runs on
 * log text, which is attacker-influenced), after being cut to MAX_LINE characters. Case rules follow
 * the languages: Go's `panic:` and Rust's `panicked at` are lower case, log levels FATAL/CRITICAL are
 * whole upper-case words, exception classes are capitalised identifiers ending in Exception or Error
 * (Java, Python, JS, C#); memory and segfault messages are matched case-insensitively.
 */

import { redactSecrets, stripControls, valuesOf } from '../deployments/redact.js';

export const MAX_LINE = 2_000;

interface LogSignature {
  /** Grouping key within a service, e.g. 'exception:TypeError', 'panic', 'oom'. */
  signature: string;
  /** What the page says, e.g. 'TypeError', 'Go/Rust panic'. */
  label: string;
}

const CLASS_NAME = /^[A-Za-z_$][\w$.]*$/;
/** A name=value pair's name that says its value is a credential, and what ends the value. */
const SECRET_NAME = /password|passwd|secret|token|api_?key/i;
const PAIR_END = /[\s&]/;

export function classifyLine(raw: string): LogSignature | null {
  const line = raw.length > MAX_LINE ? raw.slice(0, MAX_LINE) : raw;
  const lower = line.toLowerCase();
  if (lower.includes('out of memory') || lower.includes('outofmemoryerror') || lower.includes('oomkilled') || lower.includes('oom-killed') || lower.includes('memory limit exceeded')) {
    return { signature: 'oom', label: 'Out of memory' };
  }
  if (lower.includes('segmentation fault') || lower.includes('segfault') || line.includes('SIGSEGV')) return { signature: 'segfault', label: 'Segmentation fault' };
  if (line.startsWith('panic: ') || line.includes(' panic: ') || line.includes("' panicked at")) return { signature: 'panic', label: 'Panic' };
  if (line.includes('Traceback (most recent call last)')) return { signature: 'traceback', label: 'Python traceback' };
  const exception = exceptionClass(line);
  if (exception) return { signature: `exception:${exception}`, label: exception };
  if (hasWord(line, 'FATAL')) return { signature: 'fatal', label: 'FATAL' };
  if (hasWord(line, 'CRITICAL')) return { signature: 'critical', label: 'CRITICAL' };
  return null;
}

/** The first token that names an exception class: `TypeError:`, `java.lang.IllegalStateException`, `Unhandled…Exception`. */
function exceptionClass(line: string): string | null {
  for (const token of line.split(/\s+/, 64)) {
    const word = trimPunctuation(token);
    if (word.length < 6 || word.length > 120) continue;
    if (!(word.endsWith('Exception') || word.endsWith('Error'))) continue;
    if (!CLASS_NAME.test(word)) continue;
    const simple = word.slice(word.lastIndexOf('.') + 1);
    const first = simple.charCodeAt(0);
    if (first < 65 || first > 90) continue; // class names are capitalised: "error" in prose is not one
    if (simple === 'Error' && !token.endsWith(':')) continue; // a bare "Error" word only counts as "Error:"
    return simple;
  }
  return null;
}

function isWordChar(code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95;
}

/** `word` as a whole word (case-sensitive). */
function hasWord(line: string, word: string): boolean {
  let from = 0;
  for (;;) {
    const at = line.indexOf(word, from);
    if (at < 0) return false;
    const before = at === 0 ? 32 : line.charCodeAt(at - 1);
    const after = at + word.length >= line.length ? 32 : line.charCodeAt(at + word.length);
    if (!isWordChar(before) && !isWordChar(after)) return true;
    from = at + 1;
  }
}

/** A log line fit for storage: secrets the caller knows replaced, credential-shaped tokens masked, shortened. */
export function sanitizeLine(line: string, secrets: string[], maxLength = 300): string {
  // Control characters and terminal escapes go first, as in deployment logs: taken out after the
  // secrets, a secret printed with one inside it did not match and was kept whole once it was taken
  // out; taken out after the masks, `ghp_\u0001ABC…` came out as a whole `ghp_ABC…`.
  // The forms deployment logs redact too: a file's lines, a value inside a JSON string.
  let out = redactSecrets(cutOutsideSecrets(stripControls(line), MAX_LINE, valuesOf(secrets)), secrets);
  // The whole token: fine-grained GitHub tokens (`github_pat_…_…`), Slack's (`xoxb-…-…`) and Render keys hold `_` and `-`.
  out = out.replace(/(rnd_|gh[pousr]_|github_pat_|xox[abprs]-|sk_live_)[A-Za-z0-9_-]+/gi, '$1[redacted]');
  out = maskSecretPairs(out);
  out = maskUrlCredentials(out);
  return out.length > maxLength ? `${out.slice(0, maxLength - 1)}…` : out;
}

/**
 * The line cut to `max` characters, or shorter: never inside an occurrence of a secret that runs across
 * the cut (its part before the cut would no longer match the whole value, and be kept); a cut moved
 * before one says so ('[redacted]'). Looks only at
 * a window of each secret's length around the cut, so a huge line costs no more than a short one.
 */
function cutOutsideSecrets(line: string, max: number, secrets: string[]): string {
  if (line.length <= max) return line;
  let cut = max;
  for (let moved = true; moved;) {
    moved = false;
    for (const s of secrets) {
      const from = Math.max(0, cut - s.length + 1);
      const at = line.slice(from, cut + s.length - 1).indexOf(s);
      if (at !== -1 && from + at < cut) { cut = from + at; moved = true; }
    }
  }
  return cut < max ? `${line.slice(0, cut)}[redacted]` : line.slice(0, cut);
}

const PUNCTUATION = new Set([':', ',', ';', '(', ')', '[', ']']);

function trimPunctuation(token: string): string {
  let start = 0;
  let end = token.length;
  while (start < end && (token[start] === '(' || token[start] === '[')) start += 1;
  while (end > start && PUNCTUATION.has(token[end - 1]!)) end -= 1;
  return token.slice(start, end);
}

/**
 * name=value → name=[redacted] when the name holds a credential word (a linear scan, no regex over the
 * line). A name that holds the word, not only one that is it: `DB_PASSWORD=…`, `GITHUB_TOKEN=…` (a value
 * the watch cannot know, an env group's or a file's, printed in a crash dump) were kept whole.
 */
function maskSecretPairs(text: string): string {
  let out = '';
  let from = 0;
  for (let eq = text.indexOf('='); eq >= 0;) {
    let start = eq;
    while (start > from && isWordChar(text.charCodeAt(start - 1))) start -= 1;
    let end = eq + 1;
    if (start < eq && SECRET_NAME.test(text.slice(start, eq))) while (end < text.length && !PAIR_END.test(text[end]!)) end += 1;
    if (end > eq + 1) {
      out += `${text.slice(from, eq + 1)}[redacted]`;
      from = end;
    }
    eq = text.indexOf('=', end > eq + 1 ? end : eq + 1);
  }
  return out + text.slice(from);
}

/** scheme://user:password@host → scheme://[redacted]@host (a linear scan, no regex). */
function maskUrlCredentials(text: string): string {
  let out = '';
  let from = 0;
  for (;;) {
    const at = text.indexOf('://', from);
    if (at < 0) return out + text.slice(from);
    let end = at + 3;
    while (end < text.length && text[end] !== '@' && text[end] !== '/' && text[end] !== ' ' && text[end] !== '\n') end += 1;
    const userinfo = text.slice(at + 3, end);
    if (text[end] === '@' && userinfo.includes(':')) {
      out += `${text.slice(from, at)}://[redacted]`;
      from = end;
    } else {
      out += text.slice(from, at + 3);
      from = at + 3;
    }
  }
}

/** Values shorter than this are left alone: masking "1" or "on" everywhere would mangle logs without protecting anything. */
const MIN_LENGTH = 4;

/** `\uXXXX` for each character `pattern` matches (UTF-16 code units: an astral character is its surrogate pair, as JSON writes it). */
const uEscaped = (json: string, pattern: RegExp) => json.replace(pattern, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/**
 * The forms a value can take in a log line: itself, as written inside a JSON string (a JSON log
 * escapes quotes, backslashes and newlines) by JavaScript and by other common encoders (Go's
 * encoding/json and logrus write `<`, `>`, `&` as `\u003c`…, PHP's json_encode `/` as `\/`, Python's
 * json.dumps every non-ASCII character as `\uXXXX`), and each of its lines, since Render writes one
 * entry per line an app prints (a PEM key, a service account's JSON). Each also without its control
 * characters: a line has them taken out before it is redacted (stripControls), and a value holding
 * one (a form feed, an escape) no longer matched, leaving the rest of it in clear.
 */
function forms(value: string): string[] {
  const out = new Set<string>();
  for (const v of new Set([value, stripControls(value)])) {
    const json = JSON.stringify(v).slice(1, -1);
    out.add(v).add(json).add(uEscaped(json, /[<>&\u2028\u2029]/g)).add(json.replaceAll('/', '\\/')).add(uEscaped(json, /[\u0080-\uffff]/g));
    if (/[\r\n]/.test(v)) for (const line of v.split(/\r?\n|\r/)) out.add(line.trim());
  }
  return [...out];
}

/**
 * Terminal escapes (CSI, 7- and 8-bit; OSC up to BEL or ST; any other ESC by itself) and every other control
 * character but tab and newline. Taken out before redaction, so colour codes inside a value cannot
 * split it past the match, and so a downloaded log cannot drive the terminal it is printed in.
 */
// A scan, not regexes: linear by construction (test/security/regex-safety.test.ts).
// eslint-disable-next-line no-control-regex
const ANY_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;
const inRange = (c: number, lo: number, hi: number) => c >= lo && c <= hi;

/** Where the escape sequence starting at `i` (ESC or 8-bit CSI) ends, exclusive. */
function escapeEnd(text: string, i: number): number {
  const c = text.charCodeAt(i);
  const kind = c === 0x9b ? 0x5b : text.charCodeAt(i + 1);
  let j = c === 0x9b ? i + 1 : i + 2;
  if (kind === 0x5b) { // CSI: parameter and intermediate bytes, then one final byte
    while (j < text.length && inRange(text.charCodeAt(j), 0x20, 0x3f)) j++;
    return j < text.length && inRange(text.charCodeAt(j), 0x40, 0x7e) ? j + 1 : j;
  }
  if (kind === 0x5d) { // OSC: up to BEL or ESC \
    while (j < text.length && text.charCodeAt(j) !== 0x07 && text.charCodeAt(j) !== 0x1b) j++;
    if (text.charCodeAt(j) === 0x07) return j + 1;
    return text.charCodeAt(j) === 0x1b && text.charCodeAt(j + 1) === 0x5c ? j + 2 : j;
  }
  // Any other ESC: only the ESC goes. Without it the next character is plain text to a terminal, and
  // taking both took the first letter of a secret printed after a stray ESC, leaving the rest unmatched.
  return i + 1;
}

export function stripControls(text: string): string {
  if (!ANY_CONTROL.test(text)) return text;
  let out = '';
  for (let i = 0; i < text.length;) {
    const c = text.charCodeAt(i);
    if (c === 0x1b || c === 0x9b) { i = escapeEnd(text, i); continue; }
    if (c !== 0x09 && c !== 0x0a && (c < 0x20 || inRange(c, 0x7f, 0x9f))) { i++; continue; }
    out += text[i];
    i++;
  }
  return out;
}

/**
 * The values to look for, longest first, prepared once per list: callers pass one list for every line
 * of a page or a tail's poll (its arrays are built fresh and never changed after).
 */
const preparedValues = new WeakMap<readonly string[], string[]>();
export function valuesOf(secrets: readonly string[]): string[] {
  let values = preparedValues.get(secrets);
  if (!values) {
    values = [...new Set(secrets.flatMap(forms).filter((s) => s.length >= MIN_LENGTH))].sort((a, b) => b.length - a.length);
    preparedValues.set(secrets, values);
  }
  return values;
}

/**
 * Replace every occurrence of a secret value (in any of its forms) in a log line. Every occurrence is
 * found in the line as given and overlapping ones are merged before anything is replaced: replaced one
 * value after another, a value overlapping another's occurrence (`abcdef` and `defghi` in `abcdefghi`)
 * kept in clear the part the first replacement had not covered.
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  const spans: [number, number][] = [];
  for (const v of valuesOf(secrets)) {
    for (let at = text.indexOf(v); at !== -1; at = text.indexOf(v, at + 1)) spans.push([at, at + v.length]);
  }
  if (spans.length === 0) return text;
  spans.sort((a, b) => a[0] - b[0]);
  let out = '';
  let kept = 0;
  for (let i = 0; i < spans.length;) {
    const start = spans[i]![0];
    let end = spans[i]![1];
    for (i++; i < spans.length && spans[i]![0] <= end; i++) end = Math.max(end, spans[i]![1]);
    out += `${text.slice(kept, start)}[redacted]`;
    kept = end;
  }
  return out + text.slice(kept);
}

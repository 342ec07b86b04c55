/**
 * Values shorter than this are left alone, in every form: masking "1" or "on" everywhere would mangle logs
 * without protecting anything. The rule is on the value (and each of a multi-line value's lines), not on a
 * form of it: a 1-character value's escaped forms are 6 characters long (`&` as Go's `\u0026`, `é` as
 * Python's `\u00e9`), and masking those masked every such escape in every JSON line, its own or not.
 */
const MIN_LENGTH = 4;

/**
 * How common JSON encoders write a string (by default, or with the option named), as changes to what
 * JSON.stringify writes (which all of them agree on for `"`, `\` and control characters, bar the ones noted):
 * the characters each writes as `\uXXXX`, or `/` as `\/`. One form per encoder, never one per mix of escapes:
 * the table bounds a value's forms (at most 9, raw and JavaScript's included, for each of the value and its
 * control-free copy), and forms equal to another count once, so a value with none of these characters has one
 * form. Redaction runs on every line served and looks for each form in each line, so the cost is per distinct
 * form. Measured against the table before this one (5 forms: no Gson, no PHP default, no uppercase), 20,000
 * lines of ~190 characters (this machine, Node 24): 30 values of a usual service (hex, base64, URLs, a PEM file, a few
 * non-ASCII) 76 → 87 forms, 2.3 µs a line either way; 40 values each holding a character of every encoder
 * (the worst case) 200 → 360 forms, 4.4 → 8.4 µs a line; preparing 200 values and ten 35 KB secret files, once
 * per list (valuesOf), 15 → 33 ms.
 *
 * Each pattern also matches the escapes JSON.stringify wrote (`\` and one character, `\uXXXX`), so that
 * a backslash of the value is never taken for the start of one and a hex-uppercase encoder has its own
 * escapes of control characters in uppercase too; these are left as they are (`fromJson`).
 */
const ENCODERS: readonly { chars: RegExp; upper?: true; quote?: true }[] = [
  // Go's encoding/json (logrus, zap): the HTML characters and the JavaScript line separators.
  { chars: /\\(?:u[0-9a-f]{4}|.)|[<>&\u2028\u2029]/g },
  // Gson (Java; HTML-safe unless disabled): the same and `=`, `'` (a base64 value's padding).
  { chars: /\\(?:u[0-9a-f]{4}|.)|[<>&='\u2028\u2029]/g },
  // PHP's json_encode with JSON_UNESCAPED_UNICODE: `/` as `\/`.
  { chars: /\\(?:u[0-9a-f]{4}|.)|\//g },
  // PHP's json_encode by default: `/` as `\/` and every non-ASCII character as `\uXXXX`, both at once.
  { chars: /\\(?:u[0-9a-f]{4}|.)|[/\u0080-\uffff]/g },
  // Python's json.dumps (ensure_ascii): every character past `~`, DEL included.
  { chars: /\\(?:u[0-9a-f]{4}|.)|[\u007f-\uffff]/g },
  // Jackson with ESCAPE_NON_ASCII: every non-ASCII character, hex in uppercase (`\u00E9`).
  { chars: /\\(?:u[0-9a-f]{4}|.)|[\u0080-\uffff]/g, upper: true },
  // .NET's System.Text.Json (JavaScriptEncoder.Default): the HTML characters, `'`, `+`, backquote, DEL and
  // every non-ASCII character, `"` as `\u0022`, hex in uppercase.
  { chars: /\\(?:u[0-9a-f]{4}|.)|[<>&'+`\u007f-\uffff]/g, upper: true, quote: true },
];

/** `\uXXXX` for one UTF-16 code unit (an astral character is its surrogate pair, as JSON writes it). */
const uEscape = (code: number, upper: boolean) => {
  const hex = code.toString(16).padStart(4, '0');
  return `\\u${upper ? hex.toUpperCase() : hex}`;
};

/** JSON.stringify's inside of a string as `encoder` writes it. */
function fromJson(json: string, encoder: (typeof ENCODERS)[number]): string {
  const upper = encoder.upper ?? false;
  return json.replace(encoder.chars, (m) => {
    if (m.length === 1) return m === '/' ? '\\/' : uEscape(m.charCodeAt(0), upper);
    if (m === '\\"' && encoder.quote) return uEscape(0x22, upper);
    return upper && m[1] === 'u' ? `\\u${m.slice(2).toUpperCase()}` : m;
  });
}

/**
 * The forms a value can take in a log line: itself, as written inside a JSON string (a JSON log
 * escapes quotes, backslashes and newlines) by JavaScript and by the other encoders above, and each
 * of its lines, since Render writes one entry per line an app prints (a PEM key, a service account's
 * JSON). Each also without its control characters: a line has them taken out before it is redacted
 * (stripControls), and a value holding one (a form feed, an escape) no longer matched, leaving the rest
 * of it in clear. None for a value shorter than MIN_LENGTH; of a longer one, no form (a control-free
 * copy's, a line) shorter than it.
 */
function forms(value: string): string[] {
  // A value under MIN_LENGTH is not looked for in any form (an env value `&` masked every `\u0026`). Its
  // control-free copy may be shorter and still have long forms (`\r\x7f+&/` as Go writes `+&/`): those stay,
  // each form kept only at MIN_LENGTH or more.
  if (value.length < MIN_LENGTH) return [];
  const out = new Set<string>();
  /** A value as a program that loaded it may print it: itself, inside a JSON string, and each of its lines. */
  const addLoaded = (text: string) => {
    out.add(text).add(JSON.stringify(text).slice(1, -1));
    const lines = text.split(/\r?\n|\r/);
    if (lines.length > 1) for (const part of lines) out.add(part.trim());
  };
  for (const v of new Set([value, stripControls(value)])) {
    if (v.length === 0) continue;
    const json = JSON.stringify(v).slice(1, -1);
    out.add(v).add(json);
    for (const encoder of ENCODERS) out.add(fromJson(json, encoder));
    const lines = v.split(/\r?\n|\r/);
    if (lines.length > 1) for (const line of lines) out.add(line.trim());
    // A line that assigns a value (a .env secret file, a YAML or JSON config): the value alone, as the program
    // that loaded the file prints it (an error message, a config dump). Matched only as whole lines, a
    // `STRIPE_KEY=sk_live_…` line's key was served in clear once printed by itself.
    // The value as loaded may differ from the file's text: a comment after it dropped, escapes in a double-quoted
    // one decoded (a service account JSON's `private_key`, a .env's `KEY="…\n…"`), so printed, a PEM key is its
    // own lines: looked for as those too (the file's line holds them escaped, never as a log line has them).
    for (const line of lines) for (const assigned of assignedValues(line)) addLoaded(assigned);
    // A JSON document on one line (`jq -c`, Terraform's jsonencode) assigns nothing line by line: its strings as read.
    for (const text of jsonStrings(v)) addLoaded(text);
  }
  return [...out].filter((form) => form.length >= MIN_LENGTH);
}

/**
 * The values a line of a config file assigns, as the programs that load it have them: `KEY=value`,
 * `export KEY="value"`, `key: value`, `"key": "value",` (one pair of quotes and a trailing comma off); none
 * for a line that assigns nothing to a name. Also, as loaders read it: without an inline comment (`KEY=value
 * # note`: dotenv drops from `#`, python-dotenv, YAML and shells from ` #`; `KEY="value" # note`), and a
 * double-quoted value with its escapes decoded (JSON's, as a JSON file's reader and python-dotenv have them;
 * dotenv's `\n` and `\r` only). A scan and anchored patterns only (test/security/regex-safety).
 */
function assignedValues(line: string): string[] {
  let rest = line.trim();
  if (rest.startsWith('export ')) rest = rest.slice(7).trimStart();
  const at = rest.search(/[=:]/);
  if (at <= 0) return [];
  const key = unquoted(rest.slice(0, at).trim());
  if (!/^[A-Za-z_][\w.-]*$/.test(key)) return [];
  let value = rest.slice(at + 1).trim();
  if (value.endsWith(',')) value = value.slice(0, -1).trimEnd();
  const out = new Set([unquoted(value)]);
  const quote = value[0];
  if (quote === '"' || quote === "'") {
    let end = 1;
    while (end < value.length && value[end] !== quote) end += value[end] === '\\' ? 2 : 1;
    const after = value.slice(end + 1).trim();
    if (end < value.length && (after === '' || after === ',' || after.startsWith('#'))) {
      const inner = value.slice(1, end);
      out.add(inner);
      if (quote === '"') {
        out.add(inner.replaceAll('\\n', '\n').replaceAll('\\r', '\r'));
        try { out.add(JSON.parse(`"${inner}"`) as string); } catch { /* not JSON's escapes */ }
      }
    }
  } else {
    // dotenv cuts a `KEY=value` at any `#`; YAML a `key: value` at ` #` only, and a `:` with no space after it
    // is no YAML key at all: `https://app.example.com/#/callback` (an env var) read as key `https` and cut at `#`
    // made `//app.example.com/` a secret, and every log line naming the app's address lost it.
    const spaced = at + 1 >= rest.length || rest[at + 1] === ' ' || rest[at + 1] === '\t';
    const cuts = rest[at] === '=' ? [' #', '\t#', '#'] : spaced ? [' #', '\t#'] : [];
    for (const comment of cuts.map((c) => value.indexOf(c))) {
      if (comment > 0) out.add(value.slice(0, comment).trimEnd());
    }
  }
  return [...out];
}

/** The string values of a value that is a JSON object or array, as its reader has them (a walk without recursion: any depth). */
function jsonStrings(value: string): string[] {
  const text = value.trim();
  if (!((text.startsWith('{') && text.endsWith('}')) || (text.startsWith('[') && text.endsWith(']')))) return [];
  let doc: unknown;
  try { doc = JSON.parse(text); } catch { return []; }
  const out: string[] = [];
  for (const stack: unknown[] = [doc]; stack.length > 0;) {
    const node = stack.pop();
    if (typeof node === 'string') out.push(node);
    else if (node !== null && typeof node === 'object') for (const child of Object.values(node)) stack.push(child);
  }
  return out;
}

const unquoted = (text: string) => (text.length >= 2 && (text[0] === '"' || text[0] === "'") && text.at(-1) === text[0] ? text.slice(1, -1) : text);

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
    values = [...new Set(secrets.flatMap(forms))].sort((a, b) => b.length - a.length);
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

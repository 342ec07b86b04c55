import test from 'ava';
import { redactSecrets, stripControls, valuesOf } from '../../server/deployments/redact.js';
import { presentLine } from '../../server/deployments/logs.js';

// Render writes one log entry per line an app prints, so a multi-line value (a PEM key, a service
// account's JSON) reaches the redaction a line at a time, and a JSON log carries a value escaped.

const PEM = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\nVJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDu\n-----END PRIVATE KEY-----\n';

test('each line of a multi-line value is redacted when the app prints it line by line', (t) => {
  const lines = PEM.split('\n').filter(Boolean).map((l) => redactSecrets(`key: ${l}`, [PEM]));
  for (const l of lines) t.is(l, 'key: [redacted]');
  t.is(redactSecrets(`key:\r\n${PEM.replace(/\n/g, '\r\n')}`, [PEM]).includes('MIIEvQIBADAN'), false);
});

test('a value written escaped in a JSON log line is redacted too', (t) => {
  const value = 'pa"ss\\word-1234';
  const out = redactSecrets(JSON.stringify({ msg: 'config', password: value }), [value]);
  t.is(out, '{"msg":"config","password":"[redacted]"}');
  t.is(redactSecrets(JSON.stringify({ key: PEM }), [PEM]), '{"key":"[redacted]"}');
});

test('short values and lines of fewer than 4 characters are left alone; a prefix of a value is not the value', (t) => {
  t.is(redactSecrets('on 1 abc', ['on', '1', 'abc']), 'on 1 abc');
  t.is(redactSecrets('{\n}', ['{\n  "a": "b"\n}']), '{\n}');
  t.is(redactSecrets('token tok_live', ['tok_live_abcdef']), 'token tok_live');
});

test('terminal escapes and control characters are taken out before redaction: colour codes cannot split a secret, a download cannot drive a terminal', (t) => {
  const entry = (message: string) => ({ id: 'l1', timestamp: '2026-01-01T00:00:00.000000Z', message, labels: [] });
  const secret = 'tok_live_escape_secret_99';
  const split = `token \x1b[1;32mtok_live_\x1b[0mescape_secret_99 done`;
  t.is(presentLine(entry(split), 'runtime', [secret]).message, 'token [redacted] done');
  const hostile = 'a\x1b]0;title\x07b\x1b]52;c;Zm9v\x1b\\c\rd\x08e\x00f\x9b31mg\x7fh\tindent';
  t.is(presentLine(entry(hostile), 'runtime', []).message, 'abcdefgh\tindent');
  t.is(presentLine(entry('<script>alert(1)</script> ünïcødé ✓'), 'build', []).message, '<script>alert(1)</script> ünïcødé ✓');
});

const logEntry = (message: string) => ({ id: 'l1', timestamp: '2026-01-01T00:00:00.000000Z', message, labels: [] });

test('a value holding a control character is redacted though the line has its control characters taken out first', (t) => {
  for (const secret of ['hunter2\x0bsuper-secret-value-77', 'pass\x0cword-secret-42', 'tok\x1b[1mlive-secret-99', 'del\x7fsecret-value-123']) {
    const shown = presentLine(logEntry(`connecting with ${secret} now`), 'runtime', [secret]).message;
    t.is(shown, 'connecting with [redacted] now', JSON.stringify(secret));
  }
});

test('a value written by other JSON encoders is redacted: Go\'s <>& escapes, PHP\'s \\/, Python\'s \\uXXXX', (t) => {
  const dsn = 'postgres://app:S3cretPassw0rd@db.internal:5432/app?sslmode=require&application_name=web';
  const go = '{"msg":"connecting","dsn":"postgres://app:S3cretPassw0rd@db.internal:5432/app?sslmode=require\\u0026application_name=web"}';
  t.is(presentLine(logEntry(go), 'runtime', [dsn]).message, '{"msg":"connecting","dsn":"[redacted]"}');
  const php = '{"dsn":"postgres:\\/\\/app:S3cretPassw0rd@db.internal:5432\\/app?sslmode=require&application_name=web"}';
  t.is(redactSecrets(php, [dsn]), '{"dsn":"[redacted]"}');
  const accented = 'mot-de-passe-été-🔑-secret';
  const python = '{"password": "mot-de-passe-\\u00e9t\\u00e9-\\ud83d\\udd11-secret"}';
  t.is(redactSecrets(python, [accented]), '{"password": "[redacted]"}');
});

test('overlapping values are both covered: no part of either is left between them', (t) => {
  t.is(redactSecrets('x abcdefghi y', ['abcdef', 'defghi']), 'x [redacted] y');
  t.is(redactSecrets('x defghi abcdef y', ['abcdef', 'defghi']), 'x [redacted] [redacted] y');
  // A value that is also a part of the mark itself is not looked for in it.
  t.is(redactSecrets('key dacted-secret', ['dacted-secret', 'dact']), 'key [redacted]');
});

test('a secret printed right after a stray ESC keeps its first letter and is redacted; no ESC is left to reach a terminal', (t) => {
  const secret = 'Xk9_live_0123456789abcdef';
  const shown = presentLine(logEntry(`token=\x1b${secret} \x1bMreverse`), 'runtime', [secret]).message;
  t.is(shown, 'token=[redacted] Mreverse');
});

test('a hostile line: 256 KiB of one character against a value made of it, and values overlapping everywhere, is redacted whole', (t) => {
  const line = 'a'.repeat(256 * 1024);
  t.is(redactSecrets(line, ['aaaa']), '[redacted]');
  t.is(redactSecrets(`x${line}y`, ['aaaa', 'aaaaa', 'xaaa', 'aaay']), '[redacted]');
  t.is(redactSecrets(`${'ab'.repeat(100_000)}!`, ['abab', 'baba']), '[redacted]!');
});

test('a value written by PHP\'s json_encode by default (\\/ and \\uXXXX at once) is redacted', (t) => {
  const secret = 'Pässwörd/2024-prod';
  t.is(redactSecrets('{"password":"P\\u00e4ssw\\u00f6rd\\/2024-prod"}', [secret]), '{"password":"[redacted]"}');
  const dsn = 'mysql://app:Gehéim-42@db.internal/app';
  t.is(redactSecrets('{"dsn":"mysql:\\/\\/app:Geh\\u00e9im-42@db.internal\\/app"}', [dsn]), '{"dsn":"[redacted]"}');
});

test('a value written with uppercase hex escapes is redacted: .NET\'s System.Text.Json, Jackson\'s ESCAPE_NON_ASCII; Gson\'s = and \'', (t) => {
  const secret = 'clé"secrète<+>`O\'Brien';
  // System.Text.Json by default: " as \u0022, HTML characters, ' + ` and every non-ASCII character, hex in uppercase.
  const dotnet = '{"Password":"cl\\u00E9\\u0022secr\\u00E8te\\u003C\\u002B\\u003E\\u0060O\\u0027Brien"}';
  t.is(redactSecrets(dotnet, [secret]), '{"Password":"[redacted]"}');
  // Jackson with ESCAPE_NON_ASCII: non-ASCII only, in uppercase; a control character in the value too.
  const jackson = '{"password":"mot-de-passe-\\u00E9t\\u00E9\\u000B-\\uD83D\\uDD11"}';
  t.is(redactSecrets(jackson, ['mot-de-passe-été\x0b-🔑']), '{"password":"[redacted]"}');
  // Gson (HTML-safe by default): a base64 value's padding as \u003d.
  const key = 'c2VjcmV0LWtleS1mb3ItdGVzdHM+Lw==';
  t.is(redactSecrets('{"apiKey":"c2VjcmV0LWtleS1mb3ItdGVzdHM+Lw\\u003d\\u003d"}', [key]), '{"apiKey":"[redacted]"}');
  // A backslash of the value is not taken for the start of an escape: `\u0041` written literally stays so.
  t.is(redactSecrets('{"v":"\\\\u0041b\\u00E9cd"}', ['\\u0041bécd']), '{"v":"[redacted]"}');
});

test('values of fewer than 4 characters are left alone in every form: their escapes in other JSON lines are not theirs', (t) => {
  const go = '{"msg":"GET /search?q=a\\u0026b=c","html":"\\u003cb\\u003e"}';
  t.is(redactSecrets(go, ['&', '<b>', '<']), go);
  const python = '{"user": "Ren\\u00e9", "city": "K\\u00f6ln", "emoji": "\\ud83d\\udd11"}';
  t.is(redactSecrets(python, ['é', 'ö', '🔑', 'a/b']), python);
  t.is(redactSecrets('{"path":"a\\/b\\/c"}', ['a/b']), '{"path":"a\\/b\\/c"}');
  // Judged as a line holds it, without control characters: 'ab' is not looked for, as `\u001b[31mab` it still is.
  t.is(redactSecrets('x ab \\u001b[31mab', ['\x1b[31mab']), 'x ab [redacted]');
  // A value of 4 or more is still redacted in its escaped forms, however short.
  t.is(redactSecrets('{"sep":"\\u0026\\u0026\\u0026\\u0026"}', ['&&&&']), '{"sep":"[redacted]"}');
});

test('a value has a bounded number of forms, one per encoder, whatever it holds', (t) => {
  // Every character some encoder escapes: still one form per encoder (9), and the same again without its control character.
  const worst = 'a"b\\c/d<e>f&g=h\'i+j`k\u2028lémn🔑o\x7f';
  t.true(valuesOf([worst]).length <= 18, String(valuesOf([worst]).length));
  t.is(valuesOf(['plain-ascii-value']).length, 1);
});

// The encoder forms of 5779158 must mask everything the forms before them did, for a value of 4 characters or
// more: the 4-character rule applied to the control-free copy too dropped the Go and PHP forms of a value whose
// copy is shorter (`\r\x7f+&/` as Go writes `+&/`: `+\u0026/`), found by a review. `oldForms` is the earlier
// table, kept here as the oracle.
const uEscaped = (json: string, pattern: RegExp) => json.replace(pattern, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
function oldForms(value: string): string[] {
  const out = new Set<string>();
  for (const v of new Set([value, stripControls(value)])) {
    const json = JSON.stringify(v).slice(1, -1);
    out.add(v).add(json).add(uEscaped(json, /[<>&\u2028\u2029]/g)).add(json.replaceAll('/', '\\/')).add(uEscaped(json, /[\u0080-\uffff]/g));
    if (/[\r\n]/.test(v)) for (const line of v.split(/\r?\n|\r/)) out.add(line.trim());
  }
  return [...out].filter((s) => s.length >= 4);
}

const ALPHABET = ['a', 'Z', '9', '/', '\\', '"', "'", '<', '&', '=', 'é', '€', '😀', '\u2028', '\x01', '\x1b', '\x7f', '\x85', '\n', '\r', ' ', '+', '`', '[', 'm'];
function rand(seed: number) { let s = seed; return () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff); }

function oldRedact(text: string, value: string): string {
  const values = oldForms(value).sort((a, b) => b.length - a.length);
  const spans: [number, number][] = [];
  for (const v of values) for (let at = text.indexOf(v); at !== -1; at = text.indexOf(v, at + 1)) spans.push([at, at + v.length]);
  if (!spans.length) return text;
  spans.sort((a, b) => a[0] - b[0]);
  let out = ''; let kept = 0;
  for (let i = 0; i < spans.length;) { const st = spans[i]![0]; let end = spans[i]![1]; for (i++; i < spans.length && spans[i]![0] <= end; i++) end = Math.max(end, spans[i]![1]); out += `${text.slice(kept, st)}[redacted]`; kept = end; }
  return out + text.slice(kept);
}
const residual = (s: string) => s.replaceAll('[redacted]', '').length;

test('nothing the previous redaction masked in a served (control-stripped) line is left in clear now', (t) => {
  const r = rand(42);
  const misses: Array<{ value: string; line: string; old: string; now: string }> = [];
  for (let i = 0; i < 20000; i++) {
    const len = 1 + Math.floor(r() * 10);
    let v = '';
    for (let j = 0; j < len; j++) v += ALPHABET[Math.floor(r() * ALPHABET.length)];
    for (const f of oldForms(v)) {
      const line = stripControls(`x ${f} y`);
      const old = oldRedact(line, v);
      const now = redactSecrets(line, [v]);
      if (residual(now) > residual(old)) misses.push({ value: JSON.stringify(v), line: JSON.stringify(line), old, now });
    }
  }
  const lost = misses.filter((m) => JSON.parse(m.value).length >= 4);
  t.is(lost.length, 0, `a 4+ character value lost a form: ${JSON.stringify(lost.slice(0, 3))}`);
});

// Concrete: a 5-character value whose control-free copy is 3 characters ("+&/"); Go's and PHP's forms of that copy were masked.
test('value "\\r\\x7f+&/": the Go form of its control-free copy (+\\u0026/) is still redacted', (t) => {
  const v = '\r\x7f+&/';
  t.is(redactSecrets('token=+\\u0026/ end', [v]), 'token=[redacted] end');
});

// Review of the comment cut: a URL env var read as `https: //…#…` was cut at its `#`, and the app's own address
// became a secret in every log line that named it; YAML's comment needs a space before `#`.
test('a URL with a fragment is not cut at its # into a shorter secret', (t) => {
  const secrets = ['https://app.example.com/#/callback', 'url: https://x.example.org/p#anchor'];
  t.is(redactSecrets('Server ready at https://app.example.com/', secrets), 'Server ready at https://app.example.com/');
  t.is(redactSecrets('==> Cloning from https://x.example.org/p', secrets), '==> Cloning from https://x.example.org/p');
  // The values themselves, and dotenv's and YAML's comments, are still cut as their loaders cut them.
  t.false(redactSecrets('callback https://app.example.com/#/callback', secrets).includes('/#/callback'));
  t.is(redactSecrets('token tr0ub4dor-3', ['TOKEN=tr0ub4dor-3#not-a-comment-in-yaml']), 'token [redacted]');
  t.is(redactSecrets('key s3cr3t-value', ['key: s3cr3t-value # prod']), 'key [redacted]');
});

// Hostile secret values for the loaders' forms: a JSON value nested 100,000 deep (the walk over its strings must not
// recurse), and a long line of `=` and `#` (the comment cuts are scans, not patterns that backtrack).
test('a secret nested 100,000 deep in JSON, or a long run of = and #, still gives its forms and redacts', (t) => {
  const deep = `${'['.repeat(100_000)}"s3cr3t-inside-deep-json"${']'.repeat(100_000)}`;
  t.true(valuesOf([deep]).includes('s3cr3t-inside-deep-json'));
  t.is(redactSecrets('loaded s3cr3t-inside-deep-json', [deep]), 'loaded [redacted]');
  const runs = `K=${'=#'.repeat(50_000)}tail`;
  t.true(valuesOf([runs]).length > 0);
  t.is(redactSecrets(`x ${runs} y`, [runs]), 'x [redacted] y');
});

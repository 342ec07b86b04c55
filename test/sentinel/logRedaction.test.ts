import test from 'ava';
import { MAX_LINE, sanitizeLine } from '../../server/sentinel/logHeuristics.js';

// A finding's log line is cut to MAX_LINE characters before anything else is done with it: an env
// value that runs across that cut (a long single-line credential, such as base64 of a service
// account's JSON) must not be kept in part because the whole value was no longer there to match.

const secret = `eyJ${'QmFzZTY0ZW5jb2RlZFNlcnZpY2VBY2NvdW50'.repeat(80)}`; // ~3 KB on one line
const leaks = (out: string) => {
  for (let i = 0; i + 12 <= secret.length; i += 6) if (out.includes(secret.slice(i, i + 12))) return true;
  return false;
};

test('an env value longer than the cut, or across it, is redacted: no piece of it is kept', (t) => {
  t.true(secret.length > MAX_LINE);
  for (const line of [
    `Error: credentials rejected: ${secret}`,
    `${'x'.repeat(MAX_LINE - 100)} Error: ${secret}`,
    `Error: ${secret} and again ${secret}`,
  ]) {
    const out = sanitizeLine(line, [secret]);
    t.false(leaks(out), out.slice(0, 120));
    t.true(out.length <= 300);
    t.true(out.includes('[redacted]') || out.startsWith('xxx'), out.slice(0, 120)); // the x's fill the kept 300
  }
});

test('values that fit are redacted as before, and a short line is kept whole', (t) => {
  t.is(sanitizeLine('Error: password hunter2x rejected', ['hunter2x']), 'Error: password [redacted] rejected');
  t.is(sanitizeLine('TypeError: x is undefined', []), 'TypeError: x is undefined');
  const longLine = `Error ${'y'.repeat(MAX_LINE * 2)}`;
  t.is(sanitizeLine(longLine, ['zzzz']).length, 300);
});

// Tokens of the shapes real services print: the mask took letters and digits only, and stopped at the first
// `_` or `-`, keeping the rest of a fine-grained GitHub token, a Slack token or a Render key; control characters
// removed after the mask joined a token it had not seen.
test('credential-shaped tokens are masked whole, whatever they hold, control characters or not', (t) => {
  const tokens = [
    `github_pat_11ABCDEFG0123456789abc_${'Zz9'.repeat(19)}secretTail`,
    'xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx',
    'rnd_abcDEF-ghiJKL_mno123456',
    'ghp_\u0001ABCDEFGHIJKLMNOP1234567890abcdef',
    'GHP_ABCDEFGHIJKLMNOPQRSTUVWXYZ012345',
    'sk_live_51Hx-abc_DEF0123',
  ];
  for (const token of tokens) {
    const out = sanitizeLine(`Error: request failed with ${token} (401)`, []);
    t.regex(out, /^Error: request failed with \w+[_-]\[redacted\] \(401\)$/i, out);
    const secretPart = token.replace('\u0001', '').replace(/^(github_pat_|rnd_|gh[pousr]_|xox[abprs]-|sk_live_)/i, '');
    for (const piece of secretPart.split(/[_-]/).filter((p) => p.length >= 6)) t.false(out.includes(piece), `${piece} kept in ${out}`);
  }
});

test('a secret printed with a control character or terminal escape inside it is redacted, not kept whole once they are taken out', (t) => {
  const secret = 'hunter2-very-secret-value';
  for (const printed of ['hunter2-very\x00-secret-value', 'hunter2-\x1b[31mvery-secret-value', 'hunter2-very-secret\x9b0m-value']) {
    const out = sanitizeLine(`FATAL config dump: ${printed}`, [secret]);
    t.is(out, 'FATAL config dump: [redacted]', JSON.stringify(printed));
  }
  // A value held with a control character in it: its printed form matches once both lose it.
  t.is(sanitizeLine('FATAL db pass\x0cword-secret-42 refused', ['pass\x0cword-secret-42']), 'FATAL db [redacted] refused');
});

// A value the watch cannot know (an env group's, one from a file in the repository) printed as a pair whose
// name ends in or holds the word: only a name that was exactly `password`, `token`… was masked, so a crash
// dump's `DB_PASSWORD=…` or `GITHUB_TOKEN=…` was kept whole in the finding.
test('name=value pairs whose name holds password, secret, token or api key are masked, whatever comes before the word', (t) => {
  for (const [line, kept] of [
    ['FATAL: cannot start, DB_PASSWORD=hunter2xyz', 'FATAL: cannot start, DB_PASSWORD=[redacted]'],
    ['Error: config AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENG host=db', 'Error: config AWS_SECRET_ACCESS_KEY=[redacted] host=db'],
    ['Error: GITHUB_TOKEN=abc123def456 rejected', 'Error: GITHUB_TOKEN=[redacted] rejected'],
    ['Error: stripe_api_key=abc123def456&retry=1', 'Error: stripe_api_key=[redacted]&retry=1'],
    ['Error: password=hunter2 user=bob', 'Error: password=[redacted] user=bob'],
  ] as const) t.is(sanitizeLine(line, []), kept);
});

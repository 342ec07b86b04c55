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

import test from 'ava';
import Keygrip from 'keygrip';
import { randomBytes } from 'node:crypto';
import { createCookieKeys } from '../../server/crypto/cookieKeys.js';

test('signatures are keygrip(sha256)\'s, so cookies signed before the switch stay valid', (t) => {
  const keys = [randomBytes(32).toString('base64url'), randomBytes(32).toString('base64url')];
  const ours = createCookieKeys(keys);
  const theirs = new Keygrip(keys, 'sha256');
  for (let i = 0; i < 50; i++) {
    const data = `sid=${randomBytes(32).toString('base64url')}`;
    t.is(ours.sign(data), theirs.sign(data));
    t.is(ours.index(data, theirs.sign(data)), 0);
    t.is(theirs.index(data, ours.sign(data)), 0);
  }
});

test('rotation: a signature by the previous key verifies (index 1); others do not', (t) => {
  const current = randomBytes(32).toString('base64url');
  const previous = randomBytes(32).toString('base64url');
  const old = createCookieKeys([previous]);
  const rotated = createCookieKeys([current, previous]);
  const sig = old.sign('sid=abc');
  t.is(rotated.index('sid=abc', sig), 1);
  t.true(rotated.verify('sid=abc', sig));
  t.false(createCookieKeys([current]).verify('sid=abc', sig));
  t.false(rotated.verify('sid=abd', sig), 'bound to the data');
  t.false(rotated.verify('sid=abc', sig.slice(0, -2)), 'truncated');
  t.false(rotated.verify('sid=abc', `${sig}=`), 'non-canonical encoding');
  t.false(rotated.verify('sid=abc', undefined as unknown as string));
  t.throws(() => createCookieKeys([]));
});

test('a remembered signature is still checked: once a cookie verified, altered signatures and other data do not', (t) => {
  const current = randomBytes(32).toString('base64url');
  const previous = randomBytes(32).toString('base64url');
  const keys = createCookieKeys([current, previous]);
  const sig = keys.sign('sid=abc');
  t.is(keys.index('sid=abc', sig), 0);
  t.is(keys.index('sid=abc', sig), 0, 'again, from memory');
  const flipped = (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1);
  t.is(keys.index('sid=abc', flipped), -1, 'one character changed');
  t.is(keys.index('sid=abc', `${sig}=`), -1, 'non-canonical encoding');
  t.is(keys.index('sid=abd', sig), -1, 'bound to the data');
  t.is(keys.index('sid=abc', createCookieKeys([previous]).sign('sid=abc')), 1, 'the previous key\'s signature of a remembered cookie');
  // Made-up cookies are never remembered: thousands of them leave the genuine one verifying.
  for (let i = 0; i < 12_000; i++) keys.index(`sid=${i}`, sig);
  t.is(keys.index('sid=abc', sig), 0);
});

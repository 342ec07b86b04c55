import test from 'ava';
import { randomBytes } from 'node:crypto';
import { createKeyring, open, seal, DecryptionError, isStale } from '../../server/crypto/keyring.js';

test('seal/open round trip, bound to its AAD', (t) => {
  const ring = createKeyring(randomBytes(32));
  const sealed = seal('rnd_secretvalue', 'user:1:render-api-key', ring);
  t.false(sealed.includes('rnd_secretvalue'));
  t.regex(sealed, /^v1\.[0-9a-f]{8}\./);
  t.is(open(sealed, 'user:1:render-api-key', ring), 'rnd_secretvalue');
  t.throws(() => open(sealed, 'user:2:render-api-key', ring), { instanceOf: DecryptionError });
});

test('tampering is detected', (t) => {
  const ring = createKeyring(randomBytes(32));
  const sealed = seal('hello', 'x', ring);
  const parts = sealed.split('.');
  const ct = Buffer.from(parts[4]!, 'base64url');
  ct[0] = ct[0]! ^ 1;
  parts[4] = ct.toString('base64url');
  t.throws(() => open(parts.join('.'), 'x', ring), { instanceOf: DecryptionError });
});

test('rotation: the previous key still opens, the current one seals', (t) => {
  const oldMaster = randomBytes(32);
  const oldRing = createKeyring(oldMaster);
  const sealedOld = seal('v', 'a', oldRing);
  const rotated = createKeyring(randomBytes(32), oldMaster);
  t.is(open(sealedOld, 'a', rotated), 'v');
  t.true(isStale(sealedOld, rotated));
  t.false(isStale(seal('v', 'a', rotated), rotated));
  const unrelated = createKeyring(randomBytes(32));
  t.throws(() => open(sealedOld, 'a', unrelated), { instanceOf: DecryptionError });
});

import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Keyring } from '../crypto/keyring.js';

/** A MAC with the id of the SECRET_KEY it was made under (rotation: the previous key still verifies). */
interface Signature { kid: string; mac: string }

/**
 * Signatures over chain heads and checkpoints, under a key derived from SECRET_KEY (keyring
 * auditSigning). Someone who can write Redis but does not hold SECRET_KEY can no longer rewrite a
 * chain consistently: the head and the checkpoints would not verify. They also let old entries be
 * trimmed: a signed checkpoint vouches for the hash of the last entry removed, so the first entry
 * kept still proves it follows it.
 */
export function createAuditSigner(keyring: Keyring) {
  const mac = (key: Keyring['current'], text: string) => createHmac('sha256', key.auditSigning).update(text).digest('hex');
  return {
    sign(text: string): Signature {
      return { kid: keyring.current.kid, mac: mac(keyring.current, text) };
    },
    /** Whether this process holds the key a signature names (SECRET_KEY or SECRET_KEY_PREVIOUS). */
    holds(kid: string): boolean {
      return kid === keyring.current.kid || kid === keyring.previous?.kid;
    },
    verify(text: string, sig: Partial<Signature> | null | undefined): boolean {
      if (!sig?.kid || typeof sig.mac !== 'string') return false;
      const key = [keyring.current, keyring.previous].find((k) => k?.kid === sig.kid);
      if (!key) return false;
      const expected = Buffer.from(mac(key, text), 'hex');
      const given = Buffer.from(sig.mac, 'hex');
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
}

/** What a head signature covers: the last entry, and where the retained part of the chain starts. */
export const headText = (chain: string, seq: number, hash: string, base: number) => `audit-head|${chain}|${seq}|${hash}|${base}`;

/** What a checkpoint signature covers: entry `seq` of `chain` had this hash and time. */
export const checkpointText = (chain: string, seq: number, hash: string, at: string) => `audit-checkpoint|${chain}|${seq}|${hash}|${at}`;

/** A signed checkpoint, stored in the chain's checkpoints hash under its seq. */
export interface Checkpoint extends Signature { seq: number; hash: string; at: string }

import { createCipheriv, createDecipheriv, createHash, createHmac, createSecretKey, hkdfSync, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';

/**
 * Credential crypto, in one place. Every key is derived from SECRET_KEY with HKDF, one per purpose,
 * so a leak of one derived key says nothing about the others. A previous SECRET_KEY can be kept
 * while sessions roll over: it still decrypts, verifies cookies and finds session records.
 */
interface DerivedKeys {
  /** Short id of the master secret, stored with every ciphertext so rotation knows which key opens it. */
  kid: string;
  /**
   * Held as KeyObjects, imported once: on Node 24 handing a raw Buffer key to createHmac/createCipheriv
   * costs ~55 µs per call (a key import each time) against ~5 µs for a KeyObject, and every
   * authenticated request does one HMAC (session ref) and one AES-GCM open (the record). See bench/.
   */
  encryption: KeyObject;
  cookieSigning: string;
  /** HMAC key for session-id hashes (Redis key names) and secret fingerprints. */
  hashing: KeyObject;
  /** HMAC key for deployment records and deploy jobs, so a Redis writer without SECRET_KEY cannot forge or alter them. */
  integrity: KeyObject;
  /** HMAC key for Idempotency-Key request fingerprints (a Redis reader cannot confirm guesses of env values). */
  idempotency: KeyObject;
  /** HMAC key for audit chain heads and checkpoints (server/audit/signing.ts). */
  auditSigning: KeyObject;
}

export interface Keyring {
  current: DerivedKeys;
  previous: DerivedKeys | null;
}

function derive(master: Buffer, purpose: string, length = 32): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.from('render-orchestrator/v1'), Buffer.from(purpose), length));
}

function deriveKeys(master: Buffer): DerivedKeys {
  return {
    kid: createHash('sha256').update(derive(master, 'key-id')).digest('hex').slice(0, 8),
    encryption: createSecretKey(derive(master, 'credential-encryption')),
    cookieSigning: derive(master, 'cookie-signing').toString('base64url'),
    hashing: createSecretKey(derive(master, 'id-hashing')),
    integrity: createSecretKey(derive(master, 'record-integrity')),
    idempotency: createSecretKey(derive(master, 'idempotency-fingerprint')),
    auditSigning: createSecretKey(derive(master, 'audit-checkpoints')),
  };
}

export function createKeyring(secretKey: Buffer, previousSecretKey: Buffer | null = null): Keyring {
  return { current: deriveKeys(secretKey), previous: previousSecretKey ? deriveKeys(previousSecretKey) : null };
}

export class DecryptionError extends Error {
  constructor(reason: string) { super(`cannot decrypt: ${reason}`); this.name = 'DecryptionError'; }
}

const FORMAT = 'v1';

/**
 * AES-256-GCM with a fresh 96-bit IV. `aad` binds the ciphertext to its place (a session id hash,
 * a field name), so a value copied into another record does not open.
 * Output: v1.<kid>.<iv>.<tag>.<ciphertext>, base64url parts.
 */
export function seal(plaintext: string, aad: string, keyring: Keyring): string {
  const key = keyring.current;
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key.encryption, iv);
  cipher.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const tag = cipher.getAuthTag();
  return [FORMAT, key.kid, iv.toString('base64url'), tag.toString('base64url'), ct.toString('base64url')].join('.');
}

export function open(sealed: string, aad: string, keyring: Keyring): string {
  const parts = sealed.split('.');
  if (parts.length !== 5 || parts[0] !== FORMAT) throw new DecryptionError('unknown format');
  const [, kid, iv, tag, ct] = parts as [string, string, string, string, string];
  const key = [keyring.current, keyring.previous].find((k) => k?.kid === kid);
  if (!key) throw new DecryptionError('key id not in keyring');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.encryption, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    throw new DecryptionError('authentication failed');
  }
}

/** True when a sealed value was made with a key other than the current one (re-seal it). */
export function isStale(sealed: string, keyring: Keyring): boolean {
  return sealed.split('.')[1] !== keyring.current.kid;
}

/** HMAC-SHA256 hex of a value under a derived hashing key (current by default). */
export function keyedHash(value: string, keys: DerivedKeys): string {
  return createHmac('sha256', keys.hashing).update(value).digest('hex');
}

/** A short, non-reversible fingerprint of a secret, to tell "same key?" without keeping it. */
export function fingerprint(secret: string, keyring: Keyring): string {
  return fingerprintUnder(secret, keyring.current);
}

const fingerprintUnder = (secret: string, keys: DerivedKeys) => keyedHash(`fp:${secret}`, keys).slice(0, 24);

/**
 * The same secret's fingerprint under the previous SECRET_KEY (null without one): what a session
 * stored before a rotation still names it by (sessions keep their key's fingerprint: credentials.ts).
 */
export function previousFingerprint(secret: string, keyring: Keyring): string | null {
  return keyring.previous ? fingerprintUnder(secret, keyring.previous) : null;
}

const MAC_FORMAT = 'm1';

/**
 * A MAC over a stored value, under the integrity key: m1.<kid>.<base64url HMAC-SHA256>. The kid says
 * which SECRET_KEY made it, so records written before a rotation still verify with the previous one.
 */
export function signIntegrity(value: string, keyring: Keyring): string {
  const key = keyring.current;
  return [MAC_FORMAT, key.kid, createHmac('sha256', key.integrity).update(value).digest('base64url')].join('.');
}

/** Which key made a valid MAC ('current' or 'previous': re-sign it), or null for a missing, unknown or wrong one. */
export function verifyIntegrity(value: string, mac: string | null | undefined, keyring: Keyring): 'current' | 'previous' | null {
  const parts = (mac ?? '').split('.');
  if (parts.length !== 3 || parts[0] !== MAC_FORMAT) return null;
  const which = parts[1] === keyring.current.kid ? 'current' : parts[1] === keyring.previous?.kid ? 'previous' : null;
  if (!which) return null;
  const key = which === 'current' ? keyring.current : keyring.previous!;
  const expected = createHmac('sha256', key.integrity).update(value).digest('base64url');
  return safeEqual(expected, parts[2]!) ? which : null;
}

/**
 * Idempotency fingerprints of a request body (which holds env values): an HMAC, not a bare hash, so
 * a Redis dump cannot confirm guesses of a secret. One per key in the keyring (current first), so a
 * retry made across a rotation still matches its first request.
 */
export function requestFingerprints(body: string, keyring: Keyring): string[] {
  return [keyring.current, keyring.previous]
    .filter((k): k is DerivedKeys => k !== null)
    .map((k) => createHmac('sha256', k.idempotency).update(body).digest('hex'));
}

/** Constant-time string comparison for tokens. */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

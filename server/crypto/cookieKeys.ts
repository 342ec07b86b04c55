import { createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
import { boundedMemo } from '../boundedMemo.js';

/**
 * Cookie signing keys for Koa (`app.keys`), a drop-in for `new Keygrip(keys, 'sha256')`: the same
 * signatures (HMAC-SHA256 of "name=value", base64url), so existing cookies stay valid.
 *
 * Why not keygrip itself: its verification goes through tsscmp, which for every comparison draws 32
 * random bytes and HMACs both sides under that fresh Buffer key. On Node 24 that is ~130 µs of CPU per
 * signed-cookie read, the single largest cost of an authenticated request (see bench/). Here the
 * keys are imported once as KeyObjects and the comparison is crypto.timingSafeEqual on equal-length
 * digests, which is constant-time without the extra HMACs.
 */
export interface CookieKeys {
  sign(data: string): string;
  verify(data: string, digest: string): boolean;
  /** Index of the key that made `digest` (0 = current), or -1. */
  index(data: string, digest: string): number;
}

export function createCookieKeys(keys: readonly string[]): CookieKeys {
  if (keys.length === 0) throw new Error('cookie signing needs at least one key');
  // keygrip used each key string's UTF-8 bytes as the HMAC key: keep that, so signatures match.
  const imported = keys.map((k) => createSecretKey(Buffer.from(k, 'utf8')));
  const mac = (data: string, i: number) => createHmac('sha256', imported[i]!).update(data).digest();
  // The current key's signature of cookies that verified recently: a signed-in browser sends the same
  // cookie all day, and its signature is the same every time. Every request is still checked (in
  // constant time, against the signature we would compute); only the HMAC is not recomputed. Filled
  // only after a successful check, so requests with made-up cookies cannot fill it.
  const verified = boundedMemo<string, Buffer>(VERIFIED_MAX);
  const expectedOf = (data: string, i: number) => (i === 0 ? verified.get(data) : undefined) ?? mac(data, i);
  return {
    sign: (data) => mac(data, 0).toString('base64url'),
    verify(data, digest) { return this.index(data, digest) > -1; },
    index(data, digest) {
      if (typeof digest !== 'string') return -1;
      const given = Buffer.from(digest, 'base64url');
      for (let i = 0; i < imported.length; i++) {
        const expected = expectedOf(data, i);
        // Length is public (always 32 bytes for a well-formed signature); compare contents in constant time.
        if (given.length === expected.length && timingSafeEqual(given, expected) && given.toString('base64url') === digest) {
          if (i === 0 && !verified.has(data)) verified.set(data, expected);
          return i;
        }
      }
      return -1;
    },
  };
}

/** Cookies whose signature is remembered (≈ signed-in browsers per process); past it the memory starts over. */
const VERIFIED_MAX = 10_000;

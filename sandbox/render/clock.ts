import { randomBytes, randomInt } from 'node:crypto';

/**
 * Microsecond clock over an injectable ms clock. Every reading is strictly greater than the
 * previous one, so timestamps are unique and time-window paging (logs) never loses an entry.
 */
export interface SimClock {
  nowMs(): number;
  /** Epoch microseconds, strictly increasing. */
  nowUs(): number;
}

export function createClock(now: () => number = Date.now): SimClock {
  let last = 0;
  return {
    nowMs: () => now(),
    nowUs() {
      const us = Math.max(Math.floor(now() * 1000), last + 1);
      last = us;
      return us;
    },
  };
}

/**
 * Times as Render writes and reads them (RFC 3339 with microseconds: 2024-12-02T18:24:16.047704Z):
 * the orchestrator's own parser and formatter, one implementation for both sides; the contract
 * tests check the simulator's answers against Render's spec on their own.
 */
export { formatUs, timeUs as parseTimeUs } from '../../server/deployments/logWindows.js';

const ID_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/** Render-style id: `<prefix>-` + 20 characters of [0-9a-z]. */
export function newId(prefix: string): string {
  let out = '';
  for (let i = 0; i < 20; i++) out += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return `${prefix}-${out}`;
}

/** Fake 40-hex git sha. */
export function fakeSha(): string {
  return randomBytes(20).toString('hex');
}

export function newRequestId(seq: number): string {
  return `api-${randomBytes(5).toString('hex')}-${randomBytes(3).toString('hex')}/${randomBytes(6).toString('base64url')}-${String(seq).padStart(6, '0')}`;
}

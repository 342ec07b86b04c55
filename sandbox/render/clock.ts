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

/** RFC 3339 with microseconds, as Render writes them: 2024-12-02T18:24:16.047704Z */
export function formatUs(us: number): string {
  const ms = Math.floor(us / 1000);
  const iso = new Date(ms).toISOString(); // 2024-12-02T18:24:16.047Z
  const micro = String(us % 1000).padStart(3, '0');
  return `${iso.slice(0, 23)}${micro}Z`;
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i;

/** Parses an RFC 3339 date-time to epoch microseconds, or returns null when it is not one. */
export function parseTimeUs(text: string): number | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const seconds = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(seconds)) return null;
  const frac = (m[2] ?? '').padEnd(6, '0').slice(0, 6);
  return seconds * 1000 + Number(frac);
}

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

import { entryHash, GENESIS_HASH } from './canonical.js';
import type { AuditEntry, ChainProblem, ChainVerdict } from './types.js';

/** A point of the chain whose hash is known independently of the entries: genesis, a checkpoint, the head. */
export interface Anchor { seq: number; hash: string }

export const GENESIS: Anchor = { seq: 0, hash: GENESIS_HASH };

/**
 * A chain head's seq or base as stored in Redis: absent is 0; otherwise a whole number in decimal
 * (no sign, no leading zero, at most 15 digits: scripts.ts WHOLE reads it the same way). Anything
 * else was written outside the audit log: null, and the head is unreadable (read as NaN, it
 * skipped the signature check and every comparison with it failed, so a chain whose newest entries
 * were removed passed).
 */
export function headNumber(raw: string | null | undefined): number | null {
  if (raw === null || raw === undefined) return 0;
  return /^(?:0|[1-9]\d{0,14})$/.test(raw) ? Number(raw) : null;
}

/** What a chain whose head is unreadable is reported with (page and verifyChain alike). */
export const UNREADABLE_HEAD = 'the chain head is unreadable (its seq or base is not a whole number): it was changed outside the audit log';

type Broken = Extract<ChainVerdict, { valid: false }>;

/**
 * Check that `entries` are exactly the entries start.seq+1 … end.seq of `chain`: each one's hash
 * covers its content, each links to the one before (the first to `start`), and the last one is the
 * `end` anchor. The first broken place is named by seq and kind of problem.
 */
export function verifySegment(chain: string, entries: Array<AuditEntry | null>, start: Anchor, end: Anchor): ChainVerdict {
  const length = entries.length;
  const bad = (seq: number, problem: ChainProblem, message: string): Broken => ({ valid: false, length, seq, problem, message });
  const seqs = entries.map((e) => e?.seq);
  let prev = start.hash;
  for (let i = 0; i < entries.length; i++) {
    const expected = start.seq + i + 1;
    const e = entries[i];
    if (!e || typeof e !== 'object') return bad(expected, 'unreadable', `entry ${expected} is not readable`);
    if (e.seq !== expected) {
      if (seqs.filter((s) => s === e.seq).length > 1) return bad(e.seq, 'inserted', `two entries claim seq ${e.seq}: one was inserted`);
      if (!seqs.includes(expected)) return bad(expected, 'missing', `entry ${expected} was removed`);
      return bad(expected, 'reordered', `entry ${e.seq} sits where entry ${expected} belongs`);
    }
    if (e.chain !== chain) return bad(e.seq, 'inserted', `entry ${e.seq} belongs to another chain`);
    if (entryHash(e) !== e.hash) return bad(e.seq, 'edited', `entry ${e.seq} was changed after it was written`);
    if (e.prevHash !== prev) {
      return bad(e.seq, 'broken_link', i === 0 && start.seq > 0
        ? `entry ${e.seq} does not follow the signed checkpoint at entry ${start.seq}: it was replaced`
        : `entry ${e.seq} does not follow entry ${e.seq - 1}: one of them was replaced`);
    }
    prev = e.hash;
  }
  const last = start.seq + length;
  if (end.seq > last) return bad(last + 1, 'truncated', `entries ${last + 1}–${end.seq} were removed`);
  if (end.seq < last) return bad(end.seq + 1, 'inserted', `entries after ${end.seq} were appended outside the audit log`);
  if (length > 0 && end.hash !== prev) return bad(last, 'edited', `entry ${last} does not match the signed ${end.seq === last ? 'anchor' : 'head'}`);
  return { valid: true, length };
}

/** A whole chain from its first entry (seq 1) to its head: the verifier's judgement on any sequence. */
export function verifyEntries(chain: string, entries: Array<AuditEntry | null>, head: Anchor): ChainVerdict {
  return verifySegment(chain, entries, GENESIS, head);
}

import { ApiError } from './errors.js';
import { parseTimeUs } from './clock.js';

/**
 * Cursor pagination as Render does it (docs/render-api.md §4): a bare array of `{<key>: item, cursor}`;
 * the cursor of the last item fetches the next page; `[]` after the last item; a short page
 * only when it really is the last one.
 */

interface Sequenced {
  /** Insertion order; also what a cursor encodes. */
  seq: number;
}

export function parseLimit(params: URLSearchParams, max = 100, fallback = 20): number {
  const raw = params.get('limit');
  if (raw === null || raw === '') return fallback;
  if (!/^-?\d+$/.test(raw)) throw new ApiError(400, `invalid limit: ${raw}`);
  const n = Number(raw);
  if (n < 1 || n > max) throw new ApiError(400, `limit must be between 1 and ${max}`);
  return n;
}

export function encodeCursor(seq: number): string {
  return Buffer.from(`rsc:${seq.toString(36)}`).toString('base64url');
}

export function decodeCursor(cursor: string): number {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^rsc:([0-9a-z]+)$/.exec(text);
  if (!m || !m[1]) throw new ApiError(400, 'invalid cursor');
  return parseInt(m[1], 36);
}

/**
 * One page of `items`, which must already be filtered and sorted by seq in `order`.
 * Returns wrapper objects `{[key]: present(item), cursor}`.
 */
export function paginate<T extends Sequenced, K extends string, P>(
  items: readonly T[],
  params: URLSearchParams,
  key: K,
  present: (item: T) => P,
  opts: { order: 'asc' | 'desc'; maxLimit?: number },
): Array<Record<K, P> & { cursor: string }> {
  const limit = parseLimit(params, opts.maxLimit ?? 100);
  const cursor = params.get('cursor');
  let start = 0;
  if (cursor) {
    const after = decodeCursor(cursor);
    start = items.findIndex((it) => (opts.order === 'desc' ? it.seq < after : it.seq > after));
    if (start === -1) start = items.length;
  }
  return items.slice(start, start + limit).map(
    (it) => ({ [key]: present(it), cursor: encodeCursor(it.seq) }) as Record<K, P> & { cursor: string },
  );
}

/**
 * Array query param in either encoding (docs/render-api.md §1): comma-separated (`?a=x,y`) or repeated
 * keys (`?a=x&a=y`), or both mixed. Empty pieces are dropped.
 */
export function arrayParam(params: URLSearchParams, name: string): string[] {
  return params.getAll(name).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

/** An array param whose values must come from `allowed` (400 otherwise). */
export function enumArrayParam(params: URLSearchParams, name: string, allowed: readonly string[]): string[] {
  const values = arrayParam(params, name);
  const bad = values.find((v) => !allowed.includes(v));
  if (bad !== undefined) throw new ApiError(400, `invalid ${name}: ${bad}`);
  return values;
}

/** A date-time query param in epoch µs, undefined when absent, 400 when malformed. */
export function timeParam(params: URLSearchParams, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === null || raw === '') return undefined;
  const us = parseTimeUs(raw);
  if (us === null) throw new ApiError(400, `invalid ${name}: must be an RFC 3339 date-time`);
  return us;
}

/** Checks `[name]Before` / `[name]After` bounds of one timestamp field. */
export function withinBounds(params: URLSearchParams, prefix: string, us: number | null): boolean {
  const before = timeParam(params, `${prefix}Before`);
  const after = timeParam(params, `${prefix}After`);
  if (before === undefined && after === undefined) return true;
  if (us === null) return false;
  return (before === undefined || us < before) && (after === undefined || us > after);
}

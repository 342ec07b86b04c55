// Reads Render's rate-limit response headers (docs/render-api.md §9).

export interface RateLimitInfo {
  limit?: number;
  remaining?: number;
  /** Milliseconds until the current window resets. */
  resetMs?: number;
}

/** Header lookup that tolerates Node's lower-cased names and array values. */
export type HeaderGetter = (name: string) => string | undefined;

// Below this a Ratelimit-Reset value is a delta in seconds (what Render sends in practice);
// above it, epoch seconds (what Render's docs say).
const EPOCH_THRESHOLD_SECONDS = 1e9;

export function parseRateLimit(header: HeaderGetter, nowMs: number = Date.now()): RateLimitInfo | undefined {
  const limit = parseNonNegativeNumber(header('ratelimit-limit'));
  const remaining = parseNonNegativeNumber(header('ratelimit-remaining'));
  const reset = parseNonNegativeNumber(header('ratelimit-reset'));
  if (limit === undefined && remaining === undefined && reset === undefined) return undefined;
  const info: RateLimitInfo = {};
  if (limit !== undefined) info.limit = limit;
  if (remaining !== undefined) info.remaining = remaining;
  if (reset !== undefined) info.resetMs = resetToDelayMs(reset, nowMs);
  return info;
}

/** Ratelimit-Reset: < 1e9 → seconds from now, otherwise epoch seconds. */
function resetToDelayMs(reset: number, nowMs: number = Date.now()): number {
  if (reset < EPOCH_THRESHOLD_SECONDS) return Math.round(reset * 1000);
  return Math.max(0, Math.round(reset * 1000 - nowMs));
}

/** Retry-After is either delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfterMs(value: string | undefined, nowMs: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

function parseNonNegativeNumber(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (!/^\d+(\.\d+)?$/.test(trimmed)) return undefined;
  return Number(trimmed);
}

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

/**
 * The longest wait Render may ask of us (Retry-After, Ratelimit-Reset): its longest window is an hour
 * (`POST /services`, §9). A longer one is a fault, and past 2^31-1 ms a timer fires at once.
 */
export const RENDER_WAIT_MAX_MS = 3_600_000;

/** A 429 that says to ask again at once (Retry-After 0, a past date) waits this long: no retry storm. */
export const RATE_LIMITED_WAIT_MIN_MS = 1_000;

/**
 * Retry-After is either delay-seconds or an HTTP date (RFC 9110 §10.2.3); anything else is absent, so
 * the caller falls back to Ratelimit-Reset. Not Date.parse: V8 reads "-5" as a date in 2001 (a wait of 0).
 */
export function parseRetryAfterMs(value: string | undefined, nowMs: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = parseHttpDate(trimmed, nowMs);
  return at === undefined ? undefined : Math.max(0, at - nowMs);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
// RFC 9110 §5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms a recipient must accept. Spelled
// out as literals: the regex-safety test checks every pattern of server/ (test/security/regex-safety.test.ts).
const IMF_FIXDATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const RFC850_DATE = /^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d{2})-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const ASCTIME_DATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

/** Epoch ms of an HTTP-date, or undefined for anything else (a day or time out of range included). */
function parseHttpDate(value: string, nowMs: number = Date.now()): number | undefined {
  let day: string, month: string, year: number, time: string[];
  let m = IMF_FIXDATE.exec(value);
  if (m) {
    [day, month, year, time] = [m[1]!, m[2]!, Number(m[3]), m.slice(4, 7)];
  } else if ((m = RFC850_DATE.exec(value))) {
    // A two-digit year more than 50 years ahead is the most recent past year ending so (RFC 9110 §5.6.7).
    const thisYear = new Date(nowMs).getUTCFullYear();
    year = Math.floor(thisYear / 100) * 100 + Number(m[3]);
    if (year > thisYear + 50) year -= 100;
    [day, month, time] = [m[1]!, m[2]!, m.slice(4, 7)];
  } else if ((m = ASCTIME_DATE.exec(value))) {
    [month, day, time, year] = [m[1]!, m[2]!.trim(), m.slice(3, 6), Number(m[6])];
  } else {
    return undefined;
  }
  const [hours, minutes, seconds] = time.map(Number) as [number, number, number];
  if (hours > 23 || minutes > 59 || seconds > 60) return undefined; // 60: a leap second
  const date = Number(day);
  const midnight = new Date(Date.UTC(year, MONTHS.indexOf(month), date));
  // Date.UTC rolls 31 February over into March: such a day is no date.
  if (midnight.getUTCDate() !== date) return undefined;
  return midnight.getTime() + ((hours * 60 + minutes) * 60 + seconds) * 1000;
}

function parseNonNegativeNumber(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (!/^\d+(\.\d+)?$/.test(trimmed)) return undefined;
  return Number(trimmed);
}

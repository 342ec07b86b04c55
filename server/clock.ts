/** Injected time source, so expiry and backoff can be tested without waiting. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock tests move by hand. */
export function manualClock(start = Date.now()) {
  let t = start;
  return { now: () => t, advance(ms: number) { t += ms; }, set(ms: number) { t = ms; } };
}

/**
 * "HH:MM" (UTC) of the first whole minute at or after `ms`: the time a message names as when a block
 * or lock ends is never before it ends (cut to the minute, 10:15:50 read "10:15", and a user back at
 * 10:15 was refused again).
 */
export function utcMinuteAtOrAfter(ms: number): string {
  return new Date(Math.ceil(ms / 60_000) * 60_000).toISOString().slice(11, 16);
}

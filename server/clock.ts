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

import type { Clock } from '../clock.js';

// Render's clock, not ours: Render stamps `createdAt` by its clock, and ours may be off it by any amount.
// A time of ours is moved onto Render's with the `Date` of a Render answer (docs/render-api.md §6.3).

/** Only when Render's answer has no Date: its clock may be behind ours by this much. */
export const CLOCK_SLACK_MS = 2_000;

/**
 * `ours` (epoch ms, our clock) on Render's clock. Render stamps its answer's Date (rounded down to the
 * second) between our sending the request and our reading the answer at `answeredAt` (ours), so
 * `serverDate − answeredAt` is at most Render's clock minus ours, and at least that less a second and
 * the round trip: the time mapped with it is never later than Render's time for it, and at most that
 * much earlier. Without a Date (`serverDate` null), ours less CLOCK_SLACK_MS.
 */
export function onRenderClock(ours: number, serverDate: number | null, answeredAt: number): number {
  return serverDate === null ? ours - CLOCK_SLACK_MS : ours + (serverDate - answeredAt);
}

/**
 * `ours` on Render's clock only when the answer shows the clocks apart: Render made its answer between
 * `sentAt` and `answeredAt` (ours), at a time in [Date, Date + 1 s), so its clock minus ours lies in
 * [serverDate − answeredAt, serverDate + 1 s − sentAt]. While 0 is in that range, ours is kept: the
 * clocks agree as far as the answer can tell, and ours orders events to the millisecond, where Date
 * can only to the second (a service someone made just before our record stays older than it). Outside
 * it, the lower end, as onRenderClock. Without a Date, ours.
 */
export function onRenderClockIfApart(ours: number, answer: { serverDate: number | null; sentAt: number; answeredAt: number }): number {
  const { serverDate, sentAt, answeredAt } = answer;
  if (serverDate === null) return ours;
  const least = serverDate - answeredAt;
  const most = serverDate + 1_000 - sentAt;
  return least <= 0 && most >= 0 ? ours : ours + least;
}

/**
 * A read of a dated Render answer (its `serverDate`), timed on our clock on either side: the answer, and
 * a time of ours moved onto Render's clock by it as onRenderClockIfApart does.
 */
export async function readDated<A extends { serverDate: number | null }>(clock: Clock, read: () => Promise<A>): Promise<{ answer: A; onRender(ours: number): number }> {
  const sentAt = clock.now();
  const answer = await read();
  const timing = { serverDate: answer.serverDate, sentAt, answeredAt: clock.now() };
  return { answer, onRender: (ours) => onRenderClockIfApart(ours, timing) };
}

/**
 * How far a Date may put Render's clock from ours and still be believed (Sentinel's windows, positions and
 * notes of its own reads). Hosts kept by NTP, Render's and ours, are apart by seconds; a clock never set
 * right drifts minutes a month. An answer further apart than this is taken for a wrong Date (a caching
 * proxy's stale answer, a broken clock upstream), not for Render's clock: one such Date a day ahead moved
 * a window's log horizon to the next day (what came between rounds was never read), one two days behind
 * read two days again and reported own reads older than their notes as threats. Beyond it, the answer's
 * Date is passed over: the last one believed stands (ours, at first). 15 minutes: well past real drift
 * and past a clock set right by 10 minutes at once (the tests' skews are 5 and 10), and what a wrong Date
 * within it can still do is bounded by it: a quarter of an hour read again (its notes kept 4 hours cover
 * it), or one of entries stamped behind a position saved ahead of Render's time; a longer bound only
 * lets a wrong Date do more.
 */
export const MAX_CLOCK_OFFSET_MS = 15 * 60_000;

/** Whether a mapping onto Render's clock (readDated's `onRender`) moves `ours` no further than MAX_CLOCK_OFFSET_MS. */
export function believable(onRender: (ours: number) => number, ours: number): boolean {
  return Math.abs(onRender(ours) - ours) <= MAX_CLOCK_OFFSET_MS;
}

/** An offset of Render's clock from ours (ms) within ±MAX_CLOCK_OFFSET_MS. */
export const boundedOffset = (ms: number): number => Math.min(Math.max(ms, -MAX_CLOCK_OFFSET_MS), MAX_CLOCK_OFFSET_MS);

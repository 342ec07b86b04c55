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

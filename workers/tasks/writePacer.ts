/**
 * GitHub asks that writes for one user be spaced about a second apart (server/github/pacing.ts). The
 * client's own pacing does that by holding the request, which would hold a worker slot as well; this
 * pacer books each status job a time instead and says how long to wait, so the job waits as a delayed
 * BullMQ job and the slot serves other tenants meanwhile. Per process, like the client's: another
 * worker process books its own times, and the client's per-token pacing stays as the backstop.
 */
export interface WritePacer {
  /** 0 when the job may write now (its time is booked), else ms to wait before asking again. */
  book(userId: number, jobId: string): number;
}

/** Within this many ms of its booked time a job goes ahead (a delayed job wakes a little early or late). */
const TOLERANCE_MS = 50;

export function createWritePacer(opts: { intervalMs: number; now: () => number }): WritePacer {
  const nextFree = new Map<number, number>(); // user → when their next write may go
  const booked = new Map<string, number>(); // job → the time it was given
  const sweep = (now: number) => {
    // Entries in the past are of no use any more (a booked job that vanished, a user now quiet).
    for (const [user, at] of nextFree) if (at < now) nextFree.delete(user);
    for (const [job, at] of booked) if (at < now - 60_000) booked.delete(job);
  };
  return {
    book(userId, jobId) {
      const now = opts.now();
      const mine = booked.get(jobId);
      if (mine !== undefined) {
        if (mine > now + TOLERANCE_MS) return mine - now;
        booked.delete(jobId);
        return 0;
      }
      if (nextFree.size + booked.size > 10_000) sweep(now);
      const at = Math.max(now, nextFree.get(userId) ?? 0);
      nextFree.set(userId, at + opts.intervalMs);
      if (at <= now + TOLERANCE_MS) return 0;
      booked.set(jobId, at);
      return at - now;
    },
  };
}

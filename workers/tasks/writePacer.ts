/**
 * GitHub asks that writes for one user go one at a time and about a second apart. Status jobs are the
 * worker's only GitHub writes and this pacer is their one pacing authority: the client they post with
 * does not pace again (server/github/pacing.ts paces every other client's writes). Waiting twice, here
 * from launch to launch and again in the client from the previous write's end, held each write in its
 * slot after its turn came and let a tenant's backlog of held status jobs grow.
 *
 * A user's jobs queue in the order they first asked; the head goes once no write of theirs is in
 * flight and a spacing has passed since the last one ENDED (`wrote`). Others are told how long to wait
 * (a delayed BullMQ job, or a short sleep in the slot) and ask again: a woken job re-books and keeps
 * its place. Per process, like the client's pacer: another worker process paces its own jobs.
 */
export interface WritePacer {
  /** Waits up to this long are slept in the job's slot (about one spacing); longer ones are delayed jobs. */
  readonly holdMaxMs: number;
  /** 0: this job's write goes now (call `wrote` when it ends, whatever happened); else ms to wait before asking again. */
  book(userId: number, jobId: string): number;
  /** The write the user's turn was taken for ended (posted, failed or not made): the next one is a spacing from now. */
  wrote(userId: number): void;
  /** The job needs no turn any more (done, or gave up before its turn): it leaves the user's line. */
  leave(userId: number, jobId: string): void;
}

interface UserTurns {
  /** Jobs waiting for a turn, first asked first, with when each was told to ask again. */
  queue: Array<{ jobId: string; dueAt: number }>;
  writing: boolean;
  /** When the next write may start (a spacing after the last one ended). */
  freeAt: number;
}

export function createWritePacer(opts: { intervalMs: number; now: () => number }): WritePacer {
  const { intervalMs } = opts;
  // A queued job that has not asked again two spacings after its time is gone (job removed, its worker
  // died, the job moved on): its place would hold up every job behind it. A live job asks on time (a
  // timer in its slot, or a delayed job); one that is late only goes to the back of the line.
  const staleMs = 2 * intervalMs;
  const users = new Map<number, UserTurns>();
  const sweep = (now: number) => {
    for (const [user, u] of users) if (!u.writing && u.queue.length === 0 && u.freeAt <= now) users.delete(user);
  };
  return {
    holdMaxMs: intervalMs + 100,
    book(userId, jobId) {
      const now = opts.now();
      if (users.size > 10_000) sweep(now);
      let u = users.get(userId);
      if (!u) users.set(userId, u = { queue: [], writing: false, freeAt: 0 });
      u.queue = u.queue.filter((q) => q.jobId === jobId || q.dueAt + staleMs > now);
      let place = u.queue.findIndex((q) => q.jobId === jobId);
      if (place < 0) place = u.queue.push({ jobId, dueAt: now }) - 1;
      if (place === 0 && !u.writing && now >= u.freeAt) {
        u.queue.shift();
        u.writing = true;
        return 0;
      }
      // A write in flight ends soon (its end is not known yet): count a spacing from now for it.
      const start = u.writing ? now + intervalMs : Math.max(now, u.freeAt);
      const wait = Math.max(1, start + place * intervalMs - now);
      u.queue[place]!.dueAt = now + wait;
      return wait;
    },
    leave(userId, jobId) {
      const u = users.get(userId);
      if (u) u.queue = u.queue.filter((q) => q.jobId !== jobId);
    },
    wrote(userId) {
      const u = users.get(userId);
      if (!u) return;
      u.writing = false;
      u.freeAt = opts.now() + intervalMs;
    },
  };
}

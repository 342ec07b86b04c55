/**
 * GitHub asks integrations to make writes one at a time and about a second apart per user (its REST
 * API best practices; octokit's throttling did the same until it was replaced: server/github/http.ts).
 * One queue per token (named by a digest, never the token) in this process: one tenant's writes wait
 * on its own queue and never on another tenant's. Commit statuses are not paced here: the status
 * worker paces them itself (workers/tasks/writePacer.ts) and posts with a client that skips this.
 */
export const WRITE_SPACING_MS = 1_000;

interface Queue { tail: Promise<unknown>; lastAt: number; pending: number }

export function createWritePacer(spacingMs = WRITE_SPACING_MS) {
  const queues = new Map<string, Queue>();
  return {
    run<T>(key: string, fn: () => Promise<T>): Promise<T> {
      let queue = queues.get(key);
      if (!queue) queues.set(key, queue = { tail: Promise.resolve(), lastAt: 0, pending: 0 });
      const q = queue;
      q.pending += 1;
      const result = q.tail.then(async () => {
        const wait = q.lastAt + spacingMs - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        try {
          return await fn();
        } finally {
          q.lastAt = Date.now();
        }
      });
      q.tail = result.catch(() => undefined).finally(() => {
        q.pending -= 1;
        // An idle queue is forgotten once its spacing has passed (a later write needs no wait then).
        if (q.pending === 0) setTimeout(() => { if (q.pending === 0 && queues.get(key) === q) queues.delete(key); }, spacingMs).unref();
      });
      return result;
    },
    /** Queues held now (tests: idle ones are dropped). */
    size: () => queues.size,
  };
}

/** The process's one pacer: every GitHub client on the same token shares its queue. */
export const writePacer = createWritePacer();

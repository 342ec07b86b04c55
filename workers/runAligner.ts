/**
 * Deploy job runs that come in a steady stream start together, a window apart, instead of one by one.
 *
 * Why: a run is some twenty round trips (Redis, GitHub, Render), and a round trip made alone costs the
 * process a wake-up and cold caches, 2–5× what it costs beside others (bench/README.md, `pipeline`).
 * Runs that start together send their commands in shared writes (the auto-pipelined Redis connection)
 * and read their answers in shared wake-ups for most of their steps. Measured at 50 deploys/s: worker
 * CPU per deploy 7.2–11.1 → 5.3–6.9 ms, for up to one window of delay before a run starts (bench/README.md,
 * `pipeline`, issue 17's tenth pass).
 *
 * A run that finds no other started or waiting within the last window goes at once: a lone deploy
 * (the usual case) waits for nothing. One that follows another that closely waits for the window opened
 * by the first of them to wait, so a stream's runs go in groups, each run delayed at most `windowMs`.
 */
export type RunAligner = () => Promise<void> | null;

export function createRunAligner(windowMs: number, now: () => number = () => performance.now()): RunAligner {
  if (windowMs <= 0) return () => null;
  let lastArrival = -Infinity;
  let open: Promise<void> | null = null;
  return () => {
    const at = now();
    const follows = at - lastArrival < windowMs;
    lastArrival = at;
    if (open) return open;
    if (!follows) return null;
    // Not unref'd: the window is short and the runs in it must start (a closing worker waits for them).
    open = new Promise((resolve) => setTimeout(() => { open = null; resolve(); }, windowMs));
    return open;
  };
}

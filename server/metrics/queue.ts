import type { Queue } from 'bullmq';
import type { WebMetrics } from './registry.js';

/** Bound a scrape-time read: a slow or absent Redis must not hang /metrics. */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p.catch(() => null), new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Deploy queue depth by state, read from BullMQ when scraped (the whole queue, whichever process
 * answers). When Redis does not answer in time the series are dropped rather than left stale.
 */
export async function collectQueueDepth(queue: Queue, metrics: WebMetrics, timeoutMs = 1_000): Promise<boolean> {
  const counts = await within(queue.getJobCounts(), timeoutMs);
  metrics.queueJobs.reset();
  if (!counts) return false;
  for (const [state, n] of Object.entries(counts)) metrics.queueJobs.set({ state }, n);
  return true;
}

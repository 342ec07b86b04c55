import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import { within } from './queue.js';
import { redisScript } from '../redisScript.js';

/**
 * Worker metrics reach Prometheus through the web: Render background workers cannot receive
 * traffic (not even on the private network), so a worker cannot be scraped. Each worker writes a
 * JSON snapshot of its registry to one Redis hash every few seconds (and once more when it stops);
 * every web process's /metrics merges the fresh snapshots into its answer.
 */

export type MetricsSnapshot = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

interface StoredSnapshot { expiresAt: number; metrics: MetricsSnapshot }

const snapshotsKey = (prefix: string) => `${prefix}:metrics:workers`;

interface SnapshotPublisher {
  /** Write the current snapshot now (also called on shutdown, so the last counts are not lost). */
  publish(): Promise<void>;
  stop(): void;
}

export function publishSnapshots(opts: { redis: Redis; prefix: string; instance: string; registry: Registry; intervalMs?: number }): SnapshotPublisher {
  const intervalMs = opts.intervalMs ?? 10_000;
  const ttlMs = intervalMs * 3; // two missed pushes and the worker counts as gone
  const key = snapshotsKey(opts.prefix);
  const publish = async () => {
    const metrics: MetricsSnapshot = await opts.registry.getMetricsAsJSON();
    const stored: StoredSnapshot = { expiresAt: Date.now() + ttlMs, metrics };
    await opts.redis.multi().hset(key, opts.instance, JSON.stringify(stored)).pexpire(key, ttlMs).exec();
  };
  const timer = setInterval(() => { void publish().catch(() => {}); }, intervalMs);
  timer.unref();
  return { publish: () => publish().catch(() => {}), stop: () => clearInterval(timer) };
}

/** Fresh worker snapshots; expired ones are removed. Empty when Redis does not answer in time. */
export async function readSnapshots(redis: Redis, prefix: string, timeoutMs = 1_000): Promise<MetricsSnapshot[]> {
  const key = snapshotsKey(prefix);
  const all = await within(redis.hgetall(key), timeoutMs);
  if (!all) return [];
  const now = Date.now();
  const fresh: MetricsSnapshot[] = [];
  const stale: string[] = [];
  for (const [instance, raw] of Object.entries(all)) {
    try {
      const s = JSON.parse(raw) as StoredSnapshot;
      if (s.expiresAt > now && Array.isArray(s.metrics)) fresh.push(s.metrics);
      else stale.push(instance, raw);
    } catch {
      stale.push(instance, raw);
    }
  }
  if (stale.length) void removeUnchanged(redis, [key], stale).catch(() => {});
  return fresh;
}

/**
 * KEYS the snapshots hash; ARGV field, value pairs as read. Removes each field still holding the value
 * read: a worker that stalled past its snapshot's expiry and has just pushed a fresh one keeps it.
 */
const removeUnchanged = redisScript(`
local removed = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then removed = removed + redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return removed`);

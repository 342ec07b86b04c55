import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { telemetryKeys, type TelemetryKeys } from './keys.js';
import { createRecorder, type TelemetryRecorder } from './recorder.js';
import { createGuardCache, createGuardStore, type GuardCache, type GuardStore } from './guards.js';
import type { TelemetrySettings } from './options.js';

/** Counters the web process exposes in /metrics (server/metrics/registry.ts wires them). */
interface TelemetryMetricsSink {
  onRefused?(state: 'throttled' | 'blocked'): void;
}

/** The telemetry parts a process shares: recorder (web), guard store and cache, keys and settings. */
export interface Telemetry {
  settings: TelemetrySettings;
  keys: TelemetryKeys;
  recorder: TelemetryRecorder;
  store: GuardStore;
  guards: GuardCache;
  /**
   * Count one request of a throttled user in the current minute (of the injected clock, like every
   * other telemetry time); resolves to the count so far. Keys rl:anomaly-throttle:<id>:<minute>.
   */
  throttleCount(userId: number, minute: number): Promise<number>;
  /** The same count, read without counting. */
  throttleSpent(userId: number, minute: number): Promise<number>;
  metrics?: TelemetryMetricsSink;
  close(): Promise<void>;
}

export function createTelemetry(opts: {
  redis: Redis; prefix: string; settings: TelemetrySettings; logger: Logger;
  flushMs?: number; syncMs?: number; metrics?: TelemetryMetricsSink;
}): Telemetry {
  const keys = telemetryKeys(opts.prefix);
  const store = createGuardStore(opts.redis, keys);
  const recorder = createRecorder({ redis: opts.redis, keys, settings: opts.settings, logger: opts.logger, flushMs: opts.flushMs });
  const guards = createGuardCache(store, { syncMs: opts.syncMs, onError: (err) => opts.logger.warn({ err: { message: err.message } }, 'telemetry: guard sync failed') });
  const throttleKey = (userId: number, minute: number) => `${opts.prefix}:rl:anomaly-throttle:${userId}:${minute}`;
  const throttleSpent = async (userId: number, minute: number) => Number(await opts.redis.get(throttleKey(userId, minute)));
  const throttleCount = async (userId: number, minute: number) => {
    const key = throttleKey(userId, minute);
    const [[, n]] = (await opts.redis.multi().incr(key).expire(key, 120).exec()) as [[Error | null, number], unknown];
    return n;
  };
  return {
    settings: opts.settings, keys, recorder, store, guards, throttleCount, throttleSpent, metrics: opts.metrics,
    async close() { guards.close(); await recorder.close(); },
  };
}

import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { createLimiter } from '../security/rateLimits.js';
import { telemetryKeys, type TelemetryKeys } from './keys.js';
import { createRecorder, type TelemetryRecorder } from './recorder.js';
import { createGuardCache, createGuardStore, type GuardCache, type GuardStore } from './guards.js';
import type { TelemetrySettings } from './options.js';
import type { RateLimiterRedis } from 'rate-limiter-flexible';

/** Counters the web process exposes in /metrics (server/metrics/registry.ts wires them). */
export interface TelemetryMetricsHooks {
  onRefused?(state: 'throttled' | 'blocked'): void;
}

/** The telemetry parts a process shares: recorder (web), guard store and cache, keys and settings. */
export interface Telemetry {
  settings: TelemetrySettings;
  keys: TelemetryKeys;
  recorder: TelemetryRecorder;
  store: GuardStore;
  guards: GuardCache;
  /** Tighter per-user limit while throttled (rl:anomaly-throttle). */
  throttle: RateLimiterRedis;
  metrics?: TelemetryMetricsHooks;
  close(): Promise<void>;
}

export function createTelemetry(opts: {
  redis: Redis; prefix: string; settings: TelemetrySettings; logger: Logger;
  flushMs?: number; syncMs?: number; metrics?: TelemetryMetricsHooks;
}): Telemetry {
  const keys = telemetryKeys(opts.prefix);
  const store = createGuardStore(opts.redis, keys);
  const recorder = createRecorder({ redis: opts.redis, keys, settings: opts.settings, logger: opts.logger, flushMs: opts.flushMs });
  const guards = createGuardCache(store, { syncMs: opts.syncMs, onError: (err) => opts.logger.warn({ err: { message: err.message } }, 'telemetry: guard sync failed') });
  const throttle = createLimiter(opts.redis, opts.prefix, 'anomaly-throttle', { points: opts.settings.throttlePerMinute, durationSec: 60 });
  return {
    settings: opts.settings, keys, recorder, store, guards, throttle, metrics: opts.metrics,
    async close() { guards.close(); await recorder.close(); },
  };
}

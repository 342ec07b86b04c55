import type { Redis } from 'ioredis';
import { Counter, type Registry } from 'prom-client';
import type { AppDeps } from '../server/deps.js';
import type { SecurityEvents } from '../server/security/events.js';
import { createDetector } from '../server/telemetry/detector.js';
import { resolveDetector, type DetectorOptions } from '../server/telemetry/options.js';
import { startAnomalyWorker } from './tasks/anomalyTask.js';

export interface AnomalyOptions {
  /** How often the detector runs (default every minute). */
  everyMs?: number;
  detector?: DetectorOptions;
}

/**
 * The anomaly detector in a worker process: the repeatable job (workers/tasks/anomalyTask.ts) over
 * the detector (server/telemetry/detector.ts), its actions counted in the worker's metrics.
 */
export async function startAnomalyDetection(args: {
  deps: AppDeps; securityEvents: SecurityEvents; connection: Redis; queueConnection: Redis; registry: Registry; options?: AnomalyOptions;
}): Promise<{ close(force?: boolean): Promise<void> }> {
  const { deps } = args;
  if (!deps.config.telemetry.enabled || !deps.config.telemetry.detection) return { close: async () => {} };
  const actions = new Counter({
    name: 'orchestrator_anomaly_actions_total', help: 'What the anomaly detector did: throttled or blocked a user, or lifted an expired throttle or block.',
    labelNames: ['action'] as const, registers: [args.registry],
  });
  const detector = createDetector({
    redis: deps.redis, keys: deps.telemetry.keys, store: deps.telemetry.store, settings: deps.config.telemetry,
    stats: resolveDetector(args.options?.detector), clock: deps.clock, logger: deps.logger, events: args.securityEvents,
    onAction: (action) => actions.inc({ action }),
  });
  return startAnomalyWorker({
    connection: args.connection, queueConnection: args.queueConnection, redis: deps.redis, prefix: deps.config.redisPrefix,
    keys: deps.telemetry.keys, detector, logger: deps.logger, registry: args.registry, everyMs: args.options?.everyMs,
  });
}

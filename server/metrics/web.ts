import type Router from '@koa/router';
import type { AppDeps } from '../deps.js';
import type { WebMetrics } from './registry.js';
import { metricsRoutes } from './endpoint.js';
import { collectQueueDepth } from './queue.js';
import { readSnapshots } from './snapshots.js';

/** GET /metrics for a web process: its own registry, queue depth and live streams read at scrape, worker snapshots. */
export function webMetricsRoute(metrics: WebMetrics, deps: Pick<AppDeps, 'config' | 'redis' | 'queue' | 'events' | 'telemetry' | 'clock'>): (router: Router) => void {
  return (router) => metricsRoutes(router, {
    metrics,
    token: deps.config.metricsToken,
    async collect() {
      metrics.sseListeners.set(deps.events?.listenerCount() ?? 0);
      const guarded = deps.telemetry.guards.counts(deps.clock.now());
      for (const state of ['throttled', 'blocked'] as const) metrics.anomalyGuarded.set({ state }, guarded[state]);
      await collectQueueDepth(deps.queue, metrics);
    },
    workerSnapshots: () => readSnapshots(deps.redis, deps.config.redisPrefix),
  });
}

import type Router from '@koa/router';
import { AggregatorRegistry } from 'prom-client';
import type { WebMetrics } from './registry.js';
import type { MetricsSnapshot } from './snapshots.js';
import { metricsAllowed } from './access.js';
import { documented } from '../openapi/describe.js';

interface MetricsRouteOptions {
  metrics: WebMetrics;
  /** config.metricsToken: null means "internal addresses only". */
  token: string | null;
  /** Scrape-time collectors (queue depth, live streams); each must bound its own time. */
  collect?: () => Promise<void>;
  /** Fresh worker snapshots to merge in. */
  workerSnapshots?: () => Promise<MetricsSnapshot[]>;
}

/**
 * GET /metrics in Prometheus text format: this web process's registry plus every fresh worker
 * snapshot. Worker series carry a `worker` label and web series none, so merging is a union and
 * nothing is summed. Refused requests get a plain 404, as if the route did not exist.
 */
export function metricsRoutes(router: Router, opts: MetricsRouteOptions): void {
  router.get('/metrics', documented({
    summary: 'Prometheus metrics', tag: 'metrics', access: 'Authorization: Bearer METRICS_TOKEN, or from a private address when no token is set; anyone else gets a plain 404.',
    responses: { 200: { contentType: 'text/plain', description: 'Prometheus text format.' }, 404: { contentType: 'text/plain', description: 'Refused: answered as if the route did not exist.' } },
  }), async (ctx) => {
    if (!metricsAllowed(ctx, opts.token)) {
      ctx.status = 404;
      return;
    }
    await opts.collect?.();
    const workers = (await opts.workerSnapshots?.()) ?? [];
    opts.metrics.workersReporting.set(workers.length);
    const own = await opts.metrics.registry.getMetricsAsJSON();
    // 'sum' over series that never overlap is a union; it also keeps families whose default
    // aggregator ('omit', 'average', …) is meant for clusters of identical processes.
    const merged = AggregatorRegistry.aggregate([own, ...workers].map((snapshot) => snapshot.map((m) => ({ ...m, aggregator: 'sum' }))));
    ctx.set('Content-Type', opts.metrics.registry.contentType);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await merged.metrics();
  });
}

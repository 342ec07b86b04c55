import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RenderCallOutcome } from '../render/client.js';
import type { MetricsSink } from '../deps.js';
import { budgetBucketLabel, nameLabel, renderRouteLabel, renderStatusLabel } from './labels.js';

/**
 * Metric families, one Registry per process (prom-client's global default registry is never used, so
 * two apps in one test process never share counters). Every name starts with `orchestrator_`.
 */

const SECONDS_FAST = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const SECONDS_DEPLOY = [5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 10800];
const SECONDS_QUEUE = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];

/** Render calls and budget waits happen in both processes (web: key checks, lifecycle; worker: deploys). */
function renderFamilies(registry: Registry) {
  const calls = new Counter({
    name: 'orchestrator_render_api_requests_total', help: 'Render API requests by method, templated route and answer status (or network/timeout).',
    labelNames: ['method', 'route', 'status'] as const, registers: [registry],
  });
  const duration = new Histogram({
    name: 'orchestrator_render_api_request_duration_seconds', help: 'Render API request duration by method and templated route.',
    labelNames: ['method', 'route'] as const, buckets: SECONDS_FAST, registers: [registry],
  });
  const budgetWaits = new Counter({
    name: 'orchestrator_render_budget_waits_total', help: 'Times the shared per-key Render budget made a call wait (instead of drawing a 429), by bucket.',
    labelNames: ['bucket'] as const, registers: [registry],
  });
  const budgetWaitSeconds = new Counter({
    name: 'orchestrator_render_budget_wait_seconds_total', help: 'Waiting the Render budget asked for, in seconds, by bucket.',
    labelNames: ['bucket'] as const, registers: [registry],
  });
  return {
    onRenderCall(call: RenderCallOutcome) {
      const route = renderRouteLabel(call.route);
      calls.inc({ method: call.method, route, status: renderStatusLabel(call.status) });
      duration.observe({ method: call.method, route }, call.durationMs / 1000);
    },
    onBudgetWait(bucket: string, waitMs: number) {
      const b = budgetBucketLabel(bucket);
      budgetWaits.inc({ bucket: b });
      budgetWaitSeconds.inc({ bucket: b }, Math.max(0, waitMs) / 1000);
    },
  };
}

export type KeyValidationOutcome = 'valid' | 'invalid' | 'unavailable';

export interface WebMetrics {
  registry: Registry;
  /** What buildDeps reports to (Render calls, budget waits, security events). */
  sink: Required<MetricsSink>;
  observeRequest(labels: { method: string; route: string; status_class: string }, seconds: number): void;
  keyValidated(outcome: KeyValidationOutcome): void;
  /** Gauges read at scrape time (queue depth, live streams): set by collectors, see queue.ts. */
  queueJobs: Gauge<'state'>;
  sseListeners: Gauge;
  workersReporting: Gauge;
  /** Users the anomaly detector throttles or blocks right now (this process's copy, read at scrape). */
  anomalyGuarded: Gauge<'state'>;
}

export function createWebMetrics(opts: { defaultMetrics?: boolean } = {}): WebMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const http = new Histogram({
    name: 'orchestrator_http_request_duration_seconds', help: 'HTTP request duration (until the handler returned) by method, route template and status class.',
    labelNames: ['method', 'route', 'status_class'] as const, buckets: SECONDS_FAST, registers: [registry],
  });
  const keys = new Counter({
    name: 'orchestrator_render_key_validations_total', help: 'Render API key checks against Render by outcome: valid, invalid (Render refused it) or unavailable (Render did not answer).',
    labelNames: ['outcome'] as const, registers: [registry],
  });
  const security = new Counter({
    name: 'orchestrator_security_events_total', help: 'Security events raised (repeated invalid keys, failed logins, …) by kind.',
    labelNames: ['kind'] as const, registers: [registry],
  });
  const queueJobs = new Gauge({
    name: 'orchestrator_queue_jobs', help: 'Deploy queue jobs by state, read from BullMQ at scrape time (delayed = deploys waiting for their next check).',
    labelNames: ['state'] as const, registers: [registry],
  });
  const sseListeners = new Gauge({ name: 'orchestrator_sse_listeners', help: 'Live update (SSE) listeners attached to this web process.', registers: [registry] });
  const workersReporting = new Gauge({ name: 'orchestrator_workers_reporting', help: 'Worker processes whose metrics snapshot (pushed through Redis) is fresh and included here.', registers: [registry] });
  const anomalyRefused = new Counter({
    name: 'orchestrator_anomaly_refused_requests_total', help: 'Requests refused because the anomaly detector throttles (over the tighter limit) or blocks their user, by state.',
    labelNames: ['state'] as const, registers: [registry],
  });
  const anomalyGuarded = new Gauge({ name: 'orchestrator_anomaly_guarded_users', help: 'Users the anomaly detector throttles or blocks right now, by state.', labelNames: ['state'] as const, registers: [registry] });
  const render = renderFamilies(registry);
  return {
    registry,
    sink: {
      onRenderCall: render.onRenderCall,
      onBudgetWait: render.onBudgetWait,
      onSecurityEvent: (kind) => security.inc({ kind: nameLabel(kind) }),
      onAnomalyRefused: (state) => anomalyRefused.inc({ state }),
    },
    observeRequest: (labels, seconds) => http.observe(labels, seconds),
    keyValidated: (outcome) => keys.inc({ outcome }),
    queueJobs, sseListeners, workersReporting, anomalyGuarded,
  };
}

export interface WorkerMetrics {
  registry: Registry;
  sink: Required<Pick<MetricsSink, 'onRenderCall' | 'onBudgetWait'>>;
  /** WorkerContext.onFinished: a deployment reached a terminal status. */
  deployFinished(status: string, durationMs: number): void;
  /** A job was picked up for the first time: how long it waited since it was enqueued. */
  jobWaited(seconds: number): void;
}

/**
 * Worker families. `instance` becomes a `worker` label on every series, so snapshots of several
 * workers merge on the web side without summing (a restarted worker is a new series, not a counter
 * that went down).
 */
export function createWorkerMetrics(opts: { instance: string }): WorkerMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ worker: opts.instance });
  const finished = new Counter({
    name: 'orchestrator_deploys_finished_total', help: 'Deployments that reached a final status in a worker, by outcome (live, build_failed, …).',
    labelNames: ['outcome'] as const, registers: [registry],
  });
  const duration = new Histogram({
    name: 'orchestrator_deploy_duration_seconds', help: 'Time from the deploy request to its final status, by outcome.',
    labelNames: ['outcome'] as const, buckets: SECONDS_DEPLOY, registers: [registry],
  });
  const waited = new Histogram({
    name: 'orchestrator_queue_wait_seconds', help: 'Time a deploy job waited in the queue before a worker first took it.',
    buckets: SECONDS_QUEUE, registers: [registry],
  });
  const render = renderFamilies(registry);
  return {
    registry,
    sink: { onRenderCall: render.onRenderCall, onBudgetWait: render.onBudgetWait },
    deployFinished(status, durationMs) {
      const outcome = nameLabel(status);
      finished.inc({ outcome });
      if (Number.isFinite(durationMs) && durationMs >= 0) duration.observe({ outcome }, durationMs / 1000);
    },
    jobWaited: (seconds) => { if (Number.isFinite(seconds) && seconds >= 0) waited.observe(seconds); },
  };
}

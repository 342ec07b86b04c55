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
/**
 * The event-loop lag histogram's timer (prom-client's default is 10 ms): each tick wakes an idle
 * process, ~9 ms of CPU a second with nothing to do (issue 17). Every stall of 100 ms or more still
 * shows; shorter ones are sampled.
 */
const EVENT_LOOP_SAMPLE_MS = 100;

/** Metric constructors bound to one registry: every family is registered there and nowhere else. */
function familiesIn(registry: Registry) {
  const registers = [registry];
  return {
    counter: <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) => new Counter<L>({ name, help, labelNames, registers }),
    gauge: <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) => new Gauge<L>({ name, help, labelNames, registers }),
    histogram: <L extends string = never>(name: string, help: string, buckets: number[], labelNames: readonly L[] = []) =>
      new Histogram<L>({ name, help, labelNames, buckets, registers }),
  };
}

/** Render calls and budget waits happen in both processes (web: key checks, lifecycle; worker: deploys). */
function renderFamilies(registry: Registry) {
  const f = familiesIn(registry);
  const calls = f.counter('orchestrator_render_api_requests_total', 'Render API requests by method, templated route and answer status (or network/timeout).', ['method', 'route', 'status']);
  const duration = f.histogram('orchestrator_render_api_request_duration_seconds', 'Render API request duration by method and templated route.', SECONDS_FAST, ['method', 'route']);
  const budgetWaits = f.counter('orchestrator_render_budget_waits_total', 'Times the shared per-key Render budget made a call wait (instead of drawing a 429), by bucket.', ['bucket']);
  const budgetWaitSeconds = f.counter('orchestrator_render_budget_wait_seconds_total', 'Waiting the Render budget asked for, in seconds, by bucket.', ['bucket']);
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
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  const f = familiesIn(registry);
  const http = f.histogram('orchestrator_http_request_duration_seconds', 'HTTP request duration (until the handler returned) by method, route template and status class.', SECONDS_FAST, ['method', 'route', 'status_class']);
  const keys = f.counter('orchestrator_render_key_validations_total', 'Render API key checks against Render by outcome: valid, invalid (Render refused it) or unavailable (Render did not answer).', ['outcome']);
  const security = f.counter('orchestrator_security_events_total', 'Security events raised (repeated invalid keys, failed logins, …) by kind.', ['kind']);
  const queueJobs = f.gauge('orchestrator_queue_jobs', 'Deploy queue jobs by state, read from BullMQ at scrape time (delayed = deploys waiting for their next check).', ['state']);
  const sseListeners = f.gauge('orchestrator_sse_listeners', 'Live update (SSE) listeners attached to this web process.');
  const workersReporting = f.gauge('orchestrator_workers_reporting', 'Worker processes whose metrics snapshot (pushed through Redis) is fresh and included here.');
  const anomalyRefused = f.counter('orchestrator_anomaly_refused_requests_total', 'Requests refused because the anomaly detector throttles (over the tighter limit) or blocks their user, by state.', ['state']);
  const anomalyGuarded = f.gauge('orchestrator_anomaly_guarded_users', 'Users the anomaly detector throttles or blocks right now, by state.', ['state']);
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
  const f = familiesIn(registry);
  const finished = f.counter('orchestrator_deploys_finished_total', 'Deployments that reached a final status in a worker, by outcome (live, build_failed, …).', ['outcome']);
  const duration = f.histogram('orchestrator_deploy_duration_seconds', 'Time from the deploy request to its final status, by outcome.', SECONDS_DEPLOY, ['outcome']);
  const waited = f.histogram('orchestrator_queue_wait_seconds', 'Time a deploy job waited in the queue before a worker first took it.', SECONDS_QUEUE);
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

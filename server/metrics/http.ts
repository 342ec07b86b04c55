import type Koa from 'koa';
import type { KeyValidationOutcome, WebMetrics } from './registry.js';
import { methodLabel, routeLabel, statusClass } from './labels.js';

const KEY_SETUP_ROUTE = '/api/render/setup';

/**
 * What a finished POST /api/render/setup says about the key check against Render. Requests that
 * never reached Render (bad format, no session, CSRF) are not key validations and return null.
 */
export function keyValidationOutcome(status: number, body: unknown): KeyValidationOutcome | null {
  if (status === 200) return 'valid';
  const code = (body as { error?: { code?: unknown } } | null)?.error?.code;
  if (code === 'render_key_invalid') return 'invalid';
  if (code === 'render_unavailable' || code === 'render_rate_limited') return 'unavailable';
  return null;
}

type RequestLabels = { method: string; route: string; status_class: string };

/**
 * One label object per series, reused: a request adds no allocation here (the series count is
 * bounded by the label sets in labels.ts: methods × route templates × status classes).
 */
const labelSets = new Map<string, Map<string, Map<string, RequestLabels>>>();
function labelsFor(method: string, route: string, statusClass: string): RequestLabels {
  let byMethod = labelSets.get(route);
  if (!byMethod) labelSets.set(route, (byMethod = new Map<string, Map<string, RequestLabels>>()));
  let byClass = byMethod.get(method);
  if (!byClass) byMethod.set(method, (byClass = new Map<string, RequestLabels>()));
  let labels = byClass.get(statusClass);
  if (!labels) byClass.set(statusClass, (labels = { method, route, status_class: statusClass }));
  return labels;
}

/**
 * Mounted first: times every request until its handler returned (for SSE that is when the stream
 * opened), labelled by method, the route template @koa/router matched, and status class.
 */
export function requestMetrics(metrics: WebMetrics): Koa.Middleware {
  return async (ctx, next) => {
    const started = performance.now();
    let failed = false;
    try {
      await next();
    } catch (err) {
      failed = true; // the error handler sits inside us; anything escaping it ends as a 500
      throw err;
    } finally {
      const status = failed ? 500 : ctx.status;
      const route = routeLabel((ctx as { _matchedRoute?: unknown })._matchedRoute);
      metrics.observeRequest(labelsFor(methodLabel(ctx.method), route, statusClass(status)), (performance.now() - started) / 1000);
      if (route === KEY_SETUP_ROUTE && ctx.method === 'POST') {
        const outcome = keyValidationOutcome(status, ctx.body);
        if (outcome) metrics.keyValidated(outcome);
      }
    }
  };
}

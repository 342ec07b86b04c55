// Label values come only from small fixed sets: never user ids, keys, service ids or names.
// Anything outside a set collapses to 'other', so a surprise value can't grow the series count.

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export function methodLabel(method: string): string {
  if (METHODS.has(method)) return method; // Node's parser gives methods in upper case: no new string
  const m = method.toUpperCase();
  return METHODS.has(m) ? m : 'OTHER';
}

const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'];

/** 2xx, 3xx, 4xx, 5xx. */
export function statusClass(status: number): string {
  return status >= 100 && status < 600 ? STATUS_CLASSES[Math.floor(status / 100) - 1]! : 'other';
}

/**
 * The route template @koa/router matched (`/api/render/deployments/:id`), never the raw path: a raw
 * path would carry ids. Requests no route matched share one label.
 */
export function routeLabel(matched: unknown): string {
  if (typeof matched === 'string' && matched.length <= 100) return matched;
  return matched instanceof RegExp ? 'regexp' : 'unmatched';
}

/** Short snake_case names only (security event kinds, deployment outcomes). */
export function nameLabel(value: string): string {
  return /^[a-z][a-z0-9_]{0,39}$/.test(value) ? value : 'other';
}

/** Render answers: the status code, or 'network' / 'timeout' when there was none. */
export function renderStatusLabel(status: number | 'network' | 'timeout'): string {
  if (status === 'network' || status === 'timeout') return status;
  return Number.isInteger(status) && status >= 100 && status < 600 ? String(status) : 'other';
}

/** Templated Render routes come from the spec ('/services/{serviceId}'); anything else is one label. */
export function renderRouteLabel(route: string): string {
  return /^\/[A-Za-z0-9/{}_-]{0,100}$/.test(route) ? route : 'other';
}

const BUCKETS = new Set(['createService', 'deploy', 'write', 'read', 'logs']);

/** Budget buckets are 'deploy:srv-…' for per-service ones: keep the bucket, drop the service id. */
export function budgetBucketLabel(bucket: string): string {
  const name = bucket.split(':')[0] ?? '';
  return BUCKETS.has(name) ? name : 'other';
}

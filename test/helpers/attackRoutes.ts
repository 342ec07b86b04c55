import type Router from '@koa/router';
import type { AttackRequest } from './attackHttp.js';

// The routes the app really mounts (walked from its router), what each route's params mean, and the
// request a catalogued route takes from a tenant. Part of the attack suites' kit (./attack.ts).

export interface RouteRef { method: string; path: string }

/** What a path parameter holds, so a suite can fill it with the right (or the wrong) kind of id. */
type ParamKind = 'deploymentId' | 'serviceId' | 'repoOwner' | 'repoName' | 'assetPath' | 'findingId' | 'envVarKey' | 'secretFileName' | 'customDomainId';

export interface RouteSpec extends RouteRef {
  /**
   * public: anyone; signin: the OAuth dance; user: needs a signed-in session (cookie or bearer token);
   * bearer: a bearer token only (a session cookie is refused); internal: private network only.
   */
  access: 'public' | 'signin' | 'user' | 'bearer' | 'internal';
  params?: Record<string, ParamKind>;
  /** read: validates a body; ignored: state-changing, takes no input beyond the path (a body past {} or a form's _csrf is refused: test/server/noBody.test.ts). */
  body?: 'read' | 'ignored';
  /** Query parameters the route reads. */
  query?: string[];
  /** Its 2xx answer repeats the query's values by design (name-check answers {name, available}): the caller's own input. */
  echoesQuery?: true;
  /** Answers with a long-lived stream (SSE). */
  stream?: boolean;
  /** Needs a Render key in the session (else 400 render_key_missing). */
  renderKey?: boolean;
  /** Every body field is optional: {} (or a form's _csrf alone) is a valid request, not a hostile one. */
  emptyBodyValid?: true;
  /** A body the route accepts for the given tenant ids. */
  validBody?(ids: TenantIds): unknown;
}

/** Ids of one tenant's resources, used to fill params (their own, or someone else's in a probe). */
export interface TenantIds {
  deploymentId: string;
  serviceId: string;
  deployId: string;
  repoOwner: string;
  repoName: string;
  ownerId: string;
  apiKey: string;
  /** A Sentinel finding of the tenant. */
  findingId: string;
  /** An env var, a secret file and a custom domain on the tenant's service (the settings page's resources). */
  envVarKey: string;
  secretFileName: string;
  customDomainId: string;
}

/**
 * Every route the suites know how to attack. A route the app mounts that is missing here fails
 * the suites (see uncatalogued): a new route is added to the attack surface consciously.
 */
export const ROUTE_CATALOG: RouteSpec[] = [
  { method: 'GET', path: '/healthz', access: 'public' },
  { method: 'GET', path: '/readyz', access: 'public' },
  { method: 'GET', path: '/metrics', access: 'internal' },
  { method: 'GET', path: '/', access: 'public' },
  { method: 'GET', path: '/index.html', access: 'public' },
  { method: 'GET', path: '/assets/{*path}', access: 'public', params: { path: 'assetPath' } },
  { method: 'GET', path: '/api/meta', access: 'public' },
  { method: 'GET', path: '/api/openapi.json', access: 'public' },
  { method: 'GET', path: '/api/auth/github/login', access: 'signin' },
  { method: 'GET', path: '/api/auth/github/callback', access: 'signin', query: ['code', 'state', 'error'] },
  { method: 'POST', path: '/api/auth/logout', access: 'user', body: 'ignored' },
  { method: 'GET', path: '/api/session', access: 'user' },
  { method: 'POST', path: '/api/render/setup', access: 'user', body: 'read', validBody: (ids) => ({ api_key: ids.apiKey }) },
  { method: 'GET', path: '/api/render/status', access: 'user' },
  { method: 'POST', path: '/api/render/clear-credentials', access: 'user', body: 'ignored' },
  { method: 'POST', path: '/api/render/workspaces/refresh', access: 'user', body: 'ignored', renderKey: true },
  {
    method: 'POST', path: '/api/render/deploy', access: 'user', body: 'read', renderKey: true,
    validBody: (ids) => ({ github_repo: `${ids.repoOwner}/${ids.repoName}`, project_name: `${ids.repoName}-again`, owner_id: ids.ownerId }),
  },
  { method: 'GET', path: '/api/render/my-deployments', access: 'user', query: ['limit', 'cursor'] },
  { method: 'GET', path: '/api/render/deployments/:id', access: 'user', params: { id: 'deploymentId' } },
  { method: 'POST', path: '/api/render/deployments/:id/cancel', access: 'user', params: { id: 'deploymentId' }, body: 'ignored' },
  { method: 'GET', path: '/api/render/deployments/:id/logs', access: 'user', params: { id: 'deploymentId' }, query: ['limit', 'cursor'], renderKey: true },
  { method: 'GET', path: '/api/render/deployments/:id/logs.txt', access: 'user', params: { id: 'deploymentId' }, renderKey: true },
  { method: 'GET', path: '/api/github/repos', access: 'user', query: ['page', 'per_page', 'q'] },
  { method: 'GET', path: '/api/github/repos/:owner/:repo/branches', access: 'user', params: { owner: 'repoOwner', repo: 'repoName' } },
  { method: 'GET', path: '/api/github/repos/:owner/:repo/detect', access: 'user', params: { owner: 'repoOwner', repo: 'repoName' }, query: ['branch'] },
  { method: 'GET', path: '/api/github/repos/:owner/:repo/blueprint', access: 'user', params: { owner: 'repoOwner', repo: 'repoName' }, query: ['branch', 'owner_id'], renderKey: true },
  { method: 'GET', path: '/api/render/services', access: 'user', renderKey: true },
  { method: 'GET', path: '/api/render/services/lookup', access: 'user', query: ['name'], renderKey: true },
  { method: 'GET', path: '/api/render/services/name-check', access: 'user', query: ['name', 'owner_id'], renderKey: true, echoesQuery: true },
  { method: 'POST', path: '/api/render/services/:id/redeploy', access: 'user', params: { id: 'serviceId' }, body: 'read', emptyBodyValid: true, renderKey: true, validBody: () => ({ commit_sha: 'a'.repeat(40) }) },
  {
    method: 'POST', path: '/api/render/services/:id/rollback', access: 'user', params: { id: 'serviceId' }, body: 'read', renderKey: true,
    validBody: (ids) => ({ deploy_id: ids.deployId }),
  },
  { method: 'POST', path: '/api/render/services/:id/suspend', access: 'user', params: { id: 'serviceId' }, body: 'ignored', renderKey: true },
  { method: 'POST', path: '/api/render/services/:id/resume', access: 'user', params: { id: 'serviceId' }, body: 'ignored', renderKey: true },
  { method: 'DELETE', path: '/api/render/services/:id', access: 'user', params: { id: 'serviceId' }, body: 'ignored', renderKey: true },
  // The service settings page (issue 15).
  { method: 'GET', path: '/api/render/services/:id/env-vars', access: 'user', params: { id: 'serviceId' }, renderKey: true },
  { method: 'GET', path: '/api/render/services/:id/env-vars/:key', access: 'user', params: { id: 'serviceId', key: 'envVarKey' }, renderKey: true },
  { method: 'PUT', path: '/api/render/services/:id/env-vars/:key', access: 'user', params: { id: 'serviceId', key: 'envVarKey' }, body: 'read', renderKey: true, validBody: () => ({ value: 'attack-suite-value' }) },
  { method: 'DELETE', path: '/api/render/services/:id/env-vars/:key', access: 'user', params: { id: 'serviceId', key: 'envVarKey' }, body: 'ignored', renderKey: true },
  { method: 'GET', path: '/api/render/services/:id/secret-files', access: 'user', params: { id: 'serviceId' }, renderKey: true },
  { method: 'GET', path: '/api/render/services/:id/secret-files/:name', access: 'user', params: { id: 'serviceId', name: 'secretFileName' }, renderKey: true },
  { method: 'PUT', path: '/api/render/services/:id/secret-files/:name', access: 'user', params: { id: 'serviceId', name: 'secretFileName' }, body: 'read', renderKey: true, validBody: () => ({ content: 'attack-suite-file' }) },
  { method: 'DELETE', path: '/api/render/services/:id/secret-files/:name', access: 'user', params: { id: 'serviceId', name: 'secretFileName' }, body: 'ignored', renderKey: true },
  { method: 'GET', path: '/api/render/services/:id/custom-domains', access: 'user', params: { id: 'serviceId' }, renderKey: true },
  { method: 'POST', path: '/api/render/services/:id/custom-domains', access: 'user', params: { id: 'serviceId' }, body: 'read', renderKey: true, validBody: (ids) => ({ name: `more-${ids.serviceId}.example.net` }) },
  { method: 'POST', path: '/api/render/services/:id/custom-domains/:domainId/verify', access: 'user', params: { id: 'serviceId', domainId: 'customDomainId' }, body: 'ignored', renderKey: true },
  { method: 'DELETE', path: '/api/render/services/:id/custom-domains/:domainId', access: 'user', params: { id: 'serviceId', domainId: 'customDomainId' }, body: 'ignored', renderKey: true },
  { method: 'GET', path: '/api/render/services/:id/settings', access: 'user', params: { id: 'serviceId' }, renderKey: true },
  { method: 'PATCH', path: '/api/render/services/:id/settings', access: 'user', params: { id: 'serviceId' }, body: 'read', renderKey: true, validBody: () => ({ auto_deploy: false }) },
  { method: 'GET', path: '/api/render/services/:id/deploys', access: 'user', params: { id: 'serviceId' }, query: ['limit', 'cursor'], renderKey: true },
  { method: 'POST', path: '/api/render/services/:id/deploys', access: 'user', params: { id: 'serviceId' }, body: 'read', renderKey: true, validBody: () => ({ clear_cache: true }) },
  { method: 'GET', path: '/api/events', access: 'user', stream: true, query: ['logs'] },
  { method: 'GET', path: '/api/audit', access: 'user', query: ['limit', 'cursor'] },
  { method: 'GET', path: '/api/sentinel', access: 'user' },
  { method: 'PUT', path: '/api/sentinel', access: 'user', body: 'read', renderKey: true, validBody: () => ({ enabled: true, intervalSeconds: 60 }) },
  { method: 'POST', path: '/api/sentinel/test-alert', access: 'user', body: 'read', renderKey: true, validBody: () => ({ slackWebhookUrl: 'https://hooks.slack.com/services/T0000/B0000/attacksuite0000' }) },
  { method: 'GET', path: '/api/sentinel/findings', access: 'user', query: ['limit'] },
  { method: 'GET', path: '/api/sentinel/findings/:id', access: 'user', params: { id: 'findingId' } },
  // A cookie caller is refused before the body matters; the MCP arguments are fuzzed in test/bearer/mcp.test.ts.
  { method: 'POST', path: '/mcp', access: 'bearer', body: 'ignored' },
  { method: 'GET', path: '/mcp', access: 'bearer' },
];

const routeKey = (r: RouteRef) => `${r.method} ${r.path}`;

interface LayerLike { methods: string[]; path: string | RegExp }

/** The routes a router serves, one per method (HEAD is implied by GET), in mounting order. */
export function discoverRoutes(router: Router): RouteRef[] {
  const out: RouteRef[] = [];
  for (const layer of (router as unknown as { stack: LayerLike[] }).stack) {
    if (layer.methods.length === 0) continue; // router.use() middleware, not a route
    if (typeof layer.path !== 'string') throw new Error(`a route with a RegExp path cannot be attacked by name: ${String(layer.path)}`);
    for (const method of layer.methods) if (method !== 'HEAD') out.push({ method, path: layer.path });
  }
  return out;
}

/** Discovered routes the catalogue does not describe (the suites fail on any). */
export function uncatalogued(routes: RouteRef[]): string[] {
  const known = new Set(ROUTE_CATALOG.map(routeKey));
  return routes.map(routeKey).filter((k) => !known.has(k));
}

/** The catalogue entries for the discovered routes (throws on an unknown one). */
export function specsFor(routes: RouteRef[]): RouteSpec[] {
  return routes.map((r) => {
    const spec = ROUTE_CATALOG.find((s) => routeKey(s) === routeKey(r));
    if (!spec) throw new Error(`route ${routeKey(r)} is not in ROUTE_CATALOG (test/helpers/attackRoutes.ts): describe its params there`);
    return spec;
  });
}

/** The path with each param replaced by the value for its kind (values are inserted as given: encode them first). */
export function fillPath(spec: RouteSpec, byKind: Partial<Record<ParamKind, string>>): string {
  return spec.path.replace(/:(\w+)|\{\*(\w+)\}/g, (_, a?: string, b?: string) => {
    const name = (a ?? b)!;
    const kind = spec.params?.[name];
    const value = kind ? byKind[kind] : undefined;
    if (value === undefined) throw new Error(`no value for :${name} (${kind ?? 'uncatalogued param'}) in ${spec.path}`);
    return value;
  });
}

/** The same ids with every value URL-encoded for use as a path segment. */
export function encodeIds(ids: Partial<TenantIds>): Partial<Record<ParamKind, string>> {
  const out: Partial<Record<ParamKind, string>> = {};
  for (const k of ['deploymentId', 'serviceId', 'repoOwner', 'repoName', 'findingId', 'envVarKey', 'secretFileName', 'customDomainId'] as const) if (ids[k] !== undefined) out[k] = encodeURIComponent(ids[k]);
  out.assetPath = 'app.js';
  return out;
}

/** The request a catalogued route takes from a tenant: path with their ids, the valid body when there is one. */
export function requestFor(spec: RouteSpec, ids: TenantIds): AttackRequest {
  const body = spec.validBody?.(ids);
  return { method: spec.method, path: fillPath(spec, encodeIds(ids)), stream: spec.stream, ...(body === undefined ? (spec.method === 'GET' ? {} : { json: {} }) : { json: body }) };
}

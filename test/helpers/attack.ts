import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type Router from '@koa/router';
import fc from 'fast-check';
import type { Stack } from './stack.js';
import type { Agent } from './agent.js';
import { assertConforms } from './apiContract.js';
import { createRenderClient, type RenderClient } from '../../server/render/client.js';
import { createSentinelStore, findingId } from '../../server/sentinel/store.js';

// Shared pieces of the proof-by-attack suites (test/security/attack-*.test.ts): the routes the app
// really mounts (walked from its router), what each route's params mean, raw HTTP that is sent
// byte for byte (fetch would normalise "../" away), tenants, state snapshots and hostile inputs.

/** Every attack request and every tenant agent sends this user agent: sessions are bound to it at sign-in. */
export const ATTACK_UA = 'attack-suite/1.0';

// ---------------------------------------------------------------------------------------------
// Route discovery and the catalogue

export interface RouteRef { method: string; path: string }

/** What a path parameter holds, so a suite can fill it with the right (or the wrong) kind of id. */
export type ParamKind = 'deploymentId' | 'serviceId' | 'repoOwner' | 'repoName' | 'assetPath' | 'findingId' | 'envVarKey' | 'secretFileName' | 'customDomainId';

export interface RouteSpec extends RouteRef {
  /**
   * public: anyone; signin: the OAuth dance; user: needs a signed-in session (cookie or bearer token);
   * bearer: a bearer token only (a session cookie is refused); internal: private network only.
   */
  access: 'public' | 'signin' | 'user' | 'bearer' | 'internal';
  params?: Record<string, ParamKind>;
  /** read: validates a body; ignored: state-changing but takes no input beyond the path. */
  body?: 'read' | 'ignored';
  /** Query parameters the route reads. */
  query?: string[];
  /** Answers with a long-lived stream (SSE). */
  stream?: boolean;
  /** Needs a Render key in the session (else 400 render_key_missing). */
  renderKey?: boolean;
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
  { method: 'GET', path: '/api/render/services/name-check', access: 'user', query: ['name', 'owner_id'], renderKey: true },
  { method: 'POST', path: '/api/render/services/:id/redeploy', access: 'user', params: { id: 'serviceId' }, body: 'ignored', renderKey: true },
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
    if (!spec) throw new Error(`route ${routeKey(r)} is not in ROUTE_CATALOG (test/helpers/attack.ts): describe its params there`);
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

// ---------------------------------------------------------------------------------------------
// Raw HTTP

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: any;
}

export interface AttackRequest {
  method: string;
  /** Sent exactly as given (no normalisation): may hold "..", "%00", raw quotes. */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Serialised as JSON with content-type application/json. */
  json?: unknown;
  /** 'session' (default for non-GET): the tenant's token; 'none'; or this exact value. */
  csrf?: string;
  /** Resolve once the status line arrived and drop the connection (SSE). */
  stream?: boolean;
}

/** Who sends a request: a tenant (their cookie and CSRF token) or nobody. */
export interface Caller { agent: Agent }

/** One request over a fresh connection, recorded in `transcript` (status, headers, body) for secret scans. */
export function send(baseUrl: string, as: Caller | null, req: AttackRequest, transcript?: string[]): Promise<RawResponse> {
  const url = new URL(baseUrl);
  const headers: Record<string, string> = { 'user-agent': ATTACK_UA, ...req.headers };
  if (as && as.agent.jar.size && !('cookie' in headers)) headers.cookie = as.agent.cookieHeader();
  const csrf = req.csrf ?? (req.method === 'GET' ? 'none' : 'session');
  if (csrf === 'session' && as?.agent.csrfToken) headers['x-csrf-token'] = as.agent.csrfToken;
  else if (csrf !== 'none' && csrf !== 'session') headers['x-csrf-token'] = csrf;
  let body = req.body;
  if (req.json !== undefined) { body = JSON.stringify(req.json); headers['content-type'] ??= 'application/json'; }
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  return new Promise((resolve, reject) => {
    const answered = false;
    const r = httpRequest({ host: url.hostname, port: url.port, method: req.method, path: req.path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try { json = text ? JSON.parse(text) : undefined; } catch { /* not JSON */ }
        transcript?.push(`${req.method} ${req.path} -> ${res.statusCode}\n${Object.entries(res.headers).map(([k, v]) => `${k}: ${String(v)}`).join('\n')}\n${text}`);
        // Hostile input too gets answers the document describes (a streamed answer: its content type only).
        try {
          assertConforms(`${url.origin}${req.path.startsWith('/') ? req.path : '/'}`, { method: req.method, status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text });
        } catch (err) { reject(err instanceof Error ? err : new Error(String(err))); return; }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      };
      if (req.stream) {
        res.once('data', (c: Buffer) => { chunks.push(c); res.destroy(); finish(); });
        res.once('end', finish);
        return;
      }
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', finish);
      res.on('error', reject);
    });
    // A server may answer (413) and close before a large body is fully written: the answer counts.
    r.on('error', (err) => { if (!answered) reject(err); });
    if (body !== undefined) r.end(body); else r.end();
  });
}

// ---------------------------------------------------------------------------------------------
// Tenants

export interface Tenant extends Caller {
  login: string;
  userId: number;
  apiKey: string;
  accountId: string;
  ownerId: string;
  /** The tenant's own Render client straight to the simulator (to create services as a user would on Render). */
  render: RenderClient;
}

/** Signs `login` in (agent with ATTACK_UA) and connects a fresh Render key. */
export async function tenantWithKey(stack: Stack, login: string): Promise<Tenant> {
  const apiKey = `rnd_${login.replace(/[^A-Za-z0-9]/g, '')}${'Q'.repeat(24)}`;
  const account = stack.render.addAccount({ apiKey, workspaces: [{ name: `${login} workspace` }] });
  const agent = stack.agent({ 'user-agent': ATTACK_UA });
  await stack.signIn(agent, login);
  const res = await agent.post('/api/render/setup', { api_key: apiKey });
  if (res.status !== 200) throw new Error(`key setup for ${login}: ${res.status} ${res.text}`);
  const session = await agent.get('/api/session');
  return {
    login, agent, apiKey, accountId: account.id, ownerId: res.json.owners[0].id, userId: session.json.user.id,
    render: createRenderClient({ baseUrl: stack.render.url, apiKey }),
  };
}

/** A service in the tenant's Render workspace (created on "Render", as the user might have done) and its live deploy. */
export async function serviceWithLiveDeploy(tn: Tenant, name: string): Promise<{ serviceId: string; deployId: string }> {
  const { service } = await tn.render.createService({
    type: 'web_service', name, ownerId: tn.ownerId, repo: `https://github.com/${tn.login}/${name}`, branch: 'main', autoDeploy: 'yes',
    serviceDetails: { runtime: 'node', plan: 'starter', region: 'oregon', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'npm start' } },
  });
  if (!service) throw new Error('createService: no service');
  for (let i = 0; i < 300; i++) {
    const live = (await tn.render.listDeploys(service.id)).find((d) => d.status === 'live');
    if (live) return { serviceId: service.id, deployId: live.id };
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no deploy of ${name} went live`);
}

/** A private Node repo of the tenant in the GitHub simulator. */
export function addPrivateRepo(stack: Stack, owner: string, name: string) {
  stack.github.addRepo({
    owner, name, private: true,
    branches: { main: { 'package.json': JSON.stringify({ name, scripts: { start: 'node index.js' } }), 'package-lock.json': '{}', 'index.js': '' } },
  });
}

/**
 * A tenant with something to attack: a private repo, a Render service with a live deploy, and a
 * deployment record (queued unless a worker runs). Returns the tenant's ids.
 */
export async function withResources(stack: Stack, tn: Tenant, name = `${tn.login}-app`): Promise<TenantIds> {
  addPrivateRepo(stack, tn.login, name);
  const svc = await serviceWithLiveDeploy(tn, `${name}-web`);
  const dep = await tn.agent.post('/api/render/deploy', { github_repo: `${tn.login}/${name}`, project_name: name });
  if (dep.status !== 202) throw new Error(`deploy for ${tn.login}: ${dep.status} ${dep.text}`);
  const findingId = await plantFinding(stack, tn.userId, svc.serviceId);
  return { deploymentId: dep.json.id, ...svc, repoOwner: tn.login, repoName: name, ownerId: tn.ownerId, apiKey: tn.apiKey, findingId, ...await plantSettings(tn, svc.serviceId) };
}

/** An env var, a secret file and a custom domain on the tenant's service, set on "Render" as the user might have. */
export async function plantSettings(tn: Pick<Tenant, 'render'>, serviceId: string): Promise<Pick<TenantIds, 'envVarKey' | 'secretFileName' | 'customDomainId'>> {
  await tn.render.putEnvVar(serviceId, 'ATTACK_SUITE_KEY', 'attack-suite-env-value');
  await tn.render.putSecretFile(serviceId, 'attack-suite.pem', 'attack-suite-file-content');
  const [domain] = await tn.render.addCustomDomain(serviceId, `${serviceId}.example.org`);
  return { envVarKey: 'ATTACK_SUITE_KEY', secretFileName: 'attack-suite.pem', customDomainId: domain!.id };
}

/** A Sentinel finding in the tenant's store (what a watch round would have written), so its id can be probed. */
export async function plantFinding(stack: Stack, userId: number, serviceId: string): Promise<string> {
  const { deps } = stack.web;
  const store = createSentinelStore({ redis: deps.redis, prefix: deps.config.redisPrefix, keyring: deps.keyring, absoluteMs: deps.config.sessionAbsoluteMs });
  const at = new Date().toISOString();
  const id = findingId(String(userId), 'attack-suite', serviceId);
  await store.upsert(userId, { id, kind: 'service_event', rule: 'server_failed', severity: 'high', title: 'Instance failed', ownerId: null, serviceId, count: 1, firstAt: at, lastAt: at }, false);
  return id;
}

/** The request a catalogued route takes from a tenant: path with their ids, the valid body when there is one. */
export function requestFor(spec: RouteSpec, ids: TenantIds): AttackRequest {
  const body = spec.validBody?.(ids);
  return { method: spec.method, path: fillPath(spec, encodeIds(ids)), stream: spec.stream, ...(body === undefined ? (spec.method === 'GET' ? {} : { json: {} }) : { json: body }) };
}

// ---------------------------------------------------------------------------------------------
// State snapshots ("nothing changed")

/** Key families that legitimately change on any request (rate limits, Render budget, audit, alerts, caches, metrics, request telemetry). */
const VOLATILE = /:(rl|budget|audit|alert|svc-cache|metrics|tel):/;

/** Every Redis key except the volatile families, sorted. */
export async function durableRedisKeys(stack: Stack): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await stack.redis.client.scan(cursor, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch.filter((k) => !VOLATILE.test(k)));
  } while (cursor !== '0');
  return keys.sort();
}

/** What a tenant can see of their own state: session, deployment records, and their Render services. */
export async function tenantState(stack: Stack, tn: Tenant) {
  const session = await tn.agent.get('/api/session');
  const mine = await tn.agent.get('/api/render/my-deployments?limit=100');
  const services = await tn.render.listServices({ ownerId: [tn.ownerId] });
  const deploys = await Promise.all(services.map(async (s) => (await tn.render.listDeploys(s.id)).length));
  return {
    session: { status: session.status, body: session.json },
    deployments: mine.status === 200 ? mine.json.deployments.map((d: { id: string; status: string }) => `${d.id}:${d.status}`) : mine.status,
    services: services.map((s, i) => `${s.id}:${s.suspended}:${deploys[i]}`).sort(),
    renderCallsWithKey: stack.render.calls.filter((c) => c.accountId === tn.accountId && c.method !== 'GET').length,
  };
}

/** Snapshot of every tenant's state plus the durable Redis key set. */
export async function snapshot(stack: Stack, tenants: Tenant[]) {
  const states: Record<string, unknown> = {};
  for (const tn of tenants) states[tn.login] = await tenantState(stack, tn);
  return { tenants: states, redisKeys: await durableRedisKeys(stack) };
}

// ---------------------------------------------------------------------------------------------
// Response invariants

/** Why a response breaks the contract for hostile input, or null: no 5xx, JSON {error:{code,message}} for /api 4xx. */
export function contractViolation(path: string, res: RawResponse): string | null {
  if (res.status >= 500) return `${res.status} ${res.text.slice(0, 300)}`;
  if (res.status < 100) return `no answer (${res.status})`;
  const onApi = path.startsWith('/api/');
  if (onApi && res.status >= 400) {
    const err = res.json?.error;
    if (!String(res.headers['content-type'] ?? '').startsWith('application/json')) return `${res.status} without a JSON body: ${res.headers['content-type']}`;
    if (!err || typeof err.code !== 'string' || typeof err.message !== 'string' || !err.code || !err.message) return `${res.status} body is not {error:{code,message}}: ${res.text.slice(0, 300)}`;
  }
  return null;
}

/** Log lines the error middleware writes for an unexpected exception. */
export function unhandledErrors(logs: string[]): string[] {
  return logs.filter((l) => l.includes('unhandled error'));
}

// ---------------------------------------------------------------------------------------------
// Hostile inputs (fast-check arbitraries)

const ALNUM20 = fc.string({ unit: fc.constantFrom(...'0123456789abcdefghijklmnopqrstuvwxyz'), minLength: 20, maxLength: 20 });
const pct = (code: number) => `%${code.toString(16).padStart(2, '0').toUpperCase()}`;

/** Path-segment values that are sent raw (already encoded where needed): traversal, NUL, bad escapes, lookalikes. */
export function hostileSegment(foreign: string[] = []): fc.Arbitrary<string> {
  const arbs: Array<fc.Arbitrary<string>> = [
    fc.constantFrom('..', '.', '../..', '..%2F..%2F..%2Fetc%2Fpasswd', '%2e%2e', '%2e%2e%2f%2e%2e', '..%5c..%5c', '%00', 'a%00b', '%',
      '%zz', '%E0%A4%A', '%C0%AE%C0%AE', '%ff%fe', '%uD800', '%ED%A0%80', '*', '~root', '"', "'", '<script>', '%3Cscript%3E', '$%7Bjndi%7D',
      'null', 'undefined', 'NaN', '-1', '0', '1e999', '__proto__', 'constructor', 'prototype', 'hasOwnProperty', '%20', '+', ';', ',', '@',
      '%0d%0aSet-Cookie:%20x=1', 'index.html', 'app.js%00.png', '.env', '..%00/'),
    fc.integer({ min: 0, max: 31 }).map((c) => `x${pct(c)}y`),
    fc.string({ unit: 'grapheme', maxLength: 30 }).map((s) => encodeURIComponent(s)),
    fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 30 }).map((s) => encodeURIComponent(s)),
    fc.integer({ min: 257, max: 6_000 }).map((n) => 'a'.repeat(n)),
    fc.integer({ min: 100, max: 1_500 }).map((n) => '%41'.repeat(n)),
    fc.tuple(fc.constantFrom('srv-', 'dpl-', 'dep-', 'crn-', 'tea-', 'usr-', 'SRV-', 'DPL-', 'srv_', 'dpl_'), ALNUM20).map(([p, s]) => p + s),
    fc.tuple(fc.constantFrom('srv-', 'dpl-', 'dep-'), ALNUM20, fc.constantFrom('a', '%00', '%0a', '%2F..', '.json', '%20', '/', '?x=1', '#frag')).map(([p, s, tail]) => p + s + tail),
    fc.tuple(fc.constantFrom('srv-', 'dpl-', 'dep-'), fc.integer({ min: 0, max: 40 })).map(([p, n]) => p + 'a'.repeat(n)),
  ];
  if (foreign.length) {
    arbs.push(fc.constantFrom(...foreign));
    arbs.push(fc.tuple(fc.constantFrom(...foreign), fc.constantFrom('%00', '/', '%2F', '%20', '..', 'x')).map(([id, tail]) => encodeURIComponent(id) + tail));
    arbs.push(fc.constantFrom(...foreign).map((id) => encodeURIComponent(id.toUpperCase())));
  }
  return fc.oneof(...arbs);
}

/** Scalar values for query strings and JSON fields: huge and odd numbers, unicode, control chars, long strings. */
export function hostileScalar(foreign: string[] = []): fc.Arbitrary<string> {
  const arbs: Array<fc.Arbitrary<string>> = [
    fc.constantFrom('', ' ', '0', '-1', '-0', '1.5', '1e400', '-1e400', 'NaN', 'Infinity', '99999999999999999999999999', '0x10', '0b11', ' 5 ',
      '5abc', 'true', 'null', '[]', '{}', '__proto__', 'constructor', '../..', '\u0000', '\u202e', '\ufeff', '\ud800', '\u2028', 'A'.repeat(300),
      '1_dpl-00000000000000000000', '99999999999999999999_dpl-00000000000000000000', '-5_dpl-x', '1'.repeat(13), 'rnd_', 'ghp_'),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.integer({ min: 0, max: 31 }).map((c) => `a${String.fromCharCode(c)}b`),
    fc.double().map(String),
    fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }).map(String),
    fc.integer({ min: 500, max: 3_000 }).map((n) => 'z'.repeat(n)),
  ];
  if (foreign.length) {
    arbs.push(fc.constantFrom(...foreign));
    arbs.push(fc.tuple(fc.integer({ min: 0, max: 2 ** 45 }), fc.constantFrom(...foreign)).map(([n, id]) => `${n}_${id}`));
  }
  return fc.oneof(...arbs);
}

/** URL encoding that never throws on lone surrogates (they are sent as U+FFFD bytes). */
export function encodeQueryValue(s: string): string {
  // Lone surrogates become U+FFFD (what String.prototype.toWellFormed does).
  return encodeURIComponent(s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'));
}

/** A hostile query string (without "?"): known and prototype keys, repeated keys, hostile values, some raw bytes. */
export function hostileQuery(known: string[] = [], foreign: string[] = []): fc.Arbitrary<string> {
  const key = fc.oneof(
    fc.constantFrom(...(known.length ? known : ['q']), '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype', '_csrf', 'limit[]', 'a[b][c]', 'cursor[__proto__]'),
    fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 12 }),
  );
  const pair = fc.tuple(key, hostileScalar(foreign), fc.boolean()).map(([k, v, raw]) => {
    // Some values go raw: a lone "%" or "%zz" must not break parsing.
    const value = raw && /^[\x21-\x7e]*$/.test(v) && !v.includes('#') ? v.replaceAll('&', '%26') : encodeQueryValue(v);
    return `${encodeQueryValue(k)}=${value}`;
  });
  return fc.array(pair, { minLength: 1, maxLength: 6 }).map((pairs) => pairs.join('&').slice(0, 7_000));
}

/** JSON text that must be refused by the body parser: not JSON at all, truncated, trailing garbage, or bad escapes. */
export function malformedJson(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom('{', '}', '{"a":', '{"a":1', '{"a":1}}', '{"a":1}garbage', "{'a':1}", '{a:1}', '{"a":01}', '{"a":1,}', '[1,]', '{"a":"\\x00"}',
      '{"a":"\\ud800', '\u0000{}', '{"a":NaN}', '{"a":Infinity}', '{"a":undefined}', '<xml/>', '--', '{"__proto__":', 'nul', 'tru', '{"a":"\n"}'),
    fc.string({ minLength: 1, maxLength: 200 }),
  ).filter((s) => {
    if (!s.trim()) return false;
    try { JSON.parse(s); return false; } catch { return true; }
  });
}

/** Valid JSON that is hostile: prototype keys, deep nesting, unicode and control chars, huge numbers, wrong types. */
export function hostileJsonText(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(
      '{"__proto__":{"isAdmin":true,"api_key":"rnd_pollutedpolluted"}}',
      '{"constructor":{"prototype":{"polluted":"yes"}}}',
      '{"__proto__":null}', '{"toString":1,"valueOf":2,"hasOwnProperty":3}',
      '{"a":1e999,"b":-1e999,"c":123456789012345678901234567890,"d":-0,"e":5e-324}',
      '[]', '[{}]', '{}', '{"":""}', '{"\\u0000":"\\u0000"}', '{"a":"\\ud800\\udfff\\ud800"}', '{"\\u202e":"\\u2028\\u2029"}',
    ),
    fc.integer({ min: 200, max: 20_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
    fc.integer({ min: 200, max: 10_000 }).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)),
    fc.integer({ min: 100, max: 5_000 }).map((n) => `{${Array.from({ length: n }, (_, i) => `"k${i}":${i}`).join(',')}}`),
    fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
    fc.dictionary(fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', '_csrf'), fc.string({ maxLength: 10 })), fc.jsonValue({ maxDepth: 2 }))
      .map((d) => JSON.stringify(d)),
  );
}

/** A body just over, or well over, the 64 KB limit (valid JSON, so only its size is wrong). */
export function oversizedJson(limitBytes = 64 * 1024): fc.Arbitrary<string> {
  return fc.oneof(
    fc.integer({ min: 1, max: 64 }),
    fc.integer({ min: 1_000, max: 1_000_000 }),
  ).map((over) => {
    const total = limitBytes + over;
    return `{"pad":"${'x'.repeat(total - 10)}"}`;
  });
}

/** Content types the body parser does not read at all: a body sent with them is as good as none. */
export const FOREIGN_CONTENT_TYPES = [
  'text/plain', 'text/html', 'application/xml', 'text/xml', 'multipart/form-data; boundary=xyz', 'application/octet-stream',
  'application/javascript', 'image/png', '*/*', 'application/jsonp', 'application/json-patch+jsonx', 'text/json-not',
] as const;

/** JSON or form content types with a charset or shape a client should not send (read leniently or refused, never a 5xx). */
export const ODD_CONTENT_TYPES = [
  'application/json; charset=utf-16', 'application/json; charset=ebcdic-cp-us', 'application/json; charset=x-unknown', 'application/json; charset=',
  'application/json; charset=utf-7', 'application/json, text/plain', 'application/json;;;', 'APPLICATION/JSON', 'application/vnd.api+json',
  'application/x-www-form-urlencoded; charset=utf-7', 'application/x-www-form-urlencoded; charset=iso-8859-1',
] as const;

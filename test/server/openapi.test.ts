import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Router from '@koa/router';
import { OpenAPIBackend } from 'openapi-backend';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { startStack, type Stack } from '../helpers/stack.js';
import { discoverRoutes, ROUTE_CATALOG, send, type RouteRef } from '../helpers/attack.js';
import { documented } from '../../server/openapi/describe.js';
import { MetaView } from '../../server/presenters/meta.js';
import { compileContract } from '../helpers/apiContract.js';
import { openApiPath } from '../../server/openapi/document.js';
import { errorCatalogue } from '../../server/openapi/errorCodes.js';

// Issue 13 part 2: GET /api/openapi.json describes every route the app mounts (walked from its router,
// so a new route cannot be left out), with both security schemes and every error code. That every
// response the suites see matches it is checked by the shared helpers (test/helpers/apiContract.ts).

const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => Ajv2020;

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, { operationId: string; summary: string; security: Array<Record<string, string[]>>; parameters: Array<{ name: string; in: string; required?: boolean }>; responses: Record<string, unknown>; requestBody?: unknown; 'x-undocumented'?: boolean }>>;
  components: { securitySchemes: Record<string, { type: string; in?: string; name?: string; scheme?: string }>; schemas: Record<string, { enum?: string[] }>; responses: Record<string, unknown> };
};

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let stack: Stack;
let router: Router;
let doc: Doc;
test.before(async () => {
  stack = await startStack({
    appOptions: {
      onRouter: (r) => { router = r; },
      // A route whose answer drifted from its declaration (a presenter that grew a field): the shared agent must refuse it.
      routes: [(r) => r.get('/api/test/drifted', documented({ summary: 'drifted on purpose', responses: { 200: MetaView } }), (ctx) => {
        ctx.body = { sandbox: false, demo: null, renderApiKey: 'rnd_notwhitelisted' };
      })],
    },
  });
  const res = await stack.agent().get('/api/openapi.json');
  if (res.status !== 200) throw new Error(`openapi.json: ${res.status}`);
  doc = res.json as Doc;
});
test.after.always(async () => { await stack?.close(); });

const key = (r: RouteRef) => `${r.method} ${r.path}`;

test('the document is OpenAPI 3.1 that a standard tool routes by, public and never cached', async (t) => {
  t.is(doc.openapi, '3.1.0');
  const res = await fetch(`${stack.url}/api/openapi.json`);
  t.is(res.status, 200);
  t.regex(res.headers.get('content-type') ?? '', /^application\/json/);
  t.is(res.headers.get('cache-control'), 'no-store');
  // openapi-backend has only the 3.0 meta-schema (strict mode would judge 3.1's JSON Schema by it), so it loads
  // the document unvalidated; it must still route by it, and ajv (2020-12) must compile every component.
  const api = new OpenAPIBackend({ definition: structuredClone(doc) as unknown as ConstructorParameters<typeof OpenAPIBackend>[0]['definition'], strict: false, quick: true, validate: false });
  await api.init();
  t.is(api.matchOperation({ method: 'get', path: '/api/render/deployments/dpl_x', headers: {} })?.operationId, doc.paths['/api/render/deployments/{id}']!.get!.operationId);
  t.is(api.matchOperation({ method: 'post', path: '/api/render/services/srv-x/rollback', headers: {} })?.operationId, doc.paths['/api/render/services/{id}/rollback']!.post!.operationId);
  const ids = Object.values(doc.paths).flatMap((m) => Object.values(m).map((op) => op.operationId));
  t.is(new Set(ids).size, ids.length, 'operationIds are unique');
  const ajv = new Ajv2020({ strict: false });
  addFormats(ajv);
  t.notThrows(() => ajv.compile({ $defs: JSON.parse(JSON.stringify(doc.components.schemas).replaceAll('#/components/schemas/', '#/$defs/')) }));
});

test('every route the router serves is in the document with its method and path params, and nothing else is', (t) => {
  const routes = discoverRoutes(router);
  t.true(routes.length > 30);
  // Listed all at once, so a rebase that brings several new routes shows every one to describe.
  t.deepEqual(routes.filter((r) => !doc.paths[openApiPath(r.path)]?.[r.method.toLowerCase()]).map(key), [], 'routes missing from the document');
  t.deepEqual(routes.filter((r) => doc.paths[openApiPath(r.path)]?.[r.method.toLowerCase()]?.['x-undocumented']).map(key), [],
    'routes without documented({...}) in their chain (server/openapi/describe.ts)');
  for (const r of routes) {
    const op = doc.paths[openApiPath(r.path)]?.[r.method.toLowerCase()];
    if (!op) continue;
    t.truthy(op.summary, key(r));
    const inPath = [...openApiPath(r.path).matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    const declared = op.parameters.filter((p) => p.in === 'path');
    t.deepEqual(declared.map((p) => p.name), inPath, `${key(r)}: path params`);
    t.true(declared.every((p) => p.required), `${key(r)}: path params are required`);
    // The attack catalogue's idea of the params (what they hold) names the same ones.
    const spec = ROUTE_CATALOG.find((s) => key(s) === key(r));
    if (spec) t.deepEqual(Object.keys(spec.params ?? {}).sort(), [...inPath].sort(), `${key(r)}: ROUTE_CATALOG params`);
    const successes = Object.keys(op.responses).filter((s) => /^[23]/.test(s));
    // GET /mcp only ever refuses (405: the MCP server offers no stream); every other route says what it answers.
    if (key(r) !== 'GET /mcp') t.true(successes.length > 0, `${key(r)} declares what it answers`);
  }
  const served = new Set(routes.map((r) => `${r.method.toLowerCase()} ${openApiPath(r.path)}`));
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const method of Object.keys(methods)) t.true(served.has(`${method} ${path}`), `${method} ${path} is documented but not served`);
  }
});

test('both security schemes: cookie (+ CSRF header on writes) or a GitHub bearer token; public routes need neither', (t) => {
  const schemes = doc.components.securitySchemes;
  t.like(schemes.sessionCookie, { type: 'apiKey', in: 'cookie', name: 'sid' });
  t.like(schemes.csrfHeader, { type: 'apiKey', in: 'header', name: 'X-CSRF-Token' });
  t.like(schemes.githubBearer, { type: 'http', scheme: 'bearer' });
  t.like(schemes.renderKeyHeader, { type: 'apiKey', in: 'header', name: 'X-Render-Api-Key' });
  const deploy = doc.paths['/api/render/deploy']!.post!;
  // A route that needs a Render key also takes one per request, beside the bearer token.
  t.deepEqual(deploy.security, [{ sessionCookie: [], csrfHeader: [] }, { githubBearer: [] }, { githubBearer: [], renderKeyHeader: [] }]);
  t.deepEqual(doc.paths['/api/render/deployments/{id}']!.get!.security, [{ sessionCookie: [] }, { githubBearer: [] }]);
  t.deepEqual(doc.paths['/healthz']!.get!.security, []);
  t.deepEqual(doc.paths['/api/openapi.json']!.get!.security, []);
  t.deepEqual(doc.paths['/mcp']!.post!.security, [{ githubBearer: [] }], '/mcp takes a bearer token only');
  // Every state-changing /api route behind sign-in asks for the CSRF header with the cookie.
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      if (method === 'get' || !path.startsWith('/api/') || op.security.length === 0) continue;
      t.deepEqual(op.security[0], { sessionCookie: [], csrfHeader: [] }, `${method} ${path}`);
    }
  }
});

test('every error code the factories make is listed with its status; each status has its own response', (t) => {
  const catalogue = errorCatalogue();
  const codes = doc.components.schemas.ErrorCode!.enum!;
  t.deepEqual([...codes].sort(), catalogue.map((e) => e.code).sort());
  for (const code of ['unauthenticated', 'csrf_failed', 'validation_failed', 'render_key_missing', 'rate_limited', 'locked_out', 'deployment_finished', 'deploy_not_rollbackable', 'stack_not_detected', 'internal_error']) {
    t.true(codes.includes(code), code);
  }
  for (const status of new Set(catalogue.map((e) => e.status))) t.truthy(doc.components.responses[`Error${status}`], `Error${status}`);
  // Each example is a message a client could be sent: none empty, none holding an argument the catalogue left out.
  for (const e of catalogue) t.regex(e.example, /^(?!.*\b(undefined|NaN|null)\b).{10,}$/s, e.code);
  // The chain implies the errors: a validated body → 400, sign-in → 401, a rate limit → 429.
  t.truthy(doc.paths['/api/render/deploy']!.post!.responses['400']);
  t.truthy(doc.paths['/api/render/deploy']!.post!.responses['401']);
  t.truthy(doc.paths['/api/render/deploy']!.post!.responses['429']);
  t.truthy(doc.paths['/api/render/deploy']!.post!.responses['409']);
});

test('every error is made by a factory in server/errors.ts, so the document cannot miss a code', (t) => {
  // One exception: the error middleware's mapping of koa's own HTTP errors (codes not_found / bad_request, both listed).
  const allowed = new Set(['server/errors.ts', 'server/middleware/errorHandler.ts']);
  const offenders: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else if (rel.endsWith('.ts') && !allowed.has(rel) && readFileSync(join(ROOT, rel), 'utf8').includes('new AppError(')) offenders.push(rel);
    }
  };
  for (const dir of ['server', 'workers']) walk(dir);
  t.deepEqual(offenders, [], 'use (or add) a factory in server/errors.ts instead of new AppError(...)');
});

test('request schemas are the validating zod schemas', (t) => {
  const body = doc.paths['/api/render/deploy']!.post!.requestBody as { required: boolean; content: Record<string, { schema: { required: string[]; additionalProperties: boolean; properties: Record<string, unknown> } }> };
  t.true(body.required);
  const schema = body.content['application/json']!.schema;
  t.deepEqual(schema.required.sort(), ['github_repo', 'project_name']);
  t.false(schema.additionalProperties);
  t.like(schema.properties.region, { enum: ['frankfurt', 'oregon', 'ohio', 'singapore', 'virginia'] });
  const limit = doc.paths['/api/render/my-deployments']!.get!.parameters.find((p) => p.name === 'limit');
  t.like(limit, { in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 100 } });
  const name = doc.paths['/api/render/services/name-check']!.get!.parameters.find((p) => p.name === 'name');
  t.like(name, { in: 'query', required: true });
});

test('redeploy documents its optional commit_sha body (a full SHA, nothing else accepted)', (t) => {
  const op = doc.paths['/api/render/services/{id}/redeploy']!.post! as { requestBody?: { content: Record<string, { schema: { required?: string[]; additionalProperties: boolean; properties: Record<string, { pattern?: string; description?: string }> } }> }; description?: string };
  const schema = op.requestBody?.content['application/json']?.schema;
  t.truthy(schema, 'a request body is documented');
  t.deepEqual(schema?.required ?? [], []);
  t.false(schema?.additionalProperties);
  t.is(schema?.properties.commit_sha?.pattern, '^[0-9a-f]{40}$');
  t.regex(schema?.properties.commit_sha?.description ?? '', /branch/);
  t.regex(op.description ?? '', /commit_not_on_branch/);
});

test('PUT /api/sentinel documents `enabled` as optional: left out, the watch stays on or off as it is', (t) => {
  const op = doc.paths['/api/sentinel']!.put! as { requestBody?: { content: Record<string, { schema: { required?: string[]; properties: Record<string, { type?: string; description?: string }> } }> }; description?: string };
  const schema = op.requestBody?.content['application/json']?.schema;
  t.truthy(schema, 'a request body is documented');
  t.false((schema?.required ?? []).includes('enabled'));
  t.is(schema?.properties.enabled?.type, 'boolean');
  t.regex(schema?.properties.enabled?.description ?? '', /absent keeps it as it is/);
  t.regex(op.description ?? '', /`enabled` left out keeps the watch on or off as it is/);
});

test('every route that starts a deployment documents the optional Idempotency-Key header and its 409s', (t) => {
  for (const path of ['/api/render/deploy', '/api/render/services/{id}/redeploy', '/api/render/services/{id}/rollback', '/api/render/services/{id}/deploys']) {
    const op = doc.paths[path]!.post!;
    const header = op.parameters.find((p) => p.name === 'Idempotency-Key') as { in: string; required: boolean; description?: string } | undefined;
    t.like(header, { in: 'header', required: false }, path);
    t.regex(header?.description ?? '', /same deployment/, path);
    t.truthy(op.responses['409'], path);
  }
});

test('redeploy, clear-cache redeploy and rollback document the 409 service_suspended a suspended service gets', (t) => {
  t.like(errorCatalogue().find((e) => e.code === 'service_suspended'), { status: 409 });
  for (const path of ['/api/render/services/{id}/redeploy', '/api/render/services/{id}/rollback', '/api/render/services/{id}/deploys']) {
    const op = doc.paths[path]!.post! as { description?: string; responses: Record<string, unknown> };
    t.truthy(op.responses['409'], path);
    t.regex(op.description ?? '', /service_suspended.*resume it first/, path);
  }
});

test('the contract check fails on a response the document does not describe', (t) => {
  const contract = compileContract(doc as never);
  const json = 'application/json; charset=utf-8';
  const session = { user: { id: 1, login: 'ada', name: null, avatarUrl: 'x' }, render: { configured: false, verified: false, verifiedAt: null, keyHint: null, owners: [] }, csrfToken: 'c' };
  t.deepEqual(contract.problems({ method: 'GET', path: '/api/session', status: 200, contentType: json, text: JSON.stringify(session) }), []);
  // A field the presenter does not whitelist, a missing one, a wrong type.
  t.true(contract.problems({ method: 'GET', path: '/api/session', status: 200, contentType: json, text: JSON.stringify({ ...session, githubToken: 'gho_x' }) }).length > 0);
  t.true(contract.problems({ method: 'GET', path: '/api/session', status: 200, contentType: json, text: JSON.stringify({ user: session.user, csrfToken: 'c' }) }).length > 0);
  t.true(contract.problems({ method: 'GET', path: '/api/render/deployments/dpl_1', status: 200, contentType: json, text: '{"id":1}' }).length > 0);
  // An undeclared success status, an unknown error code, a code with the wrong status, a non-JSON error.
  t.true(contract.problems({ method: 'GET', path: '/api/session', status: 201, contentType: json, text: JSON.stringify(session) }).length > 0);
  t.true(contract.problems({ method: 'GET', path: '/api/session', status: 401, contentType: json, text: '{"error":{"code":"nope","message":"x"}}' }).length > 0);
  t.true(contract.problems({ method: 'GET', path: '/api/session', status: 401, contentType: json, text: '{"error":{"code":"rate_limited","message":"x"}}' }).length > 0);
  t.deepEqual(contract.problems({ method: 'GET', path: '/api/session', status: 401, contentType: json, text: '{"error":{"code":"unauthenticated","message":"x"}}' }), []);
  t.true(contract.problems({ method: 'GET', path: '/api/nothing-here', status: 404, contentType: 'text/plain', text: 'Not Found' }).length > 0);
  t.true(contract.problems({ method: 'GET', path: '/api/nothing-here', status: 200, contentType: json, text: '{}' }).length > 0);
});

test('the shared agent and send() fail the request when the server answers outside the document', async (t) => {
  const agent = stack.agent();
  t.is((await agent.get('/api/meta')).status, 200);
  const err = await t.throwsAsync(() => agent.get('/api/test/drifted'));
  t.regex(err.message, /does not match GET \/api\/openapi\.json[\s\S]*renderApiKey/);
  await t.throwsAsync(() => send(stack.url, null, { method: 'GET', path: '/api/test/drifted' }), { message: /does not match/ });
});

test('the live stream documents the query it takes (logs, opened) and the 404 another user\'s deployment id gets', (t) => {
  const op = doc.paths['/api/events']!.get!;
  const params = op.parameters.filter((p) => (p as { in: string }).in === 'query') as Array<{ name: string; required: boolean }>;
  t.deepEqual(params.map((p) => [p.name, p.required]), [['logs', false], ['opened', false]]);
  t.truthy(op.responses['404']);
  t.truthy(op.responses['400']);
});

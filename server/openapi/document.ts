import type Router from '@koa/router';
import { z } from 'zod';
import { apiViews, chainPartsOf, routeDocOf, type AnyFunction, type Answer, type ChainPart, type RouteDoc } from './describe.js';
import { errorCatalogue, type ErrorCode, type ErrorCodeEntry } from './errorCodes.js';

/**
 * GET /api/openapi.json: an OpenAPI 3.1 document built by walking the router. Every route the app
 * serves is in it, with what its own chain says (server/openapi/describe.ts): request schemas from the
 * zod schemas that validate, security from requireUser/requireCsrf, errors from the chain and the
 * error factories, answers from its `documented({...})` declaration.
 */

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

export interface DocumentOptions {
  /** The session cookie's name (it depends on HTTPS_ONLY). */
  sessionCookie: string;
  version: string;
  /**
   * What the middleware mounted before the router refuses (body parser, bearer auth, the telemetry gate),
   * by the requests each one looks at: no route's chain shows them, yet any route they cover answers them.
   */
  beforeRouter?: RefusalsBeforeRouter[];
}

/** A middleware before the router: the requests it looks at, and the error codes it may answer them with. */
export interface RefusalsBeforeRouter { covers(method: string, path: string): boolean; errors: ErrorCode[] }

interface LayerLike { methods: string[]; path: string | RegExp; stack: AnyFunction[]; paramNames: Array<{ name: string }> }

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const COMPONENT = (id: string) => `#/components/schemas/${id}`;

/** Koa's `/a/:id` and `/a/{*rest}` as OpenAPI's `/a/{id}` and `/a/{rest}`. */
export function openApiPath(koaPath: string): string {
  // Segment by segment (params are whole segments in our routes): no regex to backtrack.
  return koaPath.split('/').map((seg) => {
    if (seg.startsWith(':')) return `{${seg.slice(1)}}`;
    if (seg.startsWith('{*') && seg.endsWith('}')) return `{${seg.slice(2, -1)}}`;
    return seg;
  }).join('/');
}

function operationId(method: string, path: string): string {
  const words = openApiPath(path).split(/[^A-Za-z0-9]+/).filter(Boolean);
  return method.toLowerCase() + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

/** A JSON Schema for a request part, as the client writes it (before defaults and coercion). */
function inputSchema(schema: z.ZodType): JsonObject {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonObject;
  return rest;
}

/** A path parameter's JSON Schema: a plain string unless a schema says more. */
const inputSchemaOr = (schema: z.ZodType | undefined): JsonObject => (schema ? inputSchema(schema) : { type: 'string' });

/** Codes implied by the chain: who may call, what is validated, which limit guards it. */
function impliedCodes(method: string, parts: ChainPart[], hasParams: boolean): string[] {
  const codes = ['internal_error', 'storage_unavailable'];
  if (!SAFE_METHODS.has(method)) codes.push('origin_rejected');
  if (hasParams) codes.push('not_found');
  for (const p of parts) {
    if (p.kind === 'user') codes.push('unauthenticated', 'github_token_invalid');
    if (p.kind === 'lastingSession') codes.push('bad_request');
    if (p.kind === 'csrf' && !SAFE_METHODS.has(method)) codes.push('csrf_failed', 'validation_failed'); // and a query string (security.ts)
    if (p.kind === 'body') codes.push('validation_failed', 'malformed_json', 'payload_too_large', 'unsupported_media_type');
    if (p.kind === 'query' || p.kind === 'params') codes.push('validation_failed');
    if (p.kind === 'renderKey') codes.push('render_key_missing', 'render_key_invalid', 'render_forbidden', 'render_rate_limited', 'render_unavailable');
    if (p.kind === 'rateLimit') codes.push('rate_limited', 'locked_out');
  }
  return codes;
}

function errorComponents(catalogue: ErrorCodeEntry[]): { schemas: JsonObject; responses: JsonObject } {
  const table = catalogue.map((e) => `| \`${e.code}\` | ${e.status} | ${e.example.replaceAll('|', '\\|')} |`).join('\n');
  const schemas: JsonObject = {
    ErrorCode: {
      type: 'string', enum: catalogue.map((e) => e.code),
      description: `Every error code the API answers with, its status and an example message:\n\n| code | status | example |\n|---|---|---|\n${table}`,
    },
    Error: {
      type: 'object', required: ['error'], additionalProperties: false,
      description: 'Every failure: a stable code and a sentence for people. Nothing the caller sent (keys, tokens) is echoed.',
      properties: {
        error: {
          type: 'object', required: ['code', 'message'], additionalProperties: false,
          properties: {
            code: { $ref: COMPONENT('ErrorCode') },
            message: { type: 'string' },
            field: { type: 'string', description: 'validation_failed: the first field at fault (e.g. env_vars.3.value).' },
          },
        },
      },
    },
  };
  const responses: JsonObject = {};
  for (const status of [...new Set(catalogue.map((e) => e.status))]) {
    const codes = catalogue.filter((e) => e.status === status).map((e) => e.code);
    responses[`Error${status}`] = {
      description: `Error (${codes.join(', ')})`,
      content: {
        'application/json': {
          schema: { allOf: [{ $ref: COMPONENT('Error') }, { type: 'object', properties: { error: { type: 'object', properties: { code: { enum: codes } } } } }] },
        },
      },
    };
  }
  responses.Error = { description: 'Any other error', content: { 'application/json': { schema: { $ref: COMPONENT('Error') } } } };
  return { schemas, responses };
}

/** The security requirement of a route: public, or a browser session (with CSRF for writes) or a bearer token. */
function securityOf(method: string, parts: ChainPart[], doc: RouteDoc | undefined): Json {
  if (doc?.auth === 'bearer') return [{ githubBearer: [] }];
  if (!parts.some((p) => p.kind === 'user')) return [];
  const csrf = !SAFE_METHODS.has(method) && parts.some((p) => p.kind === 'csrf');
  // A route that needs a Render key takes one per request too (X-Render-Api-Key beside the bearer token): a client
  // generated from the document had no way to send it.
  const perRequestKey = parts.some((p) => p.kind === 'renderKey') ? [{ githubBearer: [], renderKeyHeader: [] }] : [];
  return [csrf ? { sessionCookie: [], csrfHeader: [] } : { sessionCookie: [] }, { githubBearer: [] }, ...perRequestKey];
}

/** Builds the document from the router as it stands (call it after every route is mounted). */
export function buildOpenApiDocument(router: Router, opts: DocumentOptions): JsonObject {
  const catalogue = errorCatalogue();
  const known = new Map(catalogue.map((e) => [e.code, e]));
  // Every response schema in one registry, so one conversion gives components with $refs between them.
  const registry = z.registry<{ id: string; description?: string }>();
  const idOf = new Map<z.ZodType, string>();
  const schemaRef = (schema: z.ZodType, fallbackId: string): Json => {
    let id = idOf.get(schema) ?? apiViews.get(schema)?.id;
    if (!id) id = fallbackId;
    if (!idOf.has(schema)) { idOf.set(schema, id); registry.add(schema, { ...apiViews.get(schema), id }); }
    return { $ref: COMPONENT(id) };
  };

  const paths: Record<string, JsonObject> = {};
  for (const layer of (router as unknown as { stack: LayerLike[] }).stack) {
    if (layer.methods.length === 0 || typeof layer.path !== 'string') continue;
    const parts = layer.stack.flatMap((mw) => chainPartsOf(mw));
    const doc: RouteDoc | undefined = layer.stack.map((mw) => routeDocOf(mw)).find(Boolean);
    const params = parts.find((p) => p.kind === 'params');
    // A path parameter's schema: the route's documented one, else the one validate({ params }) checks.
    const paramSchema = (name: string) => doc?.params?.[name] ?? (params?.schema instanceof z.ZodObject ? (params.schema.shape as Record<string, z.ZodType>)[name] : undefined);
    const koaPath = layer.path;
    const path = openApiPath(koaPath);
    for (const method of layer.methods) {
      if (method === 'HEAD') continue;
      const id = operationId(method, layer.path);
      const parameters: Json[] = layer.paramNames.map(({ name }) => ({
        name, in: 'path', required: true, schema: inputSchemaOr(paramSchema(name)),
      }));
      const query = parts.find((p) => p.kind === 'query');
      if (query?.kind === 'query' && query.schema instanceof z.ZodObject) {
        for (const [name, field] of Object.entries<z.ZodType>(query.schema.shape)) {
          parameters.push({ name, in: 'query', required: !field.safeParse(undefined).success, schema: inputSchema(field) });
        }
      }
      for (const [name, description] of Object.entries(doc?.headers ?? {})) parameters.push({ name, in: 'header', required: false, description, schema: { type: 'string' } });

      const responses: JsonObject = {};
      for (const [status, answer] of Object.entries(doc?.responses ?? {})) responses[status] = answerOf(answer, () => schemaRef(answer as z.ZodType, `${id[0]!.toUpperCase()}${id.slice(1)}${status}`));
      const codes = [
        ...impliedCodes(method, parts, parameters.some((p) => (p as JsonObject).in === 'path')), ...(doc?.errors ?? []),
        ...(opts.beforeRouter ?? []).filter((b) => b.covers(method, koaPath)).flatMap((b) => b.errors),
      ];
      for (const code of codes) {
        const entry = known.get(code);
        if (!entry) throw new Error(`${method} ${layer.path} names error code ${code}, which no factory in server/errors.ts makes`);
        responses[String(entry.status)] ??= { $ref: `#/components/responses/Error${entry.status}` };
      }
      responses.default = { $ref: '#/components/responses/Error' };

      const body = parts.find((p) => p.kind === 'body');
      const operation: JsonObject = {
        operationId: id,
        summary: doc?.summary ?? '(undocumented: add documented({...}) to this route\'s chain)',
        tags: [doc?.tag ?? (path.split('/')[path.startsWith('/api/') ? 2 : 1] || 'ui')],
        security: securityOf(method, parts, doc),
        parameters,
        responses,
      };
      if (doc?.description || doc?.access) operation.description = [doc.description, doc.access && `Access: ${doc.access}`].filter(Boolean).join('\n\n');
      if (!doc) operation['x-undocumented'] = true;
      const limits = parts.filter((p) => p.kind === 'rateLimit').map((p) => (p as { name: string }).name);
      if (limits.length) operation['x-rate-limits'] = limits;
      if (parts.some((p) => p.kind === 'renderKey')) operation['x-requires-render-key'] = true;
      if (body?.kind === 'body') {
        operation.requestBody = { required: !body.schema.safeParse({}).success, content: { 'application/json': { schema: inputSchema(body.schema) } } };
      }
      paths[path] = { ...paths[path], [method.toLowerCase()]: operation };
    }
  }

  const errorParts = errorComponents(catalogue);
  const views = z.toJSONSchema(registry, { uri: COMPONENT, io: 'output', unrepresentable: 'any' }) as { schemas: Record<string, JsonObject> };
  const schemas: JsonObject = { ...errorParts.schemas };
  for (const [name, schema] of Object.entries(views.schemas)) {
    const { $schema: _s, $id: _i, ...rest } = schema;
    schemas[name] = rest;
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'Render orchestrator API',
      version: opts.version,
      description: 'Deploy your GitHub repositories to your own Render account. Every route answers for the caller only: '
        + 'someone else\'s id is a 404. Sign in through the browser (session cookie, plus the X-CSRF-Token header from GET /api/session on '
        + 'state-changing requests) or send Authorization: Bearer <GitHub token>. A GET with X-Background: 1 is a read nobody asked for '
        + '(a timer, a poll): it does not count as activity, so it does not extend the session\'s idle timeout (it is still refused once the '
        + 'session expired). Errors are {"error":{"code","message"}}: see ErrorCode.',
    },
    servers: [{ url: '/' }],
    paths,
    components: {
      securitySchemes: {
        sessionCookie: { type: 'apiKey', in: 'cookie', name: opts.sessionCookie, description: 'The browser session, set by GitHub sign-in (GET /api/auth/github/login).' },
        csrfHeader: { type: 'apiKey', in: 'header', name: 'X-CSRF-Token', description: 'With the session cookie on state-changing requests: the csrfToken from GET /api/session.' },
        githubBearer: { type: 'http', scheme: 'bearer', description: 'A GitHub OAuth token or fine-grained personal access token of the caller; no cookie or CSRF token with it.' },
        renderKeyHeader: {
          type: 'apiKey', in: 'header', name: 'X-Render-Api-Key',
          description: 'With a bearer token only: a Render API key checked with Render and used for this request (and a deploy it starts) alone, instead of one connected with POST /api/render/setup (CI without stored state).',
        },
      },
      schemas,
      responses: errorParts.responses,
    },
  };
}

function answerOf(answer: Answer, jsonRef: () => Json): JsonObject {
  if (answer === null) return { description: 'No content' };
  if ('redirect' in answer) return { description: answer.redirect, headers: { Location: { schema: { type: 'string' } } } };
  if ('contentType' in answer) {
    return { description: answer.description, content: { [answer.contentType]: { schema: answer.contentType.endsWith('json') ? { type: 'object' } : { type: 'string' } } } };
  }
  return { description: 'OK', content: { 'application/json': { schema: jsonRef() } } };
}

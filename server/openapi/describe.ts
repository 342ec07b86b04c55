import type { Middleware } from 'koa';
import { z } from 'zod';
import type { ErrorCode } from './errorCodes.js';

/**
 * How a route describes itself to GET /api/openapi.json. Nothing is declared twice: the document is
 * built by walking the router, and each route's chain already holds what it needs.
 * - The parts that check requests tag themselves (validate({ body, query, params }) carries its zod schemas,
 *   requireUser/requireCsrf/requireRenderKey and the rate-limit guards their meaning), so the
 *   request schemas in the document are the very schemas that validate.
 * - What a route answers is declared once in its chain with `documented({...})`, a pass-through
 *   middleware; response schemas are the zod views the presenters are typed with.
 */

/** What a chain part contributes to its route's description. */
export type ChainPart =
  | { kind: 'user' }
  | { kind: 'csrf' }
  | { kind: 'renderKey' }
  | { kind: 'lastingSession' }
  | { kind: 'rateLimit'; name: string }
  | { kind: 'body'; schema: z.ZodType }
  | { kind: 'query'; schema: z.ZodType }
  | { kind: 'params'; schema: z.ZodType };

/** A success (or redirect) answer that is not JSON. */
interface MediaAnswer {
  /** e.g. 'text/plain', 'text/event-stream', 'text/html'. */
  contentType: string;
  description: string;
}

/** A redirect answer (Location header). */
interface RedirectAnswer { redirect: string }

/** null: an empty body (204). */
export type Answer = z.ZodType | MediaAnswer | RedirectAnswer | null;

export interface RouteDoc {
  summary: string;
  description?: string;
  /** Grouping in the document (defaults to the path's second segment). */
  tag?: string;
  /** Success answers by status: a zod schema (JSON), another media type, a redirect, or null (no body). */
  responses: Record<number, Answer>;
  /** Path parameters: a zod schema each (default: a string). */
  params?: Record<string, z.ZodType>;
  /** Request headers the route reads (name → description). */
  headers?: Record<string, string>;
  /** Error codes particular to this route (beyond the ones its chain implies). */
  errors?: ErrorCode[];
  /** 'bearer': a GitHub bearer token only, never the session cookie (/mcp). */
  auth?: 'bearer';
  /** Not behind requireUser, but not public either (e.g. /metrics: a token or the private network). */
  access?: string;
}

/** A middleware as the router keeps it (only its identity matters here). */
export type AnyFunction = (...args: never[]) => unknown;

const parts = new WeakMap<AnyFunction, ChainPart[]>();
const docs = new WeakMap<AnyFunction, RouteDoc>();

/** Marks a chain part (used by the middleware factories that check requests). Returns the same middleware. */
export function tagged<M extends AnyFunction>(mw: M, ...chainParts: ChainPart[]): M {
  parts.set(mw, chainParts);
  return mw;
}

/** What a route answers, as a pass-through middleware in its chain: `router.get(path, documented({...}), requireUser(), …)`. */
export function documented(doc: RouteDoc): Middleware {
  const mw: Middleware = (_ctx, next) => next();
  docs.set(mw, doc);
  return mw;
}

/** What a chain part contributes (validate({ body, query }) contributes two). */
export function chainPartsOf(mw: AnyFunction): ChainPart[] { return parts.get(mw) ?? []; }
export function routeDocOf(mw: AnyFunction): RouteDoc | undefined { return docs.get(mw); }

/** Response views (what presenters return) land in the document's components under these names. */
export const apiViews = z.registry<{ id: string; description?: string }>();

/** Registers a zod schema as a named component of the document and returns it. */
export function view<S extends z.ZodType>(id: string, schema: S, description?: string): S {
  apiViews.add(schema, description ? { id, description } : { id });
  return schema;
}

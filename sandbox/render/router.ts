import type { IncomingHttpHeaders } from 'node:http';
import { badRequest } from './errors.js';
import type { AccountRec } from './state.js';

/** A tiny router whose route names are the spec's templated paths, e.g. '/services/{serviceId}'. */

export interface RequestContext {
  account: AccountRec;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  rawBody: Buffer;
}

export interface HandlerResult {
  status: number;
  /** undefined = empty body (202/204). */
  body?: unknown;
}

export type Handler = (ctx: RequestContext) => HandlerResult | Promise<HandlerResult>;

export interface RouteDef {
  method: string;
  route: string;
  handler: Handler;
}

interface RouteMatch {
  def: RouteDef;
  params: Record<string, string>;
}

export interface Router {
  /** Finds the route; `methodMismatch` when the path exists under another method. */
  match(method: string, path: string): RouteMatch | { route: string; methodMismatch: true } | null;
}

/** The decoded params when `parts` fit the route's segments (a param needs a non-empty segment), else null. */
function matchSegments(segments: Array<{ literal: string; param?: string }>, parts: string[]): Record<string, string> | null {
  if (segments.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const { literal, param } = segments[i]!;
    const part = parts[i]!;
    if (param === undefined ? part !== literal : part === '') return null;
    if (param !== undefined) params[param] = safeDecode(part);
  }
  return params;
}

export function createRouter(defs: RouteDef[]): Router {
  // Segment by segment, no built regex: every {param} in the spec's paths is a whole segment.
  const compiled = defs.map((def) => ({
    def,
    segments: def.route.split('/').map((segment) => ({ literal: segment, param: /^\{(\w+)\}$/.exec(segment)?.[1] })),
  }));
  return {
    match(method, path) {
      let other: string | null = null;
      const parts = (path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path).split('/');
      for (const c of compiled) {
        const m = matchSegments(c.segments, parts);
        if (!m) continue;
        if (c.def.method !== method) {
          other ??= c.def.route;
          continue;
        }
        return { def: c.def, params: m };
      }
      return other ? { route: other, methodMismatch: true } : null;
    },
  };
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // a malformed escape is just an id that does not exist
  }
}

/** The JSON body of a request; `{}`-like defaults are the caller's business. */
export function jsonBody(ctx: RequestContext): unknown {
  if (ctx.rawBody.length === 0) return undefined;
  try {
    return JSON.parse(ctx.rawBody.toString('utf8')) as unknown;
  } catch {
    throw badRequest('invalid JSON body');
  }
}

/** The JSON body, which must be an object (a 400 otherwise). */
export function objectBody(ctx: RequestContext): Record<string, unknown> {
  const body = jsonBody(ctx);
  if (!isObject(body)) throw badRequest('request body must be a JSON object');
  return body;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

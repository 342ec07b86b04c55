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

export interface RouteMatch {
  def: RouteDef;
  params: Record<string, string>;
}

export interface Router {
  /** Finds the route; `methodMismatch` when the path exists under another method. */
  match(method: string, path: string): RouteMatch | { route: string; methodMismatch: true } | null;
}

export function createRouter(defs: RouteDef[]): Router {
  const compiled = defs.map((def) => {
    const names: string[] = [];
    const pattern = def.route.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_m, name: string) => {
      names.push(name);
      return '([^/]+)';
    });
    return { def, names, regex: new RegExp(`^${pattern}/?$`) };
  });
  return {
    match(method, path) {
      let other: string | null = null;
      for (const c of compiled) {
        const m = c.regex.exec(path);
        if (!m) continue;
        if (c.def.method !== method) {
          other ??= c.def.route;
          continue;
        }
        const params: Record<string, string> = {};
        c.names.forEach((n, i) => { params[n] = safeDecode(m[i + 1] ?? ''); });
        return { def: c.def, params };
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

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

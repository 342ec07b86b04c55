import type { DefaultState, Middleware } from 'koa';
import type { RouterMiddleware } from '@koa/router';
import type { z } from 'zod';
import { NoBody, refuseBody } from './noBody.js';
import { errors } from '../errors.js';
import { tagged, type ChainPart } from '../openapi/describe.js';
import { STARTS_LIKE_CREDENTIAL } from '../text.js';

// Field names are echoed only when they look like field names: an unknown key or a record key is
// caller input, and may be a pasted secret (a Render key, a GitHub token) that must not come back.
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
export const fieldName = (k: PropertyKey) =>
  typeof k === 'number' ? String(k) : typeof k === 'string' && FIELD_NAME.test(k) && !STARTS_LIKE_CREDENTIAL.test(k) ? k : '(unnamed field)';

// An error echoes a bounded part of what was sent: a body of thousands of unknown keys (up to the 64 KB
// body limit) answered with all of them, a ~40 KB message. The first few, each a field name of at most
// 64 characters (or masked), and how many more.
const KEYS_ECHOED = 5;
function unrecognized(keys: readonly PropertyKey[]): string {
  const shown = keys.slice(0, KEYS_ECHOED).map(fieldName).join(', ');
  const more = keys.length - KEYS_ECHOED;
  return `Unrecognized key${keys.length === 1 ? '' : 's'}: ${shown}${more > 0 ? ` and ${more} more` : ''}`;
}

/** Every problem (up to five), each prefixed with its field: the 400 validation_failed message. */
export function describeIssues(issues: z.core.$ZodIssue[]): string {
  return issues.slice(0, 5).map((i) => {
    const message = i.code === 'unrecognized_keys' ? unrecognized(i.keys) : i.message;
    return i.path.length ? `${i.path.map(fieldName).join('.')}: ${message}` : message;
  }).join('; ');
}

/** The first problem's field path (env_vars.3.value), so a form can put the message on that field. */
function firstField(issues: z.core.$ZodIssue[]): { field: string } | undefined {
  const path = issues[0]?.path ?? [];
  return path.length ? { field: path.map(fieldName).join('.') } : undefined;
}

interface ValidateOptions {
  /**
   * 'as-written': the schema's messages are sentences for people (a form shows them under its field):
   * the first one only, without the "field: " prefix. Default: every problem, prefixed with its field.
   */
  messages?: 'as-written' | 'prefixed';
}

/** What a route validates: any of its JSON body, query string and path parameters, a zod schema each. */
interface InputSchemas<B extends z.ZodType, Q extends z.ZodType, P extends z.ZodType> {
  body?: B;
  query?: Q;
  params?: P;
}

/** The parsed input a handler reads as `ctx.input` (a part without a schema is `never`: there is nothing to read). */
interface ValidatedInput<B extends z.ZodType, Q extends z.ZodType, P extends z.ZodType> {
  body: z.output<B>;
  query: z.output<Q>;
  params: z.output<P>;
}

// A query string's problems carry no field (no form field shows them); a body's and a path's do.
function parseOrThrow(schema: z.ZodType | undefined, value: unknown, opts: ValidateOptions & { field?: boolean }): unknown {
  if (!schema) return undefined;
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const { issues } = parsed.error;
  const first = issues[0];
  const message = opts.messages === 'as-written' && first && first.code !== 'unrecognized_keys' ? first.message : describeIssues(issues);
  throw errors.validation(message, opts.field === false ? undefined : firstField(issues));
}

/**
 * Validate a request's body, query and path parameters with zod; the parsed values land in a typed
 * `ctx.input` (server/middleware/context.ts). Bad input → 400 validation_failed, nothing changed.
 * Tagged: GET /api/openapi.json documents the request with these same schemas.
 */
export function validate<B extends z.ZodType = never, Q extends z.ZodType = never, P extends z.ZodType = never>(
  schemas: InputSchemas<B, Q, P>, opts: ValidateOptions = {},
): RouterMiddleware<DefaultState, { input: ValidatedInput<B, Q, P> }> {
  const mw: RouterMiddleware<DefaultState, { input: ValidatedInput<B, Q, P> }> = async (ctx, next) => {
    const input = {
      params: parseOrThrow(schemas.params, ctx.params, opts),
      query: parseOrThrow(schemas.query, ctx.query, { field: false }),
      body: parseOrThrow(schemas.body, ctx.request.body ?? {}, opts),
    };
    // The one place parsed values meet their static type: each came from the schema typed B, Q or P.
    ctx.input = input as ValidatedInput<B, Q, P>;
    await next();
  };
  const parts: ChainPart[] = [];
  if (schemas.body) parts.push({ kind: 'body', schema: schemas.body });
  if (schemas.query) parts.push({ kind: 'query', schema: schemas.query });
  if (schemas.params) parts.push({ kind: 'params', schema: schemas.params });
  return tagged(mw, ...parts);
}

/**
 * A path parameter that must match `rule` before anything is spent on it; otherwise `refuse()`'s error
 * (a 404 for an id that cannot be anyone's, a field error for a name the caller typed).
 */
export function pathParam(name: string, rule: RegExp, refuse: () => Error): Middleware {
  // A plain Koa middleware, not a RouterMiddleware: a router-typed guard in a chain makes type-aware
  // lint see the handler's ctx.input as `any` (TypeScript infers the chain's context lazily there).
  return async (ctx, next) => {
    const params: unknown = ctx.params;
    const value: unknown = params && typeof params === 'object' ? Reflect.get(params, name) : undefined;
    if (typeof value !== 'string' || !rule.test(value)) throw refuse();
    await next();
  };
}

/**
 * A state-changing route that takes nothing but its path: a body may carry the form's CSRF token and no
 * more. Before, `DELETE /api/render/services/<id>` with `{"dry_run": true}` deleted the service, and a
 * field a client meant as an option went unread.
 */
export function takesNoBody(): Middleware {
  // A plain Koa middleware (see pathParam): there is no input for the handler to read.
  const mw: Middleware = async (ctx, next) => {
    refuseBody(ctx.request.body);
    await next();
  };
  return tagged(mw, { kind: 'body', schema: NoBody });
}

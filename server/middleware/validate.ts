import type { Middleware } from 'koa';
import type { z } from 'zod';
import { errors } from '../errors.js';
import { tagged } from '../openapi/describe.js';

// Field names are echoed only when they look like field names: an unknown key or a record key is
// caller input, and may be a pasted secret (a Render key, a GitHub token) that must not come back.
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const TOKEN_LIKE = /^(rnd|gh[pousr]|github_pat)_/i;
const fieldName = (k: PropertyKey) =>
  typeof k === 'number' ? String(k) : typeof k === 'string' && FIELD_NAME.test(k) && !TOKEN_LIKE.test(k) ? k : '(unnamed field)';

/** Every problem (up to five), each prefixed with its field: the 400 validation_failed message. */
export function describeIssues(issues: z.core.$ZodIssue[]): string {
  return issues.slice(0, 5).map((i) => {
    const message = i.code === 'unrecognized_keys' ? `Unrecognized key${i.keys.length === 1 ? '' : 's'}: ${i.keys.map(fieldName).join(', ')}` : i.message;
    return i.path.length ? `${i.path.map(fieldName).join('.')}: ${message}` : message;
  }).join('; ');
}

/** The first problem's field path (env_vars.3.value), so a form can put the message on that field. */
function firstField(issues: z.core.$ZodIssue[]): { field: string } | undefined {
  const path = issues[0]?.path ?? [];
  return path.length ? { field: path.map(fieldName).join('.') } : undefined;
}

export interface ValidateOptions {
  /**
   * 'as-written': the schema's messages are sentences for people (a form shows them under its field):
   * the first one only, without the "field: " prefix. Default: every problem, prefixed with its field.
   */
  messages?: 'as-written' | 'prefixed';
}

/** Validate the JSON body with zod; the parsed value lands in ctx.state.body. Bad input → 400, nothing changed. */
export function validateBody<S extends z.ZodType>(schema: S, opts: ValidateOptions = {}): Middleware {
  // Tagged: GET /api/openapi.json documents the request body with this same schema.
  return tagged(async (ctx, next) => {
    const parsed = schema.safeParse(ctx.request.body ?? {});
    if (!parsed.success) {
      const { issues } = parsed.error;
      const first = issues[0];
      const message = opts.messages === 'as-written' && first && first.code !== 'unrecognized_keys' ? first.message : describeIssues(issues);
      throw errors.validation(message, firstField(issues));
    }
    ctx.state.body = parsed.data;
    await next();
  }, { kind: 'body', schema });
}

export function validateQuery<S extends z.ZodType>(schema: S): Middleware {
  return tagged(async (ctx, next) => {
    const parsed = schema.safeParse(ctx.query);
    if (!parsed.success) throw errors.validation(describeIssues(parsed.error.issues));
    ctx.state.query = parsed.data;
    await next();
  }, { kind: 'query', schema });
}

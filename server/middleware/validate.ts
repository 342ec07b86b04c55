import type { Middleware } from 'koa';
import type { z } from 'zod';
import { errors } from '../errors.js';

function describe(issues: z.core.$ZodIssue[]): string {
  return issues.slice(0, 5).map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

/** Validate the JSON body with zod; the parsed value lands in ctx.state.body. Bad input → 400, nothing changed. */
export function validateBody<S extends z.ZodType>(schema: S): Middleware {
  return async (ctx, next) => {
    const parsed = schema.safeParse(ctx.request.body ?? {});
    if (!parsed.success) throw errors.validation(describe(parsed.error.issues));
    ctx.state.body = parsed.data;
    await next();
  };
}

export function validateQuery<S extends z.ZodType>(schema: S): Middleware {
  return async (ctx, next) => {
    const parsed = schema.safeParse(ctx.query);
    if (!parsed.success) throw errors.validation(describe(parsed.error.issues));
    ctx.state.query = parsed.data;
    await next();
  };
}

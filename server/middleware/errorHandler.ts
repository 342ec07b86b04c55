import type { Middleware } from 'koa';
import { AppError, errors } from '../errors.js';

interface HttpLikeError { status?: number; statusCode?: number; type?: string; expose?: boolean; message?: string }

/** Map errors from body parsing and koa itself to our typed errors. */
function toAppError(err: unknown): AppError | null {
  if (err instanceof AppError) return err;
  const e = err as HttpLikeError;
  const status = e?.status ?? e?.statusCode;
  if (e?.type === 'entity.too.large' || status === 413) return errors.payloadTooLarge('the allowed size');
  if (e?.type === 'entity.parse.failed') return errors.malformedJson();
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported' || status === 415) return errors.unsupportedMediaType();
  if (typeof status === 'number' && status >= 400 && status < 500 && e.expose) {
    return new AppError(status, status === 404 ? 'not_found' : 'bad_request', e.message ?? 'Bad request');
  }
  return null;
}

/**
 * The one error middleware: every failure leaves as {"error":{"code","message"}}. Unknown errors
 * are logged (with the request id) and answered with a generic 500 that echoes nothing.
 */
export function errorHandler(): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined && ctx.path.startsWith('/api/')) {
        throw errors.notFound('Route');
      }
    } catch (err) {
      const known = toAppError(err);
      if (known) {
        ctx.status = known.status;
        for (const [k, v] of Object.entries(known.headers)) ctx.set(k, v);
        ctx.body = { error: { code: known.code, message: known.message } };
        if (known.status >= 500) ctx.state.log?.warn({ errorCode: known.code }, known.message);
        return;
      }
      ctx.state.log?.error({ err: sanitize(err) }, 'unhandled error');
      ctx.status = 500;
      ctx.body = { error: { code: 'internal_error', message: `Something went wrong on our side. Reference: ${ctx.state.requestId ?? 'n/a'}` } };
    }
  };
}

/** Keep only name, message and stack: never an error's attached request config (it can carry headers). */
function sanitize(err: unknown) {
  if (err instanceof Error) return { name: err.name, message: err.message, stack: err.stack };
  return { message: String(err) };
}

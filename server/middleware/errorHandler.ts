import type { Middleware } from 'koa';
import { AppError, errors } from '../errors.js';
import { BudgetExhausted } from '../render/budget.js';
import { RenderApiError } from '../render/errors.js';
import { GitHubError, RootTooLargeError } from '../github/errors.js';
import { isRedisRefusingWrites, isRedisUnavailable } from '../redis.js';
import { isMcpPath } from '../mcp/path.js';
import type { ErrorCode } from '../openapi/errorCodes.js';

interface HttpLikeError { status?: number; statusCode?: number; type?: string; expose?: boolean; message?: string }

/** Map errors from body parsing and koa itself to our typed errors. */
export function toAppError(err: unknown): AppError | null {
  if (err instanceof AppError) return err;
  if (err instanceof BudgetExhausted) return errors.renderBudgetHeld(err.retryAfterMs / 1000);
  if (err instanceof RenderApiError) return fromRender(err);
  if (err instanceof GitHubError) return fromGitHub(err);
  // Out of reach, or answering but refusing writes (full under noeviction, a read-only replica): a 503.
  if (isRedisUnavailable(err) || isRedisRefusingWrites(err)) return errors.storageUnavailable();
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
 * The codes a Render refusal of a change made with the caller's key comes back as (fromRender; the
 * settings routes' plainRender): what such a route documents.
 */
export const RENDER_REFUSALS: ErrorCode[] = ['render_rejected', 'render_payment_required', 'render_conflict'];

/** Render's own message, quoted for a refusal's answer (cut to 200 characters); '' when it gave none. */
export const renderSaid = (err: RenderApiError): string => (err.renderMessage ? ` Render said: “${err.renderMessage.slice(0, 200)}”.` : '');

/** Render's answer to the caller's own key, in the caller's terms. */
function fromRender(err: RenderApiError): AppError {
  switch (err.kind) {
    case 'not_found': return errors.notFound();
    case 'unauthorized': return errors.renderKeyInvalid('Render rejected your API key; it may have been revoked. Connect a valid key.');
    case 'forbidden': return errors.renderForbidden();
    case 'rate_limited': return errors.renderRateLimited((err.retryAfterMs ?? 30_000) / 1000);
    case 'conflict': return errors.conflict('render_conflict', `Render refused: ${err.renderMessage ?? 'conflict'}`);
    case 'bad_request': return errors.renderRejected(`Render refused the request: ${err.renderMessage ?? err.kind}`);
    // The same code the settings routes give (scope.ts), so a client handles "add a payment method" once.
    case 'payment_required': return errors.renderPaymentRequired(`Render needs a payment method on the account for this. Add one in the Render Dashboard (Billing).${renderSaid(err)}`);
    default: return errors.renderUnavailable('Render did not answer properly. Try again in a minute.');
  }
}

function fromGitHub(err: GitHubError): AppError {
  if (err.kind === 'not_found') return errors.notFound('Repository');
  // The repository's shape, the same on every ask: not GitHub failing (a 503 said "try again").
  if (err instanceof RootTooLargeError) return errors.repoRootTooLarge();
  if (err.kind === 'unauthorized') return errors.githubTokenInvalid();
  if (err.kind === 'rate_limited') {
    // GitHub's stated wait (retry-after, or the primary window's reset with no calls left), else a secondary
    // limit's minute (server/github/errors.ts): "a minute" for a window resetting in 40 sent the user back
    // every minute to be refused again.
    const wait = Math.max(1, Math.ceil(err.retryAfterSeconds ?? 60));
    return errors.rateLimited(wait, `GitHub is rate-limiting your account. Try again ${wait <= 60 ? 'in a minute' : `in ${Math.ceil(wait / 60)} minutes`}.`);
  }
  // GitHub answered, and refused (SSO not authorized for the token, a repository it blocked): the same answer
  // until the user acts, so its own words, not "GitHub did not answer. Try again in a minute."
  if (err.kind === 'forbidden') return errors.githubForbidden(err.githubMessage);
  return errors.githubUnavailable();
}

/**
 * The one error middleware: every failure leaves as {"error":{"code","message"}}. Unknown errors
 * are logged (with the request id) and answered with a generic 500 that echoes nothing.
 */
export function errorHandler(): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      // The router answers a known path with a method it does not implement at all (PROPFIND, TRACE…)
      // with 501: that is the client's mistake, the same as any other method the route lacks (405).
      if (ctx.status === 501 && ctx.body === undefined) ctx.status = 405;
      if (ctx.body === undefined && (ctx.path.startsWith('/api/') || isMcpPath(ctx.path))) {
        if (ctx.status === 404) throw errors.notFound('Route');
        // /mcp takes POST alone: its GET (and so HEAD) is a 405 of its own (server/routes/mcp.ts), not a method to try.
        if (ctx.status === 405) throw errors.methodNotAllowed(isMcpPath(ctx.path) ? 'POST' : ctx.response.get('Allow'));
      }
    } catch (err) {
      const known = toAppError(err);
      if (known) {
        ctx.status = known.status;
        for (const [k, v] of Object.entries(known.headers)) ctx.set(k, v);
        ctx.body = { error: { code: known.code, message: known.message, ...fieldOf(known.details) } };
        if (known.status >= 500) ctx.state.log?.warn({ errorCode: known.code }, known.message);
        return;
      }
      ctx.state.log?.error({ err: sanitize(err) }, 'unhandled error');
      ctx.status = 500;
      const internal = errors.internal(ctx.state.requestId);
      ctx.body = { error: { code: internal.code, message: internal.message } };
    }
  };
}

/** A validation error names the field it is about (`field`), so a form can show it there. */
function fieldOf(details: unknown): { field?: string } {
  const field = (details as { field?: unknown } | undefined)?.field;
  return typeof field === 'string' ? { field } : {};
}

/** Keep only name, message and stack: never an error's attached request config (it can carry headers). */
function sanitize(err: unknown) {
  if (err instanceof Error) return { name: err.name, message: err.message, stack: err.stack };
  return { message: String(err) };
}

/**
 * Typed errors with stable codes. Routes throw these; the error middleware turns them into
 * {"error":{"code","message"}}. Anything else becomes a generic 500 whose details stay in the log.
 */
export class AppError extends Error {
  constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
    public readonly headers: Record<string, string> = {},
    public readonly details?: unknown,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const errors = {
  badRequest: (message: string, details?: unknown) => new AppError(400, 'bad_request', message, {}, details),
  validation: (message: string, details?: unknown) => new AppError(400, 'validation_failed', message, {}, details),
  malformedJson: () => new AppError(400, 'malformed_json', 'The request body is not valid JSON.'),
  payloadTooLarge: (limit: string) => new AppError(413, 'payload_too_large', `The request body is larger than ${limit}.`),
  unsupportedMediaType: () => new AppError(415, 'unsupported_media_type', 'Send the request body as application/json.'),
  unauthenticated: () => new AppError(401, 'unauthenticated', 'Sign in with GitHub first.'),
  csrfFailed: () => new AppError(403, 'csrf_failed', 'Missing or invalid CSRF token. Reload the page and try again.'),
  originRejected: () => new AppError(403, 'origin_rejected', 'Cross-origin requests are not allowed.'),
  notFound: (what = 'Resource') => new AppError(404, 'not_found', `${what} not found.`),
  methodNotAllowed: (allow: string) => new AppError(405, 'method_not_allowed', 'This method is not allowed on this route.', allow ? { Allow: allow } : {}),
  conflict: (code: string, message: string) => new AppError(409, code, message),
  rateLimited: (retryAfterSeconds: number, message = 'Too many requests. Try again later.') =>
    new AppError(429, 'rate_limited', message, { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) }),
  renderKeyMissing: () => new AppError(400, 'render_key_missing', 'Connect your Render API key first (Settings → Render API key).'),
  renderKeyInvalid: (message = 'Render rejected this API key. Check that you copied the whole key and that it has not been revoked, then try again.') =>
    new AppError(400, 'render_key_invalid', message),
  renderUnavailable: (message = 'Render did not answer. Nothing was saved; try again in a minute.') =>
    new AppError(503, 'render_unavailable', message, { 'Retry-After': '30' }),
  renderRateLimited: (retryAfterSeconds: number) =>
    new AppError(429, 'render_rate_limited', 'Render is rate-limiting this API key. Nothing was saved; try again shortly.', {
      'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))),
    }),
  githubUnavailable: () => new AppError(503, 'github_unavailable', 'GitHub did not answer. Try again in a minute.', { 'Retry-After': '30' }),
  githubTokenInvalid: (message = 'Your GitHub authorization has expired or was revoked. Sign in again.') => new AppError(401, 'github_token_invalid', message),
  bearerWithCookie: () => new AppError(400, 'bearer_with_cookie', 'Send either a session cookie or an Authorization: Bearer token, not both.'),
  locked: (retryAfterSeconds: number, message: string) =>
    new AppError(429, 'locked_out', message, { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) }),
};

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

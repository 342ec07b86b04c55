/**
 * Typed errors with stable codes. Routes throw these; the error middleware turns them into
 * {"error":{"code","message"}}. Anything else becomes a generic 500 whose details stay in the log.
 */
export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;
  readonly details?: unknown;
  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}, details?: unknown) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
    this.details = details;
    this.name = 'AppError';
  }
}

/**
 * The codes a 409 may carry. Every code the API answers with comes from a factory below (the
 * OpenAPI document lists them by calling each one: server/openapi/errorCodes.ts), so a new code is a
 * new factory, or a new entry here.
 */
export const CONFLICT_CODES = ['render_conflict', 'idempotency_key_reused', 'idempotency_in_progress', 'deployment_finished', 'deploy_not_rollbackable', 'service_suspended', 'item_change_in_progress', 'sentinel_settings_changed', 'render_key_changed'] as const;
type ConflictCode = (typeof CONFLICT_CODES)[number];

/**
 * The same error (status, code, headers) said another way: for a route that knows more than the error's
 * own message (the code is one a factory below made, so the document already lists it).
 */
export function reworded(err: AppError, message: string, details: unknown = err.details): AppError {
  return new AppError(err.status, err.code, message, err.headers, details);
}

/**
 * The challenge every 401 carries (RFC 9110 §15.5.2: a 401 MUST send one; RFC 6750 for bearer tokens): API and MCP
 * clients read it to tell "no credentials" from "this token is refused". No Basic challenge: a browser shows no prompt.
 */
const CHALLENGE = 'Bearer realm="render-orchestrator"';

export const errors = {
  badRequest: (message: string, details?: unknown) => new AppError(400, 'bad_request', message, {}, details),
  validation: (message: string, details?: unknown) => new AppError(400, 'validation_failed', message, {}, details),
  malformedJson: () => new AppError(400, 'malformed_json', 'The request body is not valid JSON.'),
  payloadTooLarge: (limit: string) => new AppError(413, 'payload_too_large', `The request body is larger than ${limit}.`),
  unsupportedMediaType: () => new AppError(415, 'unsupported_media_type', 'Send the request body as application/json.'),
  /** A body under a Content-Encoding the parser cannot undo (what it can: the `inflation` package's). */
  unsupportedContentEncoding: () => new AppError(415, 'unsupported_media_type', 'This Content-Encoding is not supported: send the body uncompressed, or as gzip, deflate or br.'),
  unauthenticated: (message = 'Sign in with GitHub first.') => new AppError(401, 'unauthenticated', message, { 'WWW-Authenticate': CHALLENGE }),
  csrfFailed: () => new AppError(403, 'csrf_failed', 'Missing or invalid CSRF token. Reload the page and try again.'),
  originRejected: () => new AppError(403, 'origin_rejected', 'Cross-origin requests are not allowed.'),
  notFound: (what = 'Resource') => new AppError(404, 'not_found', `${what} not found.`),
  methodNotAllowed: (allow: string, message = 'This method is not allowed on this route.') => new AppError(405, 'method_not_allowed', message, allow ? { Allow: allow } : {}),
  conflict: (code: ConflictCode, message: string, details?: unknown, headers: Record<string, string> = {}) => new AppError(409, code, message, headers, details),
  rateLimited: (retryAfterSeconds: number, message = 'Too many requests. Try again later.') =>
    new AppError(429, 'rate_limited', message, { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) }),
  renderKeyMissing: (message = 'Connect your Render API key first (Settings → Render API key).') => new AppError(400, 'render_key_missing', message),
  renderKeyInvalid: (message = 'Render rejected this API key. Check that you copied the whole key and that it has not been revoked, then try again.') =>
    new AppError(400, 'render_key_invalid', message),
  renderUnavailable: (message = 'Render did not answer. Nothing was saved; try again in a minute.') =>
    new AppError(503, 'render_unavailable', message, { 'Retry-After': '30' }),
  renderRateLimited: (retryAfterSeconds: number) =>
    new AppError(429, 'render_rate_limited', 'Render is rate-limiting this API key. Nothing was saved; try again shortly.', {
      'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))),
    }),
  /**
   * Our own per-key budget (server/render/budget.ts) held the call back before Render saw it. Same code
   * as Render's 429 (clients key on it), but the message must not blame Render.
   */
  renderBudgetHeld: (retryAfterSeconds = 1) => {
    const wait = Math.max(1, Math.ceil(retryAfterSeconds));
    return new AppError(429, 'render_rate_limited', `Held back by this app, not refused by Render: your API key has used its share of Render's rate limit for now, and the app waits rather than let Render block the key. Try again in ${wait} s.`, {
      'Retry-After': String(wait),
    });
  },
  githubUnavailable: () => new AppError(503, 'github_unavailable', 'GitHub did not answer. Try again in a minute.', { 'Retry-After': '30' }),
  /** GitHub refused the caller's token this (403 not a rate limit, 451): its own words when it gave them. */
  githubForbidden: (githubMessage?: string) =>
    new AppError(403, 'github_forbidden', `GitHub refused this request for your account${githubMessage ? ` (it said: “${githubMessage}”)` : ''}. Asking again gets the same answer until that changes on GitHub.`),
  githubTokenInvalid: (message = 'Your GitHub authorization has expired or was revoked. Sign in again.') =>
    new AppError(401, 'github_token_invalid', message, { 'WWW-Authenticate': `${CHALLENGE}, error="invalid_token"` }),
  bearerWithCookie: () => new AppError(400, 'bearer_with_cookie', 'Send either a session cookie or an Authorization: Bearer token, not both.'),
  /**
   * Render's 404 for a deploy made in a workspace the connected key does not see (the key replaced by another
   * account's): the same status and code, and what to do (a key scoped to another workspace: Render's 403,
   * render_forbidden with this message).
   */
  notSeenByThisKey: (what = 'logs') => new AppError(404, 'not_found',
    `This deploy was made with another Render key, and the key connected now cannot see its service. Connect the key it was made with to read its ${what}.`),
  renderForbidden: (message = 'Your Render API key is not allowed to do this.', details?: unknown) => new AppError(403, 'render_forbidden', message, {}, details),
  renderRejected: (message = 'Render refused the request.', details?: unknown) => new AppError(400, 'render_rejected', message, {}, details),
  renderPaymentRequired: (message = 'Render needs a payment method on the account for this.', details?: unknown) => new AppError(400, 'render_payment_required', message, {}, details),
  bearerRequired: () => new AppError(401, 'bearer_required', 'The MCP endpoint takes Authorization: Bearer <GitHub token>, not a session cookie.', { 'WWW-Authenticate': CHALLENGE }),
  accountTemporarilyBlocked: (retryAfterSeconds = 60, message = 'Your account is temporarily blocked because its traffic jumped far above its usual level.') =>
    new AppError(429, 'account_temporarily_blocked', message, { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) }),
  blueprintNotFound: (message = 'This repository has no render.yaml on that branch.') => new AppError(404, 'blueprint_not_found', message),
  repoRootTooLarge: () => new AppError(422, 'repo_root_too_large', 'GitHub cannot list this repository\'s root directory whole: it holds too many entries (tens of thousands or more). Move files into subdirectories; asking again gives the same answer.'),
  blueprintTooLarge: (message = 'This repository\'s render.yaml is larger than 256 KiB, the most this app reads.') => new AppError(422, 'blueprint_too_large', message),
  logRedactionIncomplete: () => new AppError(422, 'log_redaction_incomplete', 'This workspace has more env groups than this app reads (1,000): the log lines cannot be redacted against all of their values, so they are not shown. Read them on Render\'s dashboard.'),
  stackNotDetected: (message = 'No supported stack was found in this repository.') => new AppError(422, 'stack_not_detected', message),
  slackNotConfigured: () => new AppError(400, 'slack_not_configured', 'Add a Slack incoming webhook URL first.'),
  eventsUnavailable: () => new AppError(503, 'events_unavailable', 'Live updates are unavailable right now. The page will retry.', { 'Retry-After': '5' }),
  storageUnavailable: () => new AppError(503, 'storage_unavailable', 'The service cannot reach its data store right now. Try again in a few seconds; check the result before repeating a change.', { 'Retry-After': '5' }),
  internal: (reference = 'n/a') => new AppError(500, 'internal_error', `Something went wrong on our side. Reference: ${reference}`),
  locked: (retryAfterSeconds: number, message: string) =>
    new AppError(429, 'locked_out', message, { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) }),
};

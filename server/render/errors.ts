// Errors raised by the Render API client. They carry only safe, user-actionable facts: never the
// API key, request headers or the axios config (docs/render-api.md §2; axios errors carry the request config, headers included).

export type RenderErrorKind =
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payment_required'
  | 'bad_request'
  | 'rate_limited'
  | 'server_error'
  | 'unavailable'
  | 'network'
  | 'timeout'
  | 'bad_response';

interface RenderApiErrorInit {
  kind: RenderErrorKind;
  method: string;
  route: string;
  status?: number;
  retryAfterMs?: number;
  renderMessage?: string;
  requestId?: string;
  /** Safe extra detail for transport failures, e.g. an errno code such as ECONNRESET. */
  detail?: string;
  /** The answer was larger than the client takes (a `bad_response`): a smaller page may fit. */
  tooLarge?: boolean;
}

const RETRYABLE_KINDS: ReadonlySet<RenderErrorKind> = new Set([
  'rate_limited',
  'server_error',
  'unavailable',
  'network',
  'timeout',
  'bad_response',
]);

/**
 * The fingerprint of the key Render refused (401) on a call, when the client was told it (RenderClientOptions
 * keyFingerprint): held beside the error, not on it, so no log or serialisation of the error carries it. A
 * request may call with a key other than the one its session loaded (a list retried with the key connected
 * meanwhile, server/routes/services.ts listAsNow): the refusal is noted on the key the call was made with.
 */
const refusedKeys = new WeakMap<RenderApiError, string>();
export const refusedKeyOf = (err: RenderApiError): string | undefined => refusedKeys.get(err);
export function withRefusedKey(err: RenderApiError, keyFingerprint: string | undefined): RenderApiError {
  if (keyFingerprint !== undefined && err.kind === 'unauthorized') refusedKeys.set(err, keyFingerprint);
  return err;
}

/** A failed Render API call, mapped to a small set of kinds a caller's retry policy can act on. */
export class RenderApiError extends Error {
  override readonly name = 'RenderApiError';
  readonly kind: RenderErrorKind;
  // `declare`: optional fields stay absent (not `undefined` own properties) when unset.
  declare readonly status?: number;
  declare readonly retryAfterMs?: number;
  declare readonly renderMessage?: string;
  declare readonly requestId?: string;
  declare readonly tooLarge?: boolean;
  readonly route: string;
  readonly method: string;

  constructor(init: RenderApiErrorInit) {
    super(describeRenderError(init));
    this.kind = init.kind;
    this.route = init.route;
    this.method = init.method;
    if (init.status !== undefined) this.status = init.status;
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
    if (init.renderMessage !== undefined) this.renderMessage = init.renderMessage;
    if (init.requestId !== undefined) this.requestId = init.requestId;
    if (init.tooLarge) this.tooLarge = true;
  }

  /** 429, 5xx, network failures, timeouts and unreadable responses may succeed when tried again. */
  get retryable(): boolean {
    return RETRYABLE_KINDS.has(this.kind);
  }

  /** Only safe fields: this is what loggers (pino's err serializer, JSON.stringify) will see. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      kind: this.kind,
      message: this.message,
      status: this.status,
      retryable: this.retryable,
      retryAfterMs: this.retryAfterMs,
      renderMessage: this.renderMessage,
      requestId: this.requestId,
      method: this.method,
      route: this.route,
    };
  }
}

/** Duck-typed check, so it also works across duplicated module copies. */
export function isRenderApiError(err: unknown): err is RenderApiError {
  return (
    err instanceof RenderApiError ||
    (typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'RenderApiError' && 'kind' in err)
  );
}

/** True for errors worth retrying (with backoff) under the caller's retry policy. */
export function isRetryable(err: unknown): boolean {
  return isRenderApiError(err) && err.retryable;
}

function describeRenderError(init: RenderApiErrorInit): string {
  const where = `${init.method} ${init.route}`;
  const code = init.status === undefined ? '' : ` (${init.status})`;
  const said = init.renderMessage ? `: ${init.renderMessage}` : '';
  const wait = init.retryAfterMs === undefined ? '' : ` Retry after ${Math.ceil(init.retryAfterMs / 1000)} s.`;
  switch (init.kind) {
    case 'unauthorized':
      return `Render rejected the API key${code}${said}. Check that the key is correct and has not been revoked. [${where}]`;
    case 'forbidden':
      return `Render refused access${code}${said}. The API key may be scoped to another workspace or lack permission for this action. [${where}]`;
    case 'not_found':
      return `Render could not find the resource${code}${said}. It may have been deleted or belong to another workspace. [${where}]`;
    case 'conflict':
      return `Render reported a conflict with the resource's current state${code}${said}. [${where}]`;
    case 'payment_required':
      return `Render requires payment information on the account for this request${code}${said}. Add a payment method in the Render Dashboard. [${where}]`;
    case 'bad_request':
      return `Render rejected the request as invalid${code}${said}. [${where}]`;
    case 'rate_limited':
      return `Render's rate limit was reached${code}${said}.${wait} [${where}]`;
    case 'server_error':
      return `Render had an internal error${code}${said}. Try again later. [${where}]`;
    case 'unavailable':
      return `Render is temporarily unavailable${code}${said}. Try again later.${wait} [${where}]`;
    case 'network':
      return `Could not reach Render${init.detail ? ` (${init.detail})` : ''}. Check the network and RENDER_API_URL. [${where}]`;
    case 'timeout':
      return `Render did not answer in time${init.detail ? ` (${init.detail})` : ''}. [${where}]`;
    case 'bad_response':
      return `Render sent a response that could not be read${code}${init.detail ? `: ${init.detail}` : ''}. [${where}]`;
  }
}

/**
 * Render calls stopped before the next one: no session they are made for still holds their key (signed
 * out, key cleared or replaced). A load of the services list others may have joined (routes/services.ts),
 * a log download (`clientWhileHeld`, render/forRequest.ts).
 */
export class RenderKeyWithdrawn extends Error {
  constructor() {
    super('the Render key was withdrawn by every session the calls were made for');
    this.name = 'RenderKeyWithdrawn';
  }
}

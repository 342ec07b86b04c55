// One HTTP exchange with Render: hooks, auth header, deadline, and mapping every failure to a
// RenderApiError. Axios errors never escape: their config holds the Authorization header.
import axios, { Axios, type AxiosRequestConfig, type AxiosResponse } from 'axios';
import { isAnswerTooLarge, renderAdapter } from './adapter.js';
import { RenderApiError, withRefusedKey, type RenderErrorKind } from './errors.js';
import type { QueryBuilder } from './query.js';
import { RATE_LIMITED_WAIT_MIN_MS, RENDER_WAIT_MAX_MS, parseRateLimit, parseRetryAfterMs, type HeaderGetter, type RateLimitInfo } from './rate-limit.js';
import type { HttpMethod, RenderRoute } from './types.js';
import { withoutTrailingSlashes } from '../text.js';
import { redactSecrets } from '../deployments/redact.js';

export interface RenderCallInfo {
  method: HttpMethod;
  /** Templated spec path, e.g. '/services/{serviceId}/deploys'. */
  route: RenderRoute;
  serviceId?: string;
  /** A call on one env group (its values are an audited read: server/sentinel/store.ts). */
  envGroupId?: string;
}

export type RenderCallOutcome = RenderCallInfo & {
  status: number | 'network' | 'timeout';
  durationMs: number;
  rateLimit?: RateLimitInfo;
  /**
   * An answer's Date header (Render's clock when it answered, to the second) in epoch ms; absent with no
   * answer, null when the answer had none readable. The notes of our audited reads are timed by it
   * (server/sentinel/store.ts auditedReadNotes): Render stamps their audit entries by its clock.
   */
  serverDate?: number | null;
};

interface TransportOptions {
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
  signal?: AbortSignal;
  beforeRequest?: (call: RenderCallInfo) => Promise<void>;
  afterResponse?: (call: RenderCallOutcome) => void;
  /** The key's fingerprint, when the caller knows it: a 401's error names it (errors.ts refusedKeyOf). */
  keyFingerprint?: string;
}

export interface RenderRequest {
  method: HttpMethod;
  route: RenderRoute;
  pathParams?: Record<string, string>;
  query?: QueryBuilder;
  json?: unknown;
  form?: FormData;
  serviceId?: string;
  envGroupId?: string;
}

export interface RenderRawResponse {
  status: number;
  text: string;
  header: HeaderGetter;
  rateLimit?: RateLimitInfo;
}

export type Transport = (request: RenderRequest) => Promise<RenderRawResponse>;

const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;
const MAX_RENDER_MESSAGE_CHARS = 500;

// One axios client per process, shared by every caller's client; its adapter (./adapter.ts) holds the
// keep-alive pool. Nothing caller-specific lives here: the key and the base URL are per request. An
// `Axios` with only these defaults, not axios.create(), which copies in all of axios' own (header
// buckets per method, XSRF names, and transforms that would parse each JSON body we send again),
// each merged into every request's config. The adapter answers text, never follows a redirect (it
// must not carry the key away), and leaves status handling and JSON parsing to us.
const http = new Axios({
  adapter: renderAdapter,
  headers: { accept: 'application/json' },
  validateStatus: null,
  maxContentLength: MAX_RESPONSE_BYTES,
});

export function createTransport(opts: TransportOptions): Transport {
  const baseURL = withoutTrailingSlashes(opts.baseUrl);
  const authorization = `Bearer ${opts.apiKey}`;

  return async function send(request: RenderRequest): Promise<RenderRawResponse> {
    const info: RenderCallInfo = { method: request.method, route: request.route };
    if (request.serviceId !== undefined) info.serviceId = request.serviceId;
    if (request.envGroupId !== undefined) info.envGroupId = request.envGroupId;
    const path = fillRoute(request.route, request.pathParams ?? {});

    throwIfAborted(opts.signal, info);
    if (opts.beforeRequest) await opts.beforeRequest({ ...info });
    throwIfAborted(opts.signal, info);

    const headers: Record<string, string> = { authorization };
    // The adapter's timeout is a deadline for the whole exchange (a timer cleared once the answer is
    // in), so the caller's signal goes to axios as it is. Only the keys in use: axios merges each one.
    const config: AxiosRequestConfig = { baseURL, timeout: opts.timeoutMs, method: request.method, url: path + (request.query?.toString() ?? ''), headers };
    if (request.form) config.data = request.form;
    else if (request.json !== undefined) {
      config.data = JSON.stringify(request.json);
      headers['content-type'] = 'application/json';
    }
    if (opts.signal) config.signal = opts.signal;

    const started = performance.now();
    let response: AxiosResponse<unknown>;
    try {
      response = await http.request(config);
    } catch (err) {
      const durationMs = performance.now() - started;
      const failure = classifyTransportFailure(err, opts.signal);
      if (failure.kind === 'aborted') throw abortError(info);
      // An answer too large counts as a failed exchange, as it did before it had a kind of its own.
      report(opts, { ...info, status: failure.kind === 'bad_response' ? 'network' : failure.kind, durationMs });
      throw new RenderApiError({ kind: failure.kind, method: info.method, route: info.route, detail: failure.detail, ...(failure.kind === 'bad_response' ? { tooLarge: true } : {}) });
    }

    const durationMs = performance.now() - started;
    const header = headerGetter(response.headers);
    const rateLimit = parseRateLimit(header);
    const outcome: RenderCallOutcome = { ...info, status: response.status, durationMs, serverDate: dateHeader(header) };
    if (rateLimit) outcome.rateLimit = rateLimit;
    report(opts, outcome);

    const text = typeof response.data === 'string' ? response.data : '';
    const raw: RenderRawResponse = { status: response.status, text, header };
    if (rateLimit) raw.rateLimit = rateLimit;
    if (response.status >= 200 && response.status < 300) return raw;
    throw withRefusedKey(errorFromResponse(raw, info, opts.apiKey, request.json), opts.keyFingerprint);
  };
}

/** A Date header (RFC 9110: when the origin made the answer, to the second) in epoch ms, or null. */
export function dateHeader(header: HeaderGetter): number | null {
  const value = header('date');
  const ms = value === undefined ? Number.NaN : Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

/** Parses a 2xx JSON body; anything unreadable is a retryable 'bad_response'. */
export function parseJsonBody(raw: RenderRawResponse, call: Pick<RenderRequest, 'method' | 'route'>): unknown {
  try {
    return JSON.parse(raw.text);
  } catch {
    throw new RenderApiError({
      kind: 'bad_response',
      status: raw.status,
      method: call.method,
      route: call.route,
      detail: raw.text.trim() === '' ? 'empty body where JSON was expected' : 'malformed JSON',
    });
  }
}

/** Raised when a 2xx JSON body does not have the shape the spec promises. */
export function unexpectedShape(raw: RenderRawResponse, call: Pick<RenderRequest, 'method' | 'route'>, what: string): RenderApiError {
  return new RenderApiError({ kind: 'bad_response', status: raw.status, method: call.method, route: call.route, detail: `expected ${what}` });
}

// Every parameter in the spec's paths is a whole segment ("/services/{serviceId}/deploys"). A route
// is split once: routes are the spec's templates, a fixed set.
const routeParts = new Map<string, Array<string | { param: string }>>();

function fillRoute(route: RenderRoute, params: Record<string, string>): string {
  let parts = routeParts.get(route);
  if (!parts) {
    parts = route.split('/').map((segment) => {
      const name = /^\{(\w+)\}$/.exec(segment)?.[1];
      return name === undefined ? segment : { param: name };
    });
    routeParts.set(route, parts);
  }
  let path = '';
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (i > 0) path += '/';
    if (typeof part === 'string') {
      path += part;
      continue;
    }
    const value = params[part.param];
    // An empty or dot segment would silently address a different endpoint (e.g. the list).
    if (typeof value !== 'string' || value === '' || value === '.' || value === '..') {
      throw new TypeError(`Render client: path parameter ${part.param} must be a non-empty id`);
    }
    path += encodeURIComponent(value);
  }
  return path;
}

function errorFromResponse(raw: RenderRawResponse, info: RenderCallInfo, apiKey: string, sent: unknown): RenderApiError {
  const kind = kindForStatus(raw.status);
  const renderMessage = extractRenderMessage(raw.text, apiKey, valuesSent(sent));
  const requestId = raw.header('render-request-id');
  let retryAfterMs = parseRetryAfterMs(raw.header('retry-after'));
  if (retryAfterMs === undefined && kind === 'rate_limited') retryAfterMs = raw.rateLimit?.resetMs;
  // Every caller waits this out as is (a delayed job, a timer): never past Render's longest window, and
  // a 429 that says "now" is not asked again at once.
  if (retryAfterMs !== undefined) {
    retryAfterMs = Math.min(RENDER_WAIT_MAX_MS, kind === 'rate_limited' ? Math.max(RATE_LIMITED_WAIT_MIN_MS, retryAfterMs) : retryAfterMs);
  }
  const init: ConstructorParameters<typeof RenderApiError>[0] = {
    kind,
    status: raw.status,
    method: info.method,
    route: info.route,
  };
  if (renderMessage !== undefined) init.renderMessage = renderMessage;
  if (retryAfterMs !== undefined) init.retryAfterMs = retryAfterMs;
  if (requestId !== undefined && /^[\w./:-]{1,200}$/.test(requestId)) init.requestId = requestId;
  if (kind === 'bad_response') init.detail = `unexpected status ${raw.status}`;
  return new RenderApiError(init);
}

function kindForStatus(status: number): RenderErrorKind {
  switch (status) {
    case 400:
      return 'bad_request';
    case 401:
      return 'unauthorized';
    case 402:
      return 'payment_required';
    case 403:
      return 'forbidden';
    case 404:
    case 410:
      return 'not_found';
    case 408:
      return 'timeout';
    case 409:
      return 'conflict';
    case 429:
      return 'rate_limited';
    case 502:
    case 503:
    case 504:
      return 'unavailable';
  }
  if (status >= 500) return 'server_error';
  if (status >= 400) return 'bad_request';
  return 'bad_response'; // 1xx/3xx: Render never sends these to API clients
}

/**
 * The secret values a request body carries: env var values (`value`: a service's creation, an env var's
 * or env group's PUT) and secret files' contents (`content`), at any depth. A validation error may quote
 * what it refused, and its message goes to the record (the UI), the logs and Slack.
 */
function valuesSent(json: unknown, into: string[] = []): string[] {
  if (Array.isArray(json)) for (const item of json) valuesSent(item, into);
  else if (json !== null && typeof json === 'object') {
    for (const [name, value] of Object.entries(json)) {
      if (typeof value === 'string') {
        if (name === 'value' || name === 'content') into.push(value);
      } else valuesSent(value, into);
    }
  }
  return into;
}

/**
 * Render's `{message}` error body (no `id` guaranteed), cleaned so it is safe to show and log: without
 * control characters, the key, bearer tokens, or the secret values the request sent (redact.ts: in each
 * form a value takes, values under 4 characters left alone, as in logs).
 */
function extractRenderMessage(text: string, apiKey: string, secrets: readonly string[]): string | undefined {
  let message: unknown;
  try {
    message = (JSON.parse(text) as { message?: unknown } | null)?.message;
  } catch {
    return undefined;
  }
  if (typeof message !== 'string') return undefined;
  // Secret values are looked for before the control characters go: a value holding one (a tab, a PEM's line
  // breaks) is quoted with it. Control characters are exactly what this strips from Render's message.
  // eslint-disable-next-line no-control-regex
  let clean = (secrets.length > 0 ? redactSecrets(message, secrets) : message).replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  if (apiKey) clean = clean.split(apiKey).join('[redacted]');
  clean = redactBearerTokens(clean);
  if (clean.length > MAX_RENDER_MESSAGE_CHARS) clean = `${clean.slice(0, MAX_RENDER_MESSAGE_CHARS)}…`;
  return clean === '' ? undefined : clean;
}

/**
 * "Bearer <token>" (any case) becomes "Bearer [redacted]". Works on whitespace-separated words, since
 * /Bearer\s+\S+/ backtracks quadratically on a long run of spaces in a hostile error message.
 */
function redactBearerTokens(text: string): string {
  const parts = text.split(/(\s+)/); // words at even indexes, whitespace runs at odd ones
  for (let i = 0; i + 2 < parts.length; i += 2) {
    const word = parts[i]!;
    if (!word.toLowerCase().endsWith('bearer') || parts[i + 2] === '') continue;
    parts[i] = `${word.slice(0, -'bearer'.length)}Bearer`;
    parts[i + 1] = ' ';
    parts[i + 2] = '[redacted]';
    i += 2;
  }
  return parts.join('');
}

type TransportFailure = { kind: 'network' | 'timeout' | 'bad_response'; detail: string } | { kind: 'aborted' };

function classifyTransportFailure(err: unknown, callerSignal: AbortSignal | undefined): TransportFailure {
  if (callerSignal?.aborted) return { kind: 'aborted' };
  const code = axios.isAxiosError(err) ? err.code : undefined;
  // An answer over maxContentLength (adapter.ts): 'bad_response' flagged tooLarge.
  if (isAnswerTooLarge(err)) {
    return { kind: 'bad_response', detail: 'answer too large' };
  }
  if (code === 'ETIMEDOUT') {
    return { kind: 'timeout', detail: 'no complete response before the time limit' };
  }
  // Only the errno-style code is kept: the message or config could echo the request.
  const safeCode = typeof code === 'string' && /^[A-Z_]{2,40}$/.test(code) ? code : 'connection failed';
  return { kind: 'network', detail: safeCode };
}

function throwIfAborted(signal: AbortSignal | undefined, info: RenderCallInfo): void {
  if (signal?.aborted) throw abortError(info);
}

function abortError(info: RenderCallInfo): DOMException {
  return new DOMException(`Render request ${info.method} ${info.route} was aborted`, 'AbortError');
}

function report(opts: TransportOptions, outcome: RenderCallOutcome): void {
  try {
    opts.afterResponse?.(outcome);
  } catch {
    // A metrics hook must never turn a good call into a failed one.
  }
}

// Node lower-cases response header names and axios keeps them as they came: an own-property read,
// no copy of every header per response.
function headerGetter(headers: Record<string, unknown>): HeaderGetter {
  return (name) => {
    const key = name.toLowerCase();
    const value = Object.hasOwn(headers, key) ? headers[key] : undefined;
    if (Array.isArray(value)) return value.length > 0 ? String(value[0]) : undefined;
    return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
  };
}

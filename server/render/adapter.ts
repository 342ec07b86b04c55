// The Render client's axios adapter (axios' documented `adapter` option): one node:http(s) exchange
// on the process's keep-alive pool, doing only what the Render client uses. Axios' own http adapter
// also looks up proxy environment variables, wraps follow-redirects, builds stream pipelines and
// re-validates every header on each call; together with axios' core that was ~11% of the worker's
// busy time in the pipeline bench (issue 17). What this one does by hand is tested in
// test/render/adapter.test.ts.
//
// Supported: method, baseURL + a path `url`, headers, a string/Buffer/FormData body, `timeout` as a
// deadline for the whole exchange (connect to last body byte), `signal`, `maxContentLength`,
// `validateStatus`, gzip/deflate/br answers. Not supported (refused, not ignored): `params`, `auth`,
// absolute URLs, response types other than text. Never: proxies (Render is reached directly, as
// GitHub is) and redirects (Render's API does not redirect; a 3xx is returned as is, so
// the key never travels to another host).
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import axios, { AxiosError, AxiosHeaders, CanceledError, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';
import { withoutTrailingSlashes } from '../text.js';
import { contentDecoder } from '../contentCoding.js';
import { boundedMemo } from '../boundedMemo.js';

/** An answer over maxContentLength is worded as axios' own http adapter words it. */
const TOO_LARGE = 'maxContentLength size of';
/** Whether a failed exchange is an answer larger than the client takes (a smaller page may fit). */
export const isAnswerTooLarge = (err: unknown): boolean =>
  axios.isAxiosError(err) && err.code === AxiosError.ERR_BAD_RESPONSE && err.message.startsWith(TOO_LARGE);

// One keep-alive pool per process, shared by every caller's client: a client is built per request or
// job run, and opening a TLS connection per client would cost more than the call.
const keepAlive = { keepAlive: true, maxSockets: 256, maxFreeSockets: 32, timeout: 60_000 };
const httpAgent = new HttpAgent(keepAlive);
const httpsAgent = new HttpsAgent(keepAlive);

interface Target {
  secure: boolean;
  hostname: string;
  port: string;
  basePath: string;
}

// Parsed base URLs: a process has one RENDER_API_URL (tests a few simulators); the cap bounds it anyway.
const targets = boundedMemo<string, Target>(32);

function targetOf(baseURL: string): Target {
  let target = targets.get(baseURL);
  if (target) return target;
  const url = new URL(baseURL);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`unsupported protocol ${url.protocol}`);
  if (url.username || url.password || url.search || url.hash) throw new TypeError('the base URL must be an origin and a path');
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  target = { secure: url.protocol === 'https:', hostname, port: url.port, basePath: withoutTrailingSlashes(url.pathname) };
  targets.set(baseURL, target);
  return target;
}

const USER_AGENT = `axios/${axios.VERSION}`;
const ACCEPT_ENCODING = 'gzip, deflate, br';

export function renderAdapter(config: InternalAxiosRequestConfig): Promise<AxiosResponse<string>> {
  // FormData is rare (Blueprint validation): Node's own multipart encoder, its boundary in the type.
  if (config.data instanceof FormData) {
    const encoded = new Response(config.data);
    return encoded.arrayBuffer().then((bytes) => {
      config.headers.setContentType(encoded.headers.get('content-type') ?? 'multipart/form-data', true);
      return start(config, Buffer.from(bytes));
    });
  }
  return start(config, config.data);
}

function start(config: InternalAxiosRequestConfig, data: unknown): Promise<AxiosResponse<string>> {
  let resolve!: (response: AxiosResponse<string>) => void;
  let reject!: (err: AxiosError) => void;
  const promise = new Promise<AxiosResponse<string>>((ok, no) => {
    resolve = ok;
    reject = no;
  });
  const signal = config.signal as AbortSignal | undefined;
  if (signal?.aborted) {
    reject(new CanceledError(undefined, config));
    return promise;
  }
  let target: Target;
  let body: Buffer | undefined;
  try {
    refuseUnsupported(config);
    target = targetOf(config.baseURL ?? '');
    body = bodyBytes(data);
  } catch (err) {
    reject(AxiosError.from(err, AxiosError.ERR_BAD_REQUEST, config));
    return promise;
  }
  const headers = AxiosHeaders.from(config.headers);
  headers.set('User-Agent', USER_AGENT, false);
  headers.set('Accept-Encoding', ACCEPT_ENCODING, false);
  if (body) headers.setContentLength(body.length, true);

  const exchange = new Exchange(config, signal, resolve, reject);
  exchange.options = {
    hostname: target.hostname,
    port: target.port,
    path: target.basePath + config.url,
    method: (config.method ?? 'get').toUpperCase(),
    headers: headers.toJSON(true) as OutgoingHttpHeaders,
    agent: target.secure ? httpsAgent : httpAgent,
  };
  exchange.secure = target.secure;
  exchange.body = body;
  if (!send(exchange)) return promise;
  signal?.addEventListener('abort', exchange);
  if (config.timeout) exchange.timer = setTimeout(onTimeout, config.timeout, exchange).unref();
  return promise;
}

/** The exchange's request, on a socket from the pool (again, for a stale one: onRequestError). False: it could not be made. */
function send(exchange: Exchange): boolean {
  let req: ClientRequest;
  try {
    req = (exchange.secure ? httpsRequest : httpRequest)(exchange.options!);
  } catch (err) {
    // e.g. a header value Node refuses (ERR_INVALID_CHAR): the code names it, never the value.
    exchange.reject(AxiosError.from(err, (err as NodeJS.ErrnoException).code, exchange.config));
    exchange.finish();
    return false;
  }
  exchange.req = req;
  (req as Tagged)[EXCHANGE] = exchange;
  req.on('response', onResponse);
  req.on('error', onRequestError);
  req.end(exchange.body);
  return true;
}

// One exchange's state. Node's emitters call their listeners with the emitter as `this`, so the
// listeners below are shared functions that find their exchange on it: no closures per request.
const EXCHANGE = Symbol('renderExchange');
type Tagged = { [EXCHANGE]?: Exchange };

class Exchange {
  req: ClientRequest | undefined;
  options: RequestOptions | undefined;
  secure = false;
  body: Buffer | undefined;
  /** Sent again once already, after a kept-alive socket turned out closed (onRequestError). */
  retriedStale = false;
  /** Render's answer began (its status line): a failure after it is never sent again. */
  answered = false;
  timer: NodeJS.Timeout | undefined;
  settled = false;
  chunks: Buffer[] = [];
  received = 0;
  readonly limit: number;
  readonly config: InternalAxiosRequestConfig;
  readonly signal: AbortSignal | undefined;
  readonly resolve: (response: AxiosResponse<string>) => void;
  readonly reject: (err: AxiosError) => void;

  constructor(config: InternalAxiosRequestConfig, signal: AbortSignal | undefined, resolve: (response: AxiosResponse<string>) => void, reject: (err: AxiosError) => void) {
    this.config = config;
    this.signal = signal;
    this.resolve = resolve;
    this.reject = reject;
    const max = config.maxContentLength;
    this.limit = typeof max === 'number' && max > -1 ? max : Infinity;
  }

  finish(): boolean {
    if (this.settled) return false;
    this.settled = true;
    if (this.timer) clearTimeout(this.timer);
    this.signal?.removeEventListener('abort', this);
    return true;
  }

  fail(err: AxiosError): void {
    if (!this.finish()) return;
    this.req?.destroy();
    this.reject(err);
  }

  error(err: Error, code?: string): AxiosError {
    return AxiosError.from(err, code ?? (err as NodeJS.ErrnoException).code, this.config, this.req);
  }

  tooLarge(): AxiosError {
    return new AxiosError(`${TOO_LARGE} ${this.limit} exceeded`, AxiosError.ERR_BAD_RESPONSE, this.config, this.req);
  }

  /** The caller's signal aborted (an EventTarget listener object). */
  handleEvent(): void {
    this.fail(new CanceledError(undefined, this.config, this.req));
  }

  answer(res: IncomingMessage, decoded: Buffer): void {
    if (!this.finish()) return;
    const status = res.statusCode ?? 0;
    const response: AxiosResponse<string> = {
      data: stripBom(decoded.toString('utf8')),
      status,
      statusText: res.statusMessage ?? '',
      headers: new AxiosHeaders(res.headers as Record<string, string>),
      config: this.config,
      request: this.req,
    };
    const valid = this.config.validateStatus;
    if (!valid || valid(status)) return this.resolve(response);
    const code = status >= 500 ? AxiosError.ERR_BAD_RESPONSE : AxiosError.ERR_BAD_REQUEST;
    this.reject(new AxiosError(`Request failed with status code ${status}`, code, this.config, this.req, response));
  }
}

function onTimeout(exchange: Exchange): void {
  const ms = exchange.config.timeout;
  exchange.fail(new AxiosError(`timeout of ${ms}ms exceeded`, AxiosError.ETIMEDOUT, exchange.config, exchange.req));
}

const RESET_CODES = new Set(['ECONNRESET', 'EPIPE']);
/** Methods Render acts on the same however often they arrive: safe to send again (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);

function onRequestError(this: ClientRequest & Tagged, err: NodeJS.ErrnoException): void {
  const exchange = this[EXCHANGE]!;
  if (exchange.settled || exchange.req !== this) return; // a request left behind (the stale socket's) failing late
  // A kept-alive socket the server closed while idle, as this request went out on it: Render never saw an
  // idempotent call, which goes once more on a new socket (Node's documented pattern for reusedSocket). A
  // POST is not repeated: it may have been acted on. One repeat only; the deadline still covers both.
  if (!exchange.retriedStale && !exchange.answered && this.reusedSocket && IDEMPOTENT.has(exchange.options!.method!) && RESET_CODES.has(err.code ?? '')) {
    exchange.retriedStale = true;
    send(exchange);
    return;
  }
  exchange.fail(exchange.error(err));
}

function onResponse(this: ClientRequest & Tagged, res: IncomingMessage & Tagged): void {
  const exchange = this[EXCHANGE]!;
  if (exchange.settled) return;
  exchange.answered = true;
  if (Number(res.headers['content-length']) > exchange.limit) return exchange.fail(exchange.tooLarge());
  res[EXCHANGE] = exchange;
  res.on('data', onData);
  res.on('error', onResponseError);
  res.on('close', onClose);
  res.on('end', onEnd);
}

function onData(this: IncomingMessage & Tagged, chunk: Buffer): void {
  const exchange = this[EXCHANGE]!;
  exchange.received += chunk.length;
  if (exchange.received > exchange.limit) return exchange.fail(exchange.tooLarge());
  exchange.chunks.push(chunk);
}

function onResponseError(this: IncomingMessage & Tagged, err: Error): void {
  const exchange = this[EXCHANGE]!;
  exchange.fail(exchange.error(err));
}

function onClose(this: IncomingMessage & Tagged): void {
  if (!this.complete) this[EXCHANGE]!.fail(new AxiosError('stream has been aborted', AxiosError.ERR_BAD_RESPONSE, this[EXCHANGE]!.config, this[EXCHANGE]!.req));
}

function onEnd(this: IncomingMessage & Tagged): void {
  const exchange = this[EXCHANGE]!;
  const { chunks } = exchange;
  const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  const encoding = exchange.config.method === 'head' || this.statusCode === 204 ? undefined : this.headers['content-encoding'];
  const inflate = raw.length === 0 ? undefined : contentDecoder(encoding);
  if (!inflate) return exchange.answer(this, raw);
  const limit = exchange.limit === Infinity ? {} : { maxOutputLength: exchange.limit };
  inflate(raw, limit, (err, decoded) => {
    if (!err) return exchange.answer(this, decoded);
    exchange.fail((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' ? exchange.tooLarge() : exchange.error(err, AxiosError.ERR_BAD_RESPONSE));
  });
}

function refuseUnsupported(config: InternalAxiosRequestConfig): void {
  if (config.params !== undefined) throw new TypeError('params are not supported: build the query into url');
  if (config.auth !== undefined) throw new TypeError('auth is not supported: send an Authorization header');
  if (config.proxy) throw new TypeError('proxies are not supported: Render is reached directly');
  if (config.responseType !== undefined && config.responseType !== 'text') throw new TypeError(`responseType ${config.responseType} is not supported`);
  if (typeof config.url !== 'string' || !config.url.startsWith('/')) throw new TypeError('url must be a path under baseURL');
}

function bodyBytes(data: unknown): Buffer | undefined {
  if (data === undefined || data === null) return undefined;
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (Buffer.isBuffer(data)) return data;
  throw new TypeError('data must be a string, a Buffer or FormData');
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

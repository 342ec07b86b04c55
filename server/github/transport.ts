// One HTTP exchange with GitHub over node:http/https on a per-process keep-alive agent, doing by hand
// what fetch did for server/github/http.ts: redirects (fetch's rules), the answer size cap, the
// deadline, decoding. Node's own client is cheaper per call than undici's fetch (measured: http.ts).
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { GitHubError } from './errors.js';
import { decodeContent } from '../contentCoding.js';

export interface Exchange {
  /** Short words for messages: "get repository". */
  what: string;
  method: string;
  /** Lower-case names. Authorization is dropped at the first redirect to another origin, as fetch does. */
  headers: Record<string, string>;
  body?: string;
  /** The whole exchange, redirects and body included. */
  timeoutMs: number;
  /** The most bytes read (decoded): past it too_large. */
  maxBytes: number;
  /** Lower-case names of the answer's headers to return (the rest are never parsed into an object). */
  keepHeaders: ReadonlySet<string>;
}

export interface Answer {
  status: number;
  /** Those of `keepHeaders` the answer has; lower-case names, repeated ones joined with ", " as fetch's Headers do. */
  headers: Record<string, string>;
  text: string;
  /** Where the answer came from (after redirects). */
  url: URL;
  redirected: boolean;
}

// One pool per process for every client and token (as undici's global dispatcher was). Idle sockets
// go after 4 s (undici's default; a server's shorter Keep-Alive hint wins), so few are stale when reused.
// At most 64 per origin: GitHub refuses more than 100 concurrent requests (secondary rate limit). As
// many may stay open idle: with 16, a worker running 50 deploys closed a socket past the 16th as each
// call ended and opened another for the next (0.7 new connections per deploy in the pipeline bench).
const pool = { keepAlive: true, scheduling: 'lifo' as const, timeout: 4_000, maxSockets: 64, maxFreeSockets: 64 };
const agents = { http: new HttpAgent(pool), https: new HttpsAgent(pool) };

// fetch's limits and rules (WHATWG Fetch, "HTTP-redirect fetch").
const MAX_REDIRECTS = 20;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const BODY_HEADERS = ['content-type', 'content-encoding', 'content-language', 'content-location', 'content-length'];
const CROSS_ORIGIN_DROPPED = ['authorization', 'proxy-authorization', 'cookie'];
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE']);

/** Nothing but a TransportFailure or a too_large GitHubError is thrown: the caller words "did not answer". */
export class TransportFailure extends Error {}

export function exchange(url: string, ex: Exchange): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let current: ClientRequest | undefined;
    let settled = false;
    let redirects = 0;
    let retriedStale = false;
    const settle = (err: Error | null, answer?: Answer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        current?.destroy();
        reject(err);
      } else resolve(answer!);
    };
    const fail = (why: string) => settle(new TransportFailure(why));
    // Cleared once settled (not AbortSignal.timeout, whose timer stays armed after the call).
    const timer = setTimeout(() => fail('no complete answer before the deadline'), ex.timeoutMs).unref();

    function send(target: URL, method: string, headers: Record<string, string>, body: string | undefined): void {
      const https = target.protocol === 'https:';
      if (!https && target.protocol !== 'http:') return fail('redirected to a scheme that is not HTTP');
      const sent = body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) };
      let req: ClientRequest;
      try {
        req = (https ? httpsRequest : httpRequest)(target, { method, headers: sent, agent: https ? agents.https : agents.http });
      } catch {
        return fail('the request could not be made'); // e.g. a header Node refuses: thrown, not emitted
      }
      current = req;
      let answered = false;
      // A hop left behind (a redirect's answer, a stale socket) can still fail later: not this exchange's failure.
      const failHere = (why: string) => { if (current === req) fail(why); };
      req.on('error', (err: NodeJS.ErrnoException) => {
        // A kept-alive socket the server closed while idle: a GET not yet answered goes once more on a
        // new one (Node's documented pattern), rather than failing a call GitHub never saw.
        if (!answered && !retriedStale && req.reusedSocket && method === 'GET' && RESET_CODES.has(err.code ?? '')) {
          retriedStale = true;
          return send(target, method, headers, body);
        }
        failHere('connection failed');
      });
      req.on('response', (res) => {
        answered = true;
        res.on('error', () => failHere('the answer broke off'));
        const location = REDIRECT_STATUSES.has(res.statusCode ?? 0) ? res.headers.location : undefined;
        if (location !== undefined) {
          res.destroy(); // its body is not read (nor left to drain: a redirect is rare, a new socket cheap)
          if (redirects >= MAX_REDIRECTS) return fail('too many redirects');
          redirects += 1;
          const next = URL.canParse(location, target.href) ? new URL(location, target) : null;
          if (!next) return fail('redirected to an unreadable location');
          let nextMethod = method;
          let nextBody = body;
          let nextHeaders = headers;
          const status = res.statusCode!;
          if (((status === 301 || status === 302) && method === 'POST') || (status === 303 && method !== 'GET' && method !== 'HEAD')) {
            nextMethod = 'GET';
            nextBody = undefined;
            nextHeaders = without(nextHeaders, BODY_HEADERS);
          }
          if (next.origin !== target.origin) nextHeaders = without(nextHeaders, CROSS_ORIGIN_DROPPED);
          return send(next, nextMethod, nextHeaders, nextBody);
        }
        readAnswer(res, ex).then((text) => settle(null, { status: res.statusCode!, headers: pickHeaders(res, ex.keepHeaders), text, url: target, redirected: redirects > 0 }), (err: Error) => settle(err));
      });
      req.end(body);
    }

    send(new URL(url), ex.method, ex.headers, ex.body);
  });
}

function without(headers: Record<string, string>, names: string[]): Record<string, string> {
  const out = { ...headers };
  for (const name of names) delete out[name];
  return out;
}

// Only the headers asked for, not a copy of every one (GitHub sends ~20). Node's res.headers joins
// repeated ones with ", " as fetch's Headers did (except a few that must not repeat: the first is kept).
function pickHeaders(res: IncomingMessage, names: ReadonlySet<string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = res.headers[name];
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/**
 * The body as text, read as it streams in: past maxBytes the answer is destroyed (which closes its
 * connection) and the call fails as too_large. A declared Content-Length over the cap fails before any
 * byte is read. A compressed answer (fetch asked for gzip and deflate; we still do) is capped both as
 * received and decoded.
 */
function readAnswer(res: IncomingMessage, ex: Exchange): Promise<string> {
  const tooLarge = () => new GitHubError('too_large', `GitHub ${ex.what}: the answer was larger than ${ex.maxBytes / 1024 / 1024} MiB, the most this app reads`, { status: res.statusCode });
  const codings = (res.headers['content-encoding'] ?? '').split(',').map((c) => c.trim().toLowerCase()).filter((c) => c !== '' && c !== 'identity');
  return new Promise((resolve, reject) => {
    if (codings.length === 0 && Number(res.headers['content-length']) > ex.maxBytes) {
      res.destroy();
      return reject(tooLarge());
    }
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > ex.maxBytes) {
        res.destroy();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    res.on('end', () => {
      let body = Promise.resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
      // Undone in the reverse of the order they were applied; one we do not know is left as is (as fetch did).
      for (const coding of codings.toReversed()) body = body.then((b) => decodeContent(coding, b, ex.maxBytes));
      body.then((b) => resolve(decoder.decode(b)), (err: NodeJS.ErrnoException) => {
        reject(err.code === 'ERR_BUFFER_TOO_LARGE' ? tooLarge() : new TransportFailure('an answer that did not decode'));
      });
    });
    res.on('close', () => { if (!res.complete) reject(new TransportFailure('the answer broke off')); });
  });
}

// As res.text() decodes: UTF-8, a byte order mark dropped.
const decoder = new TextDecoder();

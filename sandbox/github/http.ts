import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { readBodyUpTo } from '../body.js';

const MAX_BODY = 64 * 1024;

/** Reads a small request body (OAuth forms, JSON). Anything bigger is cut off with 413. */
export async function readBody(req: IncomingMessage): Promise<string | null> {
  return (await readBodyUpTo(req, MAX_BODY))?.toString('utf8') ?? null;
}

/** Parses a form-urlencoded or JSON body into flat string fields. */
export function parseFields(body: string, contentType: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (contentType?.includes('application/json')) {
    try {
      const parsed: unknown = JSON.parse(body || '{}');
      if (parsed && typeof parsed === 'object') {
        for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string' || typeof v === 'number') out[k] = String(v);
      }
    } catch { /* GitHub treats an unparseable body as missing fields */ }
    return out;
  }
  for (const [k, v] of new URLSearchParams(body)) out[k] = v;
  return out;
}

/** Headers every api.github.com response carries. */
function commonHeaders(): Record<string, string> {
  return {
    'x-github-media-type': 'github.v3; format=json',
    'x-github-api-version-selected': '2022-11-28',
    'x-github-request-id': randomBytes(8).toString('hex').toUpperCase(),
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'deny',
    'cache-control': 'private, max-age=60, s-maxage=60',
    vary: 'Accept, Authorization, Cookie, X-GitHub-OTP',
  };
}

interface Conditional { ifNoneMatch: string | undefined; onNotModified: () => Record<string, string> }
const conditionals = new WeakMap<ServerResponse, Conditional>();

/**
 * Conditional requests as GitHub answers them (https://docs.github.com/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate):
 * a 200 to this GET carries an ETag; when the request's If-None-Match names it, the answer is
 * 304 Not Modified without a body, and `onNotModified` (which gives the call back to the token's
 * rate limit, returning the headers to send) runs, since a 304 does not count against it.
 */
export function answerConditionally(res: ServerResponse, ifNoneMatch: string | undefined, onNotModified: () => Record<string, string>): void {
  conditionals.set(res, { ifNoneMatch, onNotModified });
}

function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  const bare = (tag: string) => tag.trim().replace(/^W\//, '');
  return ifNoneMatch.split(',').some((tag) => tag.trim() === '*' || bare(tag) === bare(etag));
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  const conditional = conditionals.get(res);
  if (conditional && status === 200) {
    // Weak, like GitHub's for JSON answers; the same representation always gets the same tag.
    const etag = `W/"${createHash('sha256').update(text).digest('hex').slice(0, 40)}"`;
    if (etagMatches(conditional.ifNoneMatch, etag)) {
      res.writeHead(304, { ...commonHeaders(), ...headers, ...conditional.onNotModified(), etag });
      res.end();
      return;
    }
    headers = { ...headers, etag };
  }
  res.writeHead(status, {
    ...commonHeaders(),
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** GitHub's error envelope: {message, documentation_url, status}. */
export function sendError(res: ServerResponse, status: number, message: string, docs: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { message, documentation_url: docs, status: String(status) }, headers);
}

export function sendText(res: ServerResponse, status: number, text: string, contentType = 'text/html; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** A JSON string `bytes` long, written in 64 KiB chunks as the client reads them, with no Content-Length; stops when the client goes. */
export async function sendStreamedString(res: ServerResponse, status: number, bytes: number, headers: Record<string, string> = {}): Promise<void> {
  res.writeHead(status, { ...commonHeaders(), ...headers, 'content-type': 'application/json; charset=utf-8' });
  const chunk = Buffer.alloc(64 * 1024, 'x');
  const drained = () => new Promise<void>((resolve) => {
    const done = () => { res.off('drain', done); res.off('close', done); resolve(); };
    res.on('drain', done);
    res.on('close', done);
  });
  res.write('"');
  for (let left = Math.max(0, bytes - 2); left > 0 && !res.destroyed; left -= chunk.length) {
    if (!res.write(left >= chunk.length ? chunk : chunk.subarray(0, left))) await drained();
  }
  if (!res.destroyed) res.end('"');
}

export interface Page<T> { items: T[]; link: string | undefined }

/**
 * Slices one page and builds GitHub's Link header (prev, next, last, first), with absolute URLs
 * that keep the caller's other query parameters, so a client can follow them verbatim.
 */
export function paginate<T>(all: T[], url: URL, publicBase: string, defaults = { perPage: 30, max: 100 }): Page<T> {
  const perPageRaw = Number.parseInt(url.searchParams.get('per_page') ?? '', 10);
  const perPage = Number.isFinite(perPageRaw) && perPageRaw > 0 ? Math.min(perPageRaw, defaults.max) : defaults.perPage;
  const pageRaw = Number.parseInt(url.searchParams.get('page') ?? '', 10);
  const page = Number.isFinite(pageRaw) && pageRaw > 0 ? pageRaw : 1;
  const last = Math.max(1, Math.ceil(all.length / perPage));
  const items = all.slice((page - 1) * perPage, page * perPage);
  const href = (p: number) => {
    const u = new URL(publicBase + url.pathname);
    for (const [k, v] of url.searchParams) if (k !== 'page') u.searchParams.append(k, v);
    u.searchParams.set('page', String(p));
    return `<${u.toString()}>`;
  };
  const parts: string[] = [];
  if (page > 1) parts.push(`${href(Math.min(page - 1, last))}; rel="prev"`);
  if (page < last) parts.push(`${href(page + 1)}; rel="next"`, `${href(last)}; rel="last"`);
  if (page > 1) parts.push(`${href(1)}; rel="first"`);
  return { items, link: parts.length ? parts.join(', ') : undefined };
}

// One exchange with GitHub's REST API over fetch: auth header, deadline, conditional reads, retries,
// per-token pacing of writes, and every failure mapped to a GitHubError (errors.ts).
//
// Why not octokit (issue 17): measured against the GitHub simulator in another process (client
// process CPU only; the per-deploy reads: repo, branch, root listing, one file; a new client per four
// calls as the worker builds them; 1,200 calls per row, twice; load 16–21 on 2 cores): octokit with
// its retry and throttling plugins (production until then) 1.7–1.9 ms CPU and ~20 ms wall per call
// (Bottleneck's scheduling), octokit without plugins 0.32–0.48 ms, bare fetch with the same
// validation and error mapping 0.20 ms, this client with retries on 0.14–0.18 ms CPU and
// 0.24–0.34 ms wall (its repeated reads are 304s). A deploy makes ~8 GitHub calls.
import { createHash } from 'node:crypto';
import { GitHubError, toGitHubError } from './errors.js';
import { createConditionalCache } from './conditional.js';
import { writePacer } from './pacing.js';

interface GitHubHttpOptions {
  /** REST base, no trailing slash. */
  apiUrl: string;
  token: string;
  userAgent: string;
  /** Retry 5xx and network failures (1 s, 4 s, 9 s), retry a short rate-limit wait once. */
  retries: boolean;
  /**
   * Pace writes per token here (pacing.ts). Off when the caller paces them itself (the commit-status
   * worker's pacer, workers/tasks/writePacer.ts): two layers each waited a second, one measured from
   * launch and one from the previous write's end, and each write waited twice.
   */
  pacedWrites: boolean;
  timeoutMs: number;
}

interface GitHubResponse {
  status: number;
  data: unknown;
  /** Lower-case header names. */
  headers: Record<string, string>;
  /** Length of the body as received. */
  bytes: number;
}

export interface GitHubRequest {
  /** Short words for messages: "get repository". */
  what: string;
  method?: 'GET' | 'POST';
  /** Path below the API base, starting with '/' (already encoded), or an absolute URL on the API's origin (Link pages). */
  path: string;
  body?: unknown;
  /** Use and refresh the conditional cache (GET only): a 304 answers from it and costs no rate limit. */
  conditional?: boolean;
}

// Retry delays octokit's retry plugin used: (n+1)² seconds, three times.
const RETRY_DELAYS_MS = [1_000, 4_000, 9_000];
/** A rate-limited call is retried once when GitHub's stated wait is at most this; longer, the caller decides. */
const MAX_RATE_LIMIT_WAIT_S = 60;
const API_VERSION = '2022-11-28';
/**
 * The largest answer read (Render's transport: 32 MiB, for its longer lists). GitHub's largest answers
 * to what we ask: a file's contents answer inlines files up to 1 MB (base64, a newline every 60
 * characters: ~1.4 MB; a file at our 256 KiB read limit ~360 KB), a page of 100 repositories ~700 KB,
 * a root listing of up to 1,000 entries ~1 MB. Four MiB is about three times the largest, so a file
 * over the read limit still gets its own "larger than 256 KiB" message; anything bigger is no answer
 * to our question (a proxy, a download) and would only cost memory — 50 concurrent deploys × 4 MiB.
 */
export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

const conditionalCache = createConditionalCache();

export function createGitHubHttp(opts: GitHubHttpOptions) {
  const { token } = opts;
  // Never the token itself as a key: a digest names the token's pacing queue and cache entries.
  const tokenId = createHash('sha256').update(token).digest('hex').slice(0, 32);
  const base = new URL(`${opts.apiUrl}/`);

  function urlOf(path: string): string {
    // Our own paths start with '/': appended to the base they cannot change its host or port.
    if (path.startsWith('/')) return `${opts.apiUrl}${path}`;
    // Link headers name absolute URLs: the token only ever goes to the API it was given for. Anything
    // else is refused, not appended (".evil.example/x" after https://api.github.com is another host).
    const url = URL.canParse(path) ? new URL(path) : null;
    if (!url || url.origin !== base.origin || !url.pathname.startsWith(base.pathname)) throw new GitHubError('bad_response', 'GitHub pagination pointed outside the API');
    return url.toString();
  }

  async function exchange(req: GitHubRequest, url: string, etag: string | undefined): Promise<GitHubResponse> {
    const headers: Record<string, string> = {
      accept: 'application/vnd.github+json',
      authorization: `token ${token}`,
      'user-agent': opts.userAgent,
      'x-github-api-version': API_VERSION,
    };
    if (etag) headers['if-none-match'] = etag;
    if (req.body !== undefined) headers['content-type'] = 'application/json; charset=utf-8';
    let res: Response;
    let text: string;
    // A timer cleared once the answer is read, not AbortSignal.timeout: that one's timer stays armed for
    // the whole timeout after the call is over (a deploy makes several calls; its firing and the signal's
    // bookkeeping were ~1% of the worker's busy time in the pipeline bench).
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), opts.timeoutMs).unref();
    try {
      res = await fetch(url, {
        method: req.method ?? 'GET', headers, redirect: 'follow', signal: deadline.signal,
        body: req.body === undefined ? undefined : JSON.stringify(req.body),
      });
      text = await readCapped(res, req.what);
      // Node's fetch drops the token when a redirect leaves the API's origin; the answer from there is
      // not GitHub's either, so it is refused rather than trusted.
      if (res.redirected && new URL(res.url).origin !== base.origin) throw new GitHubError('bad_response', `GitHub ${req.what}: GitHub redirected off its API`);
    } catch (err) {
      if (err instanceof GitHubError) throw err;
      // The cause can hold the URL or request; the message is ours alone.
      throw new GitHubError('unavailable', `GitHub ${req.what}: GitHub did not answer`);
    } finally {
      clearTimeout(timer);
    }
    const responseHeaders: Record<string, string> = {};
    res.headers.forEach((value, name) => { responseHeaders[name] = value; });
    return { status: res.status, data: parseBody(text), headers: responseHeaders, bytes: text.length };
  }

  /** One attempt plus the retries the policy allows; resolves with a 2xx (or a 304 answered from the cache). */
  async function send(req: GitHubRequest): Promise<GitHubResponse> {
    const url = urlOf(req.path);
    const cacheKey = req.conditional ? `${tokenId} ${url}` : undefined;
    const cached = cacheKey ? conditionalCache.get(cacheKey) : undefined;
    for (let attempt = 0; ; attempt += 1) {
      let res: GitHubResponse;
      try {
        res = await exchange(req, url, cached?.etag);
      } catch (err) {
        const waitMs = opts.retries && err instanceof GitHubError && err.kind === 'unavailable' ? RETRY_DELAYS_MS[attempt] : undefined;
        if (waitMs === undefined) throw err;
        await sleep(waitMs);
        continue;
      }
      if (res.status === 304 && cached) return { status: 200, data: cached.data, headers: { ...cached.headers, ...res.headers }, bytes: 0 };
      if (res.status >= 200 && res.status < 300) {
        const etag = res.headers.etag;
        if (cacheKey && etag) conditionalCache.set(cacheKey, { etag, data: res.data, headers: pick(res.headers, ['x-oauth-scopes', 'link']) }, res.bytes);
        return res;
      }
      const error = toGitHubError({ status: res.status, response: { headers: res.headers, data: res.data } }, req.what, token);
      const waitMs = opts.retries ? retryDelayMs(error, res.status, attempt) : null;
      if (waitMs === null) throw error;
      await sleep(waitMs);
    }
  }

  return {
    /** Writes are paced per token (GitHub asks for one at a time, a second apart); reads go straight out. */
    request(req: GitHubRequest): Promise<GitHubResponse> {
      if ((req.method ?? 'GET') === 'GET' || !opts.pacedWrites) return send(req);
      return writePacer.run(tokenId, () => send(req));
    },
  };
}

/** How long to wait before another attempt, or null for none. */
function retryDelayMs(error: GitHubError, status: number, attempt: number): number | null {
  if (error.kind === 'rate_limited') {
    const wait = error.retryAfterSeconds;
    return attempt === 0 && wait !== undefined && wait <= MAX_RATE_LIMIT_WAIT_S ? wait * 1000 : null;
  }
  // octokit's retry plugin's rule: anything but these client errors is worth another try.
  if ([400, 401, 403, 404, 410, 422, 451].includes(status)) return null;
  return RETRY_DELAYS_MS[attempt] ?? null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The body as text, read as it streams in: past MAX_RESPONSE_BYTES the stream is cancelled (which
 * closes the connection) and the call fails as too_large, not retried (the same question gets the
 * same answer). A declared Content-Length over the cap fails before any byte is read.
 */
async function readCapped(res: Response, what: string): Promise<string> {
  const tooLarge = () => new GitHubError('too_large', `GitHub ${what}: the answer was larger than ${MAX_RESPONSE_BYTES / 1024 / 1024} MiB, the most this app reads`, { status: res.status });
  const encoded = (res.headers.get('content-encoding') ?? 'identity') !== 'identity'; // then Content-Length counts compressed bytes
  if (!encoded && Number(res.headers.get('content-length')) > MAX_RESPONSE_BYTES) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  if (!res.body) return '';
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_RESPONSE_BYTES) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  // As res.text() decodes: UTF-8, a byte order mark dropped.
  return new TextDecoder().decode(Buffer.concat(chunks, size));
}

function parseBody(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text; // not JSON (a proxy's HTML page): the schema check makes it a bad_response
  }
}

function pick(headers: Record<string, string>, names: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) if (headers[name] !== undefined) out[name] = headers[name];
  return out;
}

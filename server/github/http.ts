// One exchange with GitHub's REST API (over node:http: transport.ts): auth header, deadline, conditional
// reads, retries, per-token pacing of writes, and every failure mapped to a GitHubError (errors.ts).
//
// Why not octokit (issue 17): measured against the GitHub simulator in another process (client
// process CPU only; the per-deploy reads: repo, branch, root listing, one file; a new client per four
// calls as the worker builds them; 1,200 calls per row, twice; load 16–21 on 2 cores): octokit with
// its retry and throttling plugins (production until then) 1.7–1.9 ms CPU and ~20 ms wall per call
// (Bottleneck's scheduling), octokit without plugins 0.32–0.48 ms, bare fetch with the same
// validation and error mapping 0.20 ms, this client (then over fetch) with retries on 0.14–0.18 ms
// CPU and 0.24–0.34 ms wall (its repeated reads are 304s). A deploy makes ~6 GitHub calls.
// Then node:http on a keep-alive agent instead of fetch (undici and its wasm parser were ~15% of the
// worker's busy time in the pipeline bench): the same harness, 1,600 calls per row, three rows each,
// alternating, load 11–16: fetch 0.44–0.87 ms CPU and 0.85–3.2 ms wall per call, node:http
// 0.21–0.37 ms CPU and 0.44–0.99 ms wall.
import { createHash } from 'node:crypto';
import { GitHubError, toGitHubError } from './errors.js';
import { createConditionalCache } from './conditional.js';
import { writePacer } from './pacing.js';
import { exchange as transportExchange, type Answer } from './transport.js';

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
  /** The wait before another attempt (default: a timer); a test counts the waits instead of timing them. */
  sleep?: (ms: number) => Promise<void>;
}

interface GitHubResponse {
  status: number;
  data: unknown;
  /** Lower-case names; only RESPONSE_HEADERS. */
  headers: Record<string, string>;
  /** Length of the body as received. */
  bytes: number;
  /** Answered from where GitHub redirected the ask (a renamed or transferred repository, a renamed branch). */
  redirected?: true;
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
/** The answer's headers this client reads (client.ts, errors.ts, the conditional cache); no others are kept. */
const RESPONSE_HEADERS: ReadonlySet<string> = new Set(['etag', 'link', 'x-oauth-scopes', 'retry-after', 'x-ratelimit-remaining', 'x-ratelimit-reset']);
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
      // What fetch asked for (transport.ts decodes it): GitHub compresses its JSON when asked.
      'accept-encoding': 'gzip, deflate',
      authorization: `token ${token}`,
      'user-agent': opts.userAgent,
      'x-github-api-version': API_VERSION,
    };
    if (etag) headers['if-none-match'] = etag;
    if (req.body !== undefined) headers['content-type'] = 'application/json; charset=utf-8';
    let res: Answer;
    try {
      res = await transportExchange(url, {
        what: req.what, method: req.method ?? 'GET', headers, timeoutMs: opts.timeoutMs, maxBytes: MAX_RESPONSE_BYTES, keepHeaders: RESPONSE_HEADERS,
        ...(req.body === undefined ? {} : { body: JSON.stringify(req.body) }),
      });
    } catch (err) {
      if (err instanceof GitHubError) throw err;
      // The cause can hold the URL or request; the message is ours alone.
      throw new GitHubError('unavailable', `GitHub ${req.what}: GitHub did not answer`);
    }
    // The token is dropped when a redirect leaves the API's origin (transport.ts, as fetch does); the
    // answer from there is not GitHub's either, so it is refused rather than trusted.
    if (res.redirected && res.url.origin !== base.origin) throw new GitHubError('bad_response', `GitHub ${req.what}: GitHub redirected off its API`);
    return { status: res.status, data: parseBody(res.text), headers: res.headers, bytes: res.text.length, ...(res.redirected ? { redirected: true } : {}) };
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
        // A write whose answer never came may have been made (a commit status is one more each time): not sent again here.
        const waitMs = opts.retries && idempotent(req) && err instanceof GitHubError && err.kind === 'unavailable' ? RETRY_DELAYS_MS[attempt] : undefined;
        if (waitMs === undefined) throw err;
        await (opts.sleep ?? sleep)(waitMs);
        continue;
      }
      if (res.status === 304 && cached) return { status: 200, data: cached.data, headers: { ...cached.headers, ...res.headers }, bytes: 0, ...(res.redirected ? { redirected: true } : {}) };
      if (res.status >= 200 && res.status < 300) {
        const etag = res.headers.etag;
        if (cacheKey && etag) conditionalCache.set(cacheKey, { etag, data: res.data, headers: pick(res.headers, ['x-oauth-scopes', 'link']) }, res.bytes);
        return res;
      }
      const error = toGitHubError({ status: res.status, response: { headers: res.headers, data: res.data } }, req.what, token);
      const waitMs = opts.retries ? retryDelayMs(error, res.status, attempt, idempotent(req)) : null;
      if (waitMs === null) throw error;
      await (opts.sleep ?? sleep)(waitMs);
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

/** A GET may be asked again; a write only when GitHub said it did not take it (a rate limit). */
const idempotent = (req: GitHubRequest) => (req.method ?? 'GET') === 'GET';

/**
 * How long to wait before another attempt, or null for none. A write answered 5xx may have been made
 * behind GitHub's front (a 502 after the status was written): its caller decides (the status job's own
 * retries read the record again); sent again here, each POST was one more status on the commit.
 */
function retryDelayMs(error: GitHubError, status: number, attempt: number, idempotentRequest: boolean): number | null {
  if (error.kind === 'rate_limited') {
    const wait = error.retryAfterSeconds;
    return attempt === 0 && error.waitStated && wait !== undefined && wait <= MAX_RATE_LIMIT_WAIT_S ? wait * 1000 : null;
  }
  if (!idempotentRequest) return null;
  // octokit's retry plugin's rule: anything but these client errors is worth another try. 409 is added:
  // GitHub's "Git Repository is empty." is the same answer every time, not worth 14 s of retries.
  if ([400, 401, 403, 404, 409, 410, 422, 451].includes(status)) return null;
  return RETRY_DELAYS_MS[attempt] ?? null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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

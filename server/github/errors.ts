/** too_large: an answer over the size this app reads (server/github/http.ts), not retried. */
export type GitHubErrorKind = 'not_found' | 'unauthorized' | 'forbidden' | 'rate_limited' | 'unavailable' | 'bad_response' | 'too_large';

/**
 * Every failure of a GitHub call, classified. The message is built here from the status and
 * GitHub's own `message` field only: never request headers, URLs with credentials, or the token.
 */
export class GitHubError extends Error {
  override readonly name = 'GitHubError';
  readonly kind: GitHubErrorKind;
  readonly status?: number;
  /** For rate_limited: seconds until the call may be made again (GitHub's stated wait, or a secondary limit's minute). */
  readonly retryAfterSeconds?: number;
  /**
   * For rate_limited: GitHub stated the wait (retry-after, or the window's reset with no calls left). A
   * secondary limit's minute is a rule, not a statement: the client does not sit it out inside a request
   * (a web request held a minute); its caller decides (the deploy job waits as a delayed job, a route
   * answers 429 with Retry-After).
   */
  readonly waitStated?: boolean;
  /**
   * GitHub's own `message` for a failed answer (the token scrubbed, at most 200 characters), when it gave
   * one: what a refusal tells the user to do ("You must grant your OAuth token access to this organization.").
   */
  readonly githubMessage?: string;

  constructor(kind: GitHubErrorKind, message: string, opts: { status?: number; retryAfterSeconds?: number; waitStated?: boolean; githubMessage?: string } = {}) {
    super(message);
    this.kind = kind;
    if (opts.status !== undefined) this.status = opts.status;
    if (opts.retryAfterSeconds !== undefined) this.retryAfterSeconds = opts.retryAfterSeconds;
    if (opts.waitStated !== undefined) this.waitStated = opts.waitStated;
    if (opts.githubMessage) this.githubMessage = opts.githubMessage;
  }
}

interface HttpLikeError {
  status?: unknown;
  response?: { headers?: Record<string, string | number | undefined>; data?: unknown };
}

/**
 * Turns a failed exchange (server/github/http.ts: status, headers, GitHub's body) into a GitHubError.
 * `secret` is scrubbed from the final message in case GitHub ever echoed it back.
 */
export function toGitHubError(err: unknown, what: string, secret: string): GitHubError {
  if (err instanceof GitHubError) return err;
  const e = (err ?? {}) as HttpLikeError;
  const status = typeof e.status === 'number' ? e.status : undefined;
  const scrub = (s: string) => (secret ? s.split(secret).join('[REDACTED]') : s);

  // A failure without a response (no status: not an HTTP answer at all) is GitHub not answering.
  if (!e.response || status === undefined) {
    if (status === undefined) return new GitHubError('bad_response', scrub(`GitHub ${what}: unexpected response`));
    return new GitHubError('unavailable', scrub(`GitHub ${what}: GitHub did not answer`));
  }
  const headers = e.response.headers ?? {};
  const data = e.response.data;
  // Scrubbed before it is cut to length: cut first, an echoed token straddling the cut would keep its first half.
  const ghMessage = data && typeof data === 'object' && typeof (data as { message?: unknown }).message === 'string'
    ? scrub((data as { message: string }).message).slice(0, 200)
    : '';
  const message = scrub(`GitHub ${what} failed (${status}${ghMessage ? `: ${ghMessage}` : ''})`);
  const remaining = headers['x-ratelimit-remaining'];
  const retryAfter = retryAfterSeconds(headers);

  if (status === 401) return new GitHubError('unauthorized', message, { status });
  if (status === 429 || (status === 403 && (String(remaining) === '0' || headers['retry-after'] !== undefined || /rate limit/i.test(ghMessage)))) {
    const wait = retryAfter ?? (String(remaining) === '0' ? undefined : SECONDARY_LIMIT_WAIT_S);
    return new GitHubError('rate_limited', message, { status, waitStated: retryAfter !== undefined, ...(wait === undefined ? {} : { retryAfterSeconds: wait }) });
  }
  // 403 without a rate limit: SAML SSO not authorized for the token (X-GitHub-SSO), a repository GitHub
  // disabled ("Repository access blocked"), a token of no user. 451 is a repository blocked for legal
  // reasons (DMCA), with the same message: a refusal, the same on every ask, not a malformed answer.
  if (status === 403 || status === 451) return new GitHubError('forbidden', message, { status, ...(ghMessage ? { githubMessage: ghMessage } : {}) });
  // 409 is GitHub's "Git Repository is empty."
  if (status === 404 || status === 410 || status === 409) return new GitHubError('not_found', message, { status });
  if (status >= 500) return new GitHubError('unavailable', message, { status });
  return new GitHubError('bad_response', message, { status });
}

/**
 * A file that exists but is larger than the client reads (client.ts MAX_FILE_BYTES): the same answer
 * every time, so never retried; what to make of it is the reader's call (stack detection words it).
 */
export class FileTooLargeError extends GitHubError {
  readonly path: string;
  readonly limitBytes: number;

  constructor(path: string, limitBytes: number) {
    super('too_large', `${path} is larger than ${limitBytes / 1024} KiB`);
    this.path = path;
    this.limitBytes = limitBytes;
  }
}

/**
 * A repository root GitHub cannot list whole (its tree answer flagged truncated, or larger than this app
 * reads): the repository's own shape, the same answer every time. Not GitHub failing: answered as that,
 * a 503 said "try again in a minute" and a deploy blamed a proxy.
 */
export class RootTooLargeError extends GitHubError {
  constructor() {
    super('too_large', 'GitHub cannot list this repository\'s root directory whole: it holds too many entries (tens of thousands or more)');
  }
}

/** GitHub's "otherwise wait at least one minute": a secondary limit's answer, with calls left and no retry-after. */
const SECONDARY_LIMIT_WAIT_S = 60;

/**
 * When GitHub says a rate-limited call may be made again: `retry-after` when it is there; the window's
 * reset only when `x-ratelimit-remaining` is 0. Otherwise (a secondary limit, calls left) its rule is a
 * minute at least (toGitHubError). A secondary limit's answer carries the hourly window's reset, which says nothing about it:
 * taken for the wait, a call was made again seconds later, still under the limit (GitHub may ban an
 * integration that keeps doing so).
 */
function retryAfterSeconds(headers: Record<string, string | number | undefined>): number | undefined {
  const ra = Number(headers['retry-after']);
  if (headers['retry-after'] !== undefined && Number.isFinite(ra) && ra >= 0) return ra;
  const reset = Number(headers['x-ratelimit-reset']);
  if (String(headers['x-ratelimit-remaining']) === '0' && Number.isFinite(reset) && reset > 0) return Math.max(0, Math.ceil(reset - Date.now() / 1000));
  return undefined; // a secondary limit (calls left): SECONDARY_LIMIT_WAIT_S, not stated (toGitHubError)
}

import { createHash } from 'node:crypto';
import { Octokit } from 'octokit';
import { z } from 'zod';
import { GitHubError, toGitHubError } from './errors.js';
import { withoutTrailingSlashes } from '../text.js';
import { branchSchema, dirEntrySchema, fileSchema, repoSchema, toRepoSummary, viewerSchema, type RepoSummary } from './schemas.js';

export { GitHubError, type GitHubErrorKind } from './errors.js';
export type { RepoSummary } from './schemas.js';

/** Files bigger than this are not read (stack detection only needs small manifests). */
export const MAX_FILE_BYTES = 256 * 1024;
const DEFAULT_MAX_REPOS = 1000;
const MAX_BRANCHES = 1000;

export interface GitHubClientOptions {
  /** REST base, e.g. https://api.github.com or the simulator's /api/v3. */
  apiUrl: string;
  /** The user's OAuth token. Used only in the Authorization header, never in messages. */
  token: string;
  userAgent?: string;
  /** octokit's retry + throttling plugins (default on; tests turn them off for determinism). */
  retries?: boolean;
  /** Per-request timeout. Default 10 s. */
  timeoutMs?: number;
}

export interface GitHubClient {
  getViewer(): Promise<{ id: number; login: string; name: string | null; avatarUrl: string }>;
  /** One page for the picker, most recently pushed first. */
  listRepos(opts?: { page?: number; perPage?: number }): Promise<{ repos: RepoSummary[]; hasMore: boolean }>;
  /** Follows Link rel="next" until done or `max` repos. */
  listAllRepos(max?: number): Promise<RepoSummary[]>;
  getRepo(owner: string, name: string): Promise<RepoSummary>;
  listBranches(owner: string, name: string): Promise<string[]>;
  getBranchHead(owner: string, name: string, branch: string): Promise<{ name: string; sha: string }>;
  /** Names of the entries at the repository root on `ref` (files and directories). */
  listRootFiles(owner: string, name: string, ref: string): Promise<string[]>;
  /** File text, or null when it does not exist (or is a directory). Throws bad_response above 256 KiB. */
  readFile(owner: string, name: string, path: string, ref: string): Promise<string | null>;
  /**
   * The OAuth scopes the token carries (GitHub's X-OAuth-Scopes header on GET /user), or null when
   * GitHub does not say (fine-grained tokens and GitHub App tokens have no scopes).
   */
  tokenScopes(): Promise<string[] | null>;
  /** POST /repos/{owner}/{repo}/statuses/{sha}: a commit status (needs the repo or repo:status scope). */
  createCommitStatus(owner: string, name: string, sha: string, status: CommitStatus): Promise<void>;
}

export interface CommitStatus {
  state: 'pending' | 'success' | 'failure' | 'error';
  targetUrl: string;
  /** At most 140 characters (GitHub's limit). */
  description: string;
  context: string;
}

// GitHub's own rules; checking them first keeps "../" and friends out of request URLs.
const OWNER_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const REPO_RE = /^(?!\.\.?$)[A-Za-z0-9._-]{1,100}$/;

/** The one place the product talks to GitHub. */
export function createGitHubClient(opts: GitHubClientOptions): GitHubClient {
  const { token } = opts;
  const retries = opts.retries ?? true;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const octokit = new Octokit({
    auth: token,
    baseUrl: withoutTrailingSlashes(opts.apiUrl),
    userAgent: opts.userAgent ?? 'render-orchestrator',
    retry: { enabled: retries },
    throttle: {
      enabled: retries,
      // octokit's throttling pools every client with the same id (default "no-id") in one process-wide
      // limiter — writes at one per second for all users together, which held worker slots for minutes in a
      // burst (commit statuses). GitHub paces per token, so the pool is per token (a digest, never the token).
      id: createHash('sha256').update(token).digest('hex').slice(0, 32),
      // Retry once after GitHub's stated wait; beyond that the caller sees rate_limited.
      onRateLimit: (_after: number, options: { request: { retryCount: number } }) => options.request.retryCount === 0,
      onSecondaryRateLimit: (_after: number, options: { request: { retryCount: number } }) => options.request.retryCount === 0,
    },
    // octokit's default logger prints request URLs on warnings; keep it quiet and let callers log GitHubError.
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
    request: {
      fetch: (url: string | URL, init?: RequestInit) =>
        fetch(url, { ...init, signal: init?.signal ?? AbortSignal.timeout(timeoutMs) }),
    },
  });

  /** Runs one call, validates its data, and converts every failure to a GitHubError. */
  async function call<S extends z.ZodType>(what: string, schema: S, fn: () => Promise<{ data: unknown }>): Promise<z.infer<S>> {
    let data: unknown;
    try {
      ({ data } = await fn());
    } catch (err) {
      throw toGitHubError(err, what, token);
    }
    const parsed = schema.safeParse(data);
    if (!parsed.success) throw new GitHubError('bad_response', `GitHub ${what}: unexpected response shape`);
    return parsed.data;
  }

  function checkRepo(owner: string, name: string): void {
    if (!OWNER_RE.test(owner) || !REPO_RE.test(name)) throw new GitHubError('not_found', 'Repository not found', { status: 404 });
  }

  async function paginateAll<T>(what: string, max: number, iterate: () => AsyncIterable<{ data: unknown }>, item: z.ZodType<T>): Promise<T[]> {
    const out: T[] = [];
    try {
      for await (const page of iterate()) {
        const parsed = z.array(item).safeParse(page.data);
        if (!parsed.success) throw new GitHubError('bad_response', `GitHub ${what}: unexpected response shape`);
        out.push(...parsed.data);
        if (out.length >= max) break;
      }
    } catch (err) {
      throw toGitHubError(err, what, token);
    }
    return out.slice(0, max);
  }

  return {
    async getViewer() {
      const u = await call('get user', viewerSchema, () => octokit.rest.users.getAuthenticated());
      return { id: u.id, login: u.login, name: u.name ?? null, avatarUrl: u.avatar_url };
    },

    async listRepos({ page = 1, perPage = 30 } = {}) {
      const safePage = Math.max(1, Math.floor(page));
      const safePer = Math.min(100, Math.max(1, Math.floor(perPage)));
      let link = '';
      const repos = await call('list repositories', z.array(repoSchema), async () => {
        const res = await octokit.rest.repos.listForAuthenticatedUser({ page: safePage, per_page: safePer, sort: 'pushed' });
        link = res.headers.link ?? '';
        return res;
      });
      return { repos: repos.map(toRepoSummary), hasMore: /rel="next"/.test(link) };
    },

    async listAllRepos(max = DEFAULT_MAX_REPOS) {
      const repos = await paginateAll('list repositories', max,
        () => octokit.paginate.iterator(octokit.rest.repos.listForAuthenticatedUser, { per_page: 100, sort: 'pushed' }), repoSchema);
      return repos.map(toRepoSummary);
    },

    async getRepo(owner, name) {
      checkRepo(owner, name);
      return toRepoSummary(await call('get repository', repoSchema, () => octokit.rest.repos.get({ owner, repo: name })));
    },

    async listBranches(owner, name) {
      checkRepo(owner, name);
      const branches = await paginateAll('list branches', MAX_BRANCHES,
        () => octokit.paginate.iterator(octokit.rest.repos.listBranches, { owner, repo: name, per_page: 100 }), branchSchema);
      return branches.map((b) => b.name);
    },

    async getBranchHead(owner, name, branch) {
      checkRepo(owner, name);
      const b = await call('get branch', branchSchema, () => octokit.rest.repos.getBranch({ owner, repo: name, branch }));
      return { name: b.name, sha: b.commit.sha };
    },

    async listRootFiles(owner, name, ref) {
      checkRepo(owner, name);
      const entries = await call('list files', z.array(dirEntrySchema), () => octokit.rest.repos.getContent({ owner, repo: name, path: '', ref }));
      return entries.map((e) => e.name);
    },

    async tokenScopes() {
      let header: string | undefined;
      await call('get user', viewerSchema, async () => {
        const res = await octokit.rest.users.getAuthenticated();
        header = res.headers['x-oauth-scopes'];
        return res;
      });
      if (header === undefined) return null;
      return header.split(',').map((x) => x.trim()).filter(Boolean);
    },

    async createCommitStatus(owner, name, sha, status) {
      checkRepo(owner, name);
      if (!/^[0-9a-f]{40}$/.test(sha)) throw new GitHubError('not_found', 'Commit not found', { status: 404 });
      await call('create commit status', z.unknown(), () => octokit.rest.repos.createCommitStatus({
        owner, repo: name, sha, state: status.state, target_url: status.targetUrl, description: status.description.slice(0, 140), context: status.context,
      }));
    },

    async readFile(owner, name, path, ref) {
      checkRepo(owner, name);
      const clean = path.replace(/^\/+/, '');
      if (!clean || clean.split('/').some((s) => s === '..' || s === '.' || s === '')) {
        throw new GitHubError('not_found', 'File not found', { status: 404 });
      }
      let data: unknown;
      try {
        ({ data } = await octokit.rest.repos.getContent({ owner, repo: name, path: clean, ref }));
      } catch (err) {
        const ge = toGitHubError(err, 'read file', token);
        if (ge.kind === 'not_found') return null;
        throw ge;
      }
      if (Array.isArray(data)) return null; // a directory
      const file = fileSchema.safeParse(data);
      if (!file.success) {
        // symlinks and submodules are not files we can read
        if (data && typeof data === 'object' && typeof (data as { type?: unknown }).type === 'string') return null;
        throw new GitHubError('bad_response', 'GitHub read file: unexpected response shape');
      }
      if (file.data.size > MAX_FILE_BYTES || file.data.encoding !== 'base64' || file.data.content === undefined) {
        throw new GitHubError('bad_response', `${clean} is larger than ${MAX_FILE_BYTES / 1024} KiB`);
      }
      return Buffer.from(file.data.content, 'base64').toString('utf8');
    },
  };
}

import { z } from 'zod';
import { FileTooLargeError, GitHubError, RootTooLargeError } from './errors.js';
import { createGitHubHttp, type GitHubRequest } from './http.js';
import { withoutTrailingSlashes } from '../text.js';
import { branchSchema, compareSchema, dirEntrySchema, fileSchema, repoSchema, toRepoSummary, treeSchema, viewerSchema, type RepoSummary } from './schemas.js';

export { FileTooLargeError, GitHubError, RootTooLargeError, type GitHubErrorKind } from './errors.js';
export type { RepoSummary } from './schemas.js';

/** Files bigger than this are not read (stack detection only needs small manifests). */
export const MAX_FILE_BYTES = 256 * 1024;
const MAX_BRANCHES = 1000;
/**
 * "This API has an upper limit of 1,000 files for a directory. If you need to retrieve more files, use
 * the Git Trees API" (get repository content): a listing that long may have been cut.
 */
export const CONTENTS_DIRECTORY_LIMIT = 1000;

interface GitHubClientOptions {
  /** REST base, e.g. https://api.github.com or the simulator's /api/v3. */
  apiUrl: string;
  /** The user's OAuth token. Used only in the Authorization header, never in messages. */
  token: string;
  /** Retries, a short rate-limit wait and per-token write pacing (server/github/http.ts; default on). */
  retries?: boolean;
  /** Per-token write pacing in this process; default: as `retries`. Off for a caller that paces its writes itself. */
  pacedWrites?: boolean;
  /** Per-request timeout. Default 10 s. */
  timeoutMs?: number;
  /** The wait before a retry (default: a timer; server/github/http.ts). */
  sleep?: (ms: number) => Promise<void>;
}

/** One entry of a repository's root. */
export interface RootEntry { name: string; dir: boolean }

export interface GitHubClient {
  getViewer(): Promise<{ id: number; login: string; name: string | null; avatarUrl: string }>;
  /** One page for the picker, most recently pushed first. */
  listRepos(opts?: { page?: number; perPage?: number }): Promise<{ repos: RepoSummary[]; hasMore: boolean }>;
  getRepo(owner: string, name: string): Promise<RepoSummary>;
  listBranches(owner: string, name: string): Promise<string[]>;
  /**
   * The branch's name as GitHub answered it (a renamed branch's old name redirects to the new) and its head.
   * `redirected`: GitHub answered from elsewhere (a renamed branch, or a renamed or transferred repository).
   */
  getBranchHead(owner: string, name: string, branch: string): Promise<{ name: string; sha: string; redirected?: true }>;
  /**
   * How `head` stands to `base` (docs/github-api.md, "Is a commit on a branch"): `ahead` or `identical`
   * means base is in head's history. An unknown commit is a not_found GitHubError.
   */
  compareCommits(owner: string, name: string, base: string, head: string): Promise<{ status: 'ahead' | 'behind' | 'identical' | 'diverged' }>;
  /** The entries at the repository root on `ref`: files (symlinks among them) and directories (submodules among them). */
  listRootFiles(owner: string, name: string, ref: string): Promise<RootEntry[]>;
  /**
   * The entries of the directory at `path` on `ref`, as listRootFiles's; null when the path is no
   * directory (missing, a file). Not read again through the tree: a listing of CONTENTS_DIRECTORY_LIMIT
   * entries may have been cut, which the caller judges.
   */
  listDirectory(owner: string, name: string, path: string, ref: string): Promise<RootEntry[] | null>;
  /** File text, or null when it does not exist (or is a directory). Throws FileTooLargeError above 256 KiB. */
  readFile(owner: string, name: string, path: string, ref: string): Promise<string | null>;
  /**
   * The OAuth scopes the token carries (GitHub's X-OAuth-Scopes header on GET /user), or null when
   * GitHub does not say (fine-grained tokens and GitHub App tokens have no scopes).
   */
  tokenScopes(): Promise<string[] | null>;
  /**
   * The token's scopes as this client's last answer stated them: GitHub sends X-OAuth-Scopes on every
   * authenticated answer, not only GET /user's (docs/github-api.md). Null when an answer came without
   * it (no OAuth scopes), undefined before any answer.
   */
  seenScopes(): string[] | null | undefined;
  /** POST /repos/{owner}/{repo}/statuses/{sha}: a commit status (needs the repo or repo:status scope). */
  createCommitStatus(owner: string, name: string, sha: string, status: CommitStatus): Promise<void>;
}

interface CommitStatus {
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
  const http = createGitHubHttp({
    apiUrl: withoutTrailingSlashes(opts.apiUrl),
    token: opts.token,
    userAgent: 'render-orchestrator',
    retries: opts.retries ?? true,
    pacedWrites: opts.pacedWrites ?? opts.retries ?? true,
    timeoutMs: opts.timeoutMs ?? 10_000,
    sleep: opts.sleep,
  });

  let seen: string[] | null | undefined;
  const scopesOf = (headers: Record<string, string>) => {
    const header = headers['x-oauth-scopes'];
    return (seen = header === undefined ? null : header.split(',').map((x) => x.trim()).filter(Boolean));
  };
  const request = async (req: GitHubRequest) => {
    const res = await http.request(req);
    scopesOf(res.headers);
    return res;
  };

  /** One call whose data must match `schema` (else bad_response). */
  async function call<S extends z.ZodType>(req: GitHubRequest, schema: S): Promise<{ data: z.infer<S>; headers: Record<string, string>; redirected?: true }> {
    const res = await request(req);
    const parsed = schema.safeParse(res.data);
    if (!parsed.success) throw new GitHubError('bad_response', `GitHub ${req.what}: unexpected response shape`);
    return { data: parsed.data, headers: res.headers, ...(res.redirected ? { redirected: true } : {}) };
  }

  /** Which page a path or Link URL names: absolute, its query sorted, `page=1` the same as no page. */
  const pageKey = (pathOrUrl: string): string => {
    // As the http layer makes it (http.ts urlOf): our paths are appended to the API's base, Links are absolute.
    const full = pathOrUrl.startsWith('/') ? `${withoutTrailingSlashes(opts.apiUrl)}${pathOrUrl}` : pathOrUrl;
    if (!URL.canParse(full)) return pathOrUrl; // refused by the http layer when asked for
    const url = new URL(full);
    if (url.searchParams.get('page') === '1') url.searchParams.delete('page');
    url.searchParams.sort();
    return `${url.pathname}?${url.searchParams.toString()}`;
  };

  /** Follows Link rel="next" from `path` until done or `max` items. */
  async function paginateAll<T>(what: string, path: string, max: number, item: z.ZodType<T>): Promise<T[]> {
    const out: T[] = [];
    const asked = new Set<string>();
    let next: string | null = path;
    while (next !== null && out.length < max) {
      asked.add(pageKey(next));
      const page: { data: T[]; headers: Record<string, string> } = await call({ what, path: next }, z.array(item));
      out.push(...page.data);
      // An empty page ends the list even with a rel="next": one pointing back at itself would loop forever;
      // so does a rel="next" to a page already read (two pages naming each other cost `max` calls, each page
      // listed again and again).
      next = page.data.length === 0 ? null : linkNext(page.headers.link);
      if (next !== null && asked.has(pageKey(next))) next = null;
    }
    return out.slice(0, max);
  }

  const repoPath = (owner: string, name: string) => {
    if (!OWNER_RE.test(owner) || !REPO_RE.test(name)) throw new GitHubError('not_found', 'Repository not found', { status: 404 });
    return `/repos/${owner}/${name}`;
  };
  const viewer = () => call({ what: 'get user', path: '/user', conditional: true }, viewerSchema);
  /**
   * GET …/contents/{path} (`clean`: without leading slashes): its answer, or null for GitHub's 404.
   * "..", "." and empty segments are refused (not_found) before any call.
   */
  const contents = async (what: string, owner: string, name: string, clean: string, ref: string): Promise<{ data: unknown } | null> => {
    const repo = repoPath(owner, name);
    const segments = clean.split('/');
    if (segments.some((s) => s === '..' || s === '.' || s === '')) throw new GitHubError('not_found', 'File not found', { status: 404 });
    try {
      return await request({ what, path: `${repo}/contents/${segments.map(encodeURIComponent).join('/')}?ref=${encodeURIComponent(ref)}`, conditional: true });
    } catch (err) {
      if (err instanceof GitHubError && err.kind === 'not_found') return null;
      throw err;
    }
  };

  return {
    async getViewer() {
      const { data: u } = await viewer();
      return { id: u.id, login: u.login, name: u.name ?? null, avatarUrl: u.avatar_url };
    },

    async listRepos({ page = 1, perPage = 30 } = {}) {
      const query = new URLSearchParams({ page: String(Math.max(1, Math.floor(page))), per_page: String(Math.min(100, Math.max(1, Math.floor(perPage)))), sort: 'pushed' });
      const { data, headers } = await call({ what: 'list repositories', path: `/user/repos?${query.toString()}` }, z.array(repoSchema));
      return { repos: data.map(toRepoSummary), hasMore: linkNext(headers.link) !== null };
    },

    async getRepo(owner, name) {
      return toRepoSummary((await call({ what: 'get repository', path: repoPath(owner, name), conditional: true }, repoSchema)).data);
    },

    async listBranches(owner, name) {
      const branches = await paginateAll('list branches', `${repoPath(owner, name)}/branches?per_page=100`, MAX_BRANCHES, branchSchema);
      return branches.map((b) => b.name);
    },

    async getBranchHead(owner, name, branch) {
      const { data: b, redirected } = await call({ what: 'get branch', path: `${repoPath(owner, name)}/branches/${encodeURIComponent(branch)}`, conditional: true }, branchSchema);
      return { name: b.name, sha: b.commit.sha, ...(redirected ? { redirected } : {}) };
    },

    async compareCommits(owner, name, base, head) {
      // Full SHAs only (no branch names, whose slashes the path would have to carry); one commit per page
      // keeps the answer small, since the comparison's status is on every page.
      if (!/^[0-9a-f]{40}$/.test(base) || !/^[0-9a-f]{40}$/.test(head)) throw new GitHubError('not_found', 'Commit not found', { status: 404 });
      try {
        const { data } = await call({ what: 'compare commits', path: `${repoPath(owner, name)}/compare/${base}...${head}?per_page=1` }, compareSchema);
        return { status: data.status };
      } catch (err) {
        // GitHub answers 404 for a SHA the repository does not have, and 422 ("No commit found") for some.
        if (err instanceof GitHubError && err.status === 422) throw new GitHubError('not_found', err.message, { status: 404 });
        throw err;
      }
    },

    async listRootFiles(owner, name, ref) {
      const path = `${repoPath(owner, name)}/contents/?ref=${encodeURIComponent(ref)}`;
      // A submodule is a directory in a checkout, as a tree's 'commit' entry is.
      const listed = (await call({ what: 'list files', path, conditional: true }, z.array(dirEntrySchema))).data
        .map((e) => ({ name: e.name, dir: e.type === 'dir' || e.type === 'submodule' }));
      if (listed.length < CONTENTS_DIRECTORY_LIMIT) return listed;
      // Possibly cut: the root's tree lists every entry (or says it could not).
      const treePath = `${repoPath(owner, name)}/git/trees/${encodeURIComponent(ref)}`;
      const { data: tree } = await call({ what: 'list root tree', path: treePath, conditional: true }, treeSchema).catch((err: unknown) => {
        // A tree answer over what this app reads is the root's size too (some 40,000 entries).
        throw err instanceof GitHubError && err.kind === 'too_large' ? new RootTooLargeError() : err;
      });
      if (tree.truncated) throw new RootTooLargeError();
      return tree.tree.map((e) => ({ name: e.path, dir: e.type === 'tree' || e.type === 'commit' }));
    },

    async listDirectory(owner, name, path, ref) {
      const found = await contents('list directory', owner, name, path.replace(/^\/+/, ''), ref);
      if (!Array.isArray(found?.data)) return null; // missing, or a file, a symlink, a submodule
      const listed = z.array(dirEntrySchema).safeParse(found.data);
      if (!listed.success) throw new GitHubError('bad_response', 'GitHub list directory: unexpected response shape');
      return listed.data.map((e) => ({ name: e.name, dir: e.type === 'dir' || e.type === 'submodule' }));
    },

    async tokenScopes() {
      await viewer();
      return seen ?? null; // read from that answer's X-OAuth-Scopes by request()
    },

    seenScopes: () => seen,

    async createCommitStatus(owner, name, sha, status) {
      const path = `${repoPath(owner, name)}/statuses/${sha}`;
      if (!/^[0-9a-f]{40}$/.test(sha)) throw new GitHubError('not_found', 'Commit not found', { status: 404 });
      await request({
        what: 'create commit status', method: 'POST', path,
        body: { state: status.state, target_url: status.targetUrl, description: status.description.slice(0, 140), context: status.context },
      });
    },

    async readFile(owner, name, path, ref) {
      const clean = path.replace(/^\/+/, '');
      const found = await contents('read file', owner, name, clean, ref);
      if (found === null) return null;
      const { data } = found;
      if (Array.isArray(data)) return null; // a directory
      const file = fileSchema.safeParse(data);
      if (!file.success) {
        // symlinks and submodules are not files we can read
        if (data && typeof data === 'object' && typeof (data as { type?: unknown }).type === 'string') return null;
        throw new GitHubError('bad_response', 'GitHub read file: unexpected response shape');
      }
      if (file.data.size > MAX_FILE_BYTES || file.data.encoding !== 'base64' || file.data.content === undefined) {
        throw new FileTooLargeError(clean, MAX_FILE_BYTES);
      }
      return fileText(Buffer.from(file.data.content, 'base64'));
    },
  };
}

/**
 * A file's bytes as the tools that read it see them: UTF-16 when it starts with a byte order mark
 * (PowerShell's `>` writes requirements.txt so; pip reads it), else UTF-8 without a leading mark
 * (Windows editors add one; npm and YAML ignore it, JSON.parse does not). TextDecoder drops the mark.
 */
function fileText(bytes: Buffer): string {
  const label = bytes[0] === 0xff && bytes[1] === 0xfe ? 'utf-16le' : bytes[0] === 0xfe && bytes[1] === 0xff ? 'utf-16be' : 'utf-8';
  return new TextDecoder(label).decode(bytes);
}

/** The rel="next" URL of a Link header, or null. */
function linkNext(link: string | undefined): string | null {
  for (const part of (link ?? '').split(',')) {
    const [target, ...params] = part.split(';').map((x) => x.trim());
    if (params.includes('rel="next"') && target?.startsWith('<') && target.endsWith('>')) return target.slice(1, -1);
  }
  return null;
}

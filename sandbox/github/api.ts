import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SimRepo, SimState } from './state.js';
import { inHistory, normalisePath, pastCommit, renamedBranch } from './state.js';
import { findRef, serveContents, serveRootTree } from './contents.js';
import { answerConditionally, paginate, readBody, sendError, sendJson } from './http.js';
import {
  presentAuthenticatedUser, presentBranch, presentBranchShort, presentCommit, presentRepo,
  type Bases,
} from './present.js';

export interface ApiContext {
  state: SimState;
  bases: Bases;
  /** http://127.0.0.1:PORT, for absolute Link URLs */
  origin: string;
  now: () => number;
}

const DOCS = {
  root: 'https://docs.github.com/rest',
  user: 'https://docs.github.com/rest/users/users#get-the-authenticated-user',
  userRepos: 'https://docs.github.com/rest/repos/repos#list-repositories-for-the-authenticated-user',
  repo: 'https://docs.github.com/rest/repos/repos#get-a-repository',
  branches: 'https://docs.github.com/rest/branches/branches#list-branches',
  branch: 'https://docs.github.com/rest/branches/branches#get-a-branch',
  contents: 'https://docs.github.com/rest/repos/contents#get-repository-content',
  commit: 'https://docs.github.com/rest/commits/commits#get-a-commit',
  compare: 'https://docs.github.com/rest/commits/commits#compare-two-commits',
};

interface Caller {
  login: string | undefined;
  headers: Record<string, string>;
  /** The token's OAuth scopes (none without a token). */
  scopes: string[];
  /** Gives this call back to the token's rate limit (a 304 is free); the rate headers to send then. */
  refund: () => Record<string, string>;
}

/**
 * POST /repos/{owner}/{repo}/statuses/{sha} ([docs](https://docs.github.com/rest/commits/statuses#create-a-commit-status)):
 * needs a token with the `repo` or `repo:status` scope (else 404, as GitHub answers a token that may not
 * write), a commit of the repository (else 422), and `state` ∈ error, failure, pending, success.
 */
export async function handleStatusPost(ctx: ApiContext, req: IncomingMessage, segs: string[], res: ServerResponse): Promise<{ login?: string }> {
  const auth = authenticate(ctx, req, res);
  if (auth === 'sent') return {};
  const { login, headers, scopes } = auth;
  const docs = 'https://docs.github.com/rest/commits/statuses#create-a-commit-status';
  const byId = segs[0] === 'repositories';
  const moved = byId ? undefined : ctx.state.movedRepo(segs[1]!, segs[2]!);
  const repo = byId ? (/^\d+$/.test(segs[1]!) ? ctx.state.repoById(Number(segs[1])) : undefined) : ctx.state.repo(segs[1]!, segs[2]!);
  if (!login) { sendError(res, 401, 'Requires authentication', docs, headers); return {}; }
  // A renamed or transferred repository's old name: 307 (a write keeps its method) to the repository by id.
  if (moved && ctx.state.canSee(moved, login)) {
    sendMoved(ctx, res, moved, segs.join('/'), 307, headers);
    return { login };
  }
  if (!repo || !ctx.state.canSee(repo, login) || !(scopes.includes('repo') || scopes.includes('repo:status'))) {
    sendError(res, 404, 'Not Found', docs, { ...headers, 'x-accepted-oauth-scopes': 'repo, repo:status' });
    return { login };
  }
  const raw = await readBody(req);
  let body: Record<string, unknown>;
  try { body = raw ? JSON.parse(raw) as Record<string, unknown> : {}; } catch { sendError(res, 400, 'Problems parsing JSON', docs, headers); return { login }; }
  const sha = segs[byId ? 3 : 4] ?? '';
  // Any commit of the repository, as on GitHub: a branch's head, or one a push left behind.
  const known = [...repo.branches.values()].some((b) => b.sha === sha) || pastCommit(repo, sha)?.sha === sha;
  const state = body.state;
  if (!known) { sendError(res, 422, `No commit found for SHA: ${sha}`, docs, headers); return { login }; }
  if (typeof state !== 'string' || !['error', 'failure', 'pending', 'success'].includes(state)) {
    sendError(res, 422, 'Validation Failed', docs, headers);
    return { login };
  }
  const status = {
    state, login, createdAt: new Date(ctx.now()).toISOString(),
    targetUrl: typeof body.target_url === 'string' ? body.target_url : null,
    description: typeof body.description === 'string' ? body.description.slice(0, 140) : null,
    context: typeof body.context === 'string' ? body.context : 'default',
  };
  const key = `${repo.owner.login}/${repo.name}@${sha}`.toLowerCase();
  ctx.state.statuses.set(key, [...(ctx.state.statuses.get(key) ?? []), status]);
  sendJson(res, 201, { state, target_url: status.targetUrl, description: status.description, context: status.context, created_at: status.createdAt }, headers);
  return { login };
}

/**
 * Serves the REST API under /api/v3 (GitHub Enterprise layout, so the client's base URL is simply the
 * simulator URL + /api/v3). Returns the authenticated login for the call log.
 */
export function handleApi(ctx: ApiContext, req: IncomingMessage, url: URL, apiPath: string, res: ServerResponse): { login?: string } {
  const auth = authenticate(ctx, req, res);
  if (auth === 'sent') return {};
  const { login, headers } = auth;
  const segs = apiPath.split('/').filter(Boolean).map((s) => safeDecode(s));
  const method = req.method ?? 'GET';
  const notFound = () => sendError(res, 404, 'Not Found', DOCS.root, headers);
  if (method !== 'GET' && method !== 'HEAD') {
    notFound();
    return { login };
  }
  answerConditionally(res, req.headers['if-none-match'], auth.refund);

  if (segs[0] === 'rate_limit' && segs.length === 1) {
    sendJson(res, 200, { resources: { core: rateBody(headers) }, rate: rateBody(headers) }, headers);
    return { login };
  }
  if (segs[0] === 'user' && segs.length === 1) {
    const user = login ? ctx.state.user(login) : undefined;
    if (!user) sendError(res, 401, 'Requires authentication', DOCS.user, headers);
    else sendJson(res, 200, presentAuthenticatedUser(user, ctx.bases, [...ctx.state.repos.values()]), headers);
    return { login };
  }
  if (segs[0] === 'user' && segs[1] === 'repos' && segs.length === 2) {
    if (!login) sendError(res, 401, 'Requires authentication', DOCS.userRepos, headers);
    else listUserRepos(ctx, login, url, res, headers);
    return { login };
  }
  // A repository by its id: where a renamed or transferred repository's old name redirects (renameRepo).
  const byId = segs[0] === 'repositories' && segs.length >= 2;
  if ((segs[0] === 'repos' && segs.length >= 3) || byId) {
    const moved = byId ? undefined : ctx.state.movedRepo(segs[1]!, segs[2]!);
    if (moved && ctx.state.canSee(moved, login)) {
      sendMoved(ctx, res, moved, apiPath, 301, headers, url.search);
      return { login };
    }
    const repo = byId ? (/^\d+$/.test(segs[1]!) ? ctx.state.repoById(Number(segs[1])) : undefined) : ctx.state.repo(segs[1]!, segs[2]!);
    if (!repo || !ctx.state.canSee(repo, login)) {
      sendError(res, 404, 'Not Found', DOCS.repo, headers);
      return { login };
    }
    const skip = byId ? 2 : 3;
    const rest = segs.slice(skip);
    // Branch names and paths may contain slashes: take the remainder of the raw path.
    const tail = (n: number) => apiPath.split('/').filter(Boolean).slice(n - 3 + skip).map(safeDecode).join('/');
    if (rest.length === 0) sendJson(res, 200, presentRepo(repo, ctx.bases, login), headers);
    else if (rest[0] === 'branches' && rest.length === 1) {
      const all = [...repo.branches.values()].sort((a, b) => a.name.localeCompare(b.name));
      const page = paginate(all, url, ctx.origin);
      sendJson(res, 200, page.items.map((br) => presentBranchShort(repo, br, ctx.bases)), withLink(headers, page.link));
    } else if (rest[0] === 'branches') {
      const asked = tail(4);
      const br = repo.branches.get(asked);
      const renamed = br ? undefined : renamedBranch(repo, asked);
      // A renamed branch's old name answers 301 Moved Permanently to the new name (get a branch lists
      // the 301; docs/github-api.md, "A renamed branch").
      if (renamed !== undefined) {
        const location = `${ctx.bases.api}/repos/${repo.owner.login}/${repo.name}/branches/${encodeURIComponent(renamed)}`;
        sendJson(res, 301, { message: 'Moved Permanently', url: location, documentation_url: DOCS.branch }, { ...headers, location });
      } else if (!br) sendError(res, 404, 'Branch not found', DOCS.branch, headers);
      else sendJson(res, 200, presentBranch(repo, br, ctx.bases), headers);
    } else if (rest[0] === 'commits' && rest.length >= 2) {
      const ref = tail(4);
      const br = findRef(repo, ref);
      // An empty repository (no commit yet) answers the git reads 409 (rest-api-description#385).
      if (repo.branches.size === 0) sendError(res, 409, 'Git Repository is empty.', DOCS.commit, headers);
      else if (!br) sendError(res, 422, `No commit found for SHA: ${ref}`, DOCS.commit, headers);
      else sendJson(res, 200, presentCommit(repo, br, ctx.bases), headers);
    } else if (rest[0] === 'compare' && rest.length >= 2) {
      compare(repo, tail(4), res, headers);
    } else if (rest[0] === 'contents') {
      serveContents(ctx, repo, normalisePath(tail(4)), url, res, headers);
    } else if (rest[0] === 'git' && rest[1] === 'trees' && rest.length >= 3) {
      serveRootTree(repo, tail(5), res, headers);
    } else notFound();
    return { login };
  }
  notFound();
  return { login };
}

/**
 * GET /repos/{owner}/{repo}/compare/{base}...{head} ([docs](https://docs.github.com/rest/commits/commits#compare-two-commits)):
 * `status` is `identical`, `ahead` (base is in head's history), `behind` or `diverged`; a ref the
 * repository does not have is a 404. Only the status and counts are modelled, not commits or files.
 */
function compare(repo: SimRepo, basehead: string, res: ServerResponse, headers: Record<string, string>): void {
  const [baseRef, headRef, extra] = basehead.split('...');
  const base = baseRef ? findRef(repo, baseRef) : undefined;
  const head = headRef ? findRef(repo, headRef) : undefined;
  if (extra !== undefined || !base || !head) {
    sendError(res, 404, 'Not Found', DOCS.compare, headers);
    return;
  }
  const status = base.sha === head.sha ? 'identical'
    : inHistory(repo, base.sha, head.sha) ? 'ahead'
    : inHistory(repo, head.sha, base.sha) ? 'behind' : 'diverged';
  sendJson(res, 200, { status, base_commit: { sha: base.sha }, commits: [], files: [] }, headers);
}

/** Resolves the token; answers 401/403 itself (bad token, exhausted budget) and returns 'sent'. */
function authenticate(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Caller | 'sent' {
  const header = req.headers.authorization;
  const nowSec = Math.floor(ctx.now() / 1000);
  if (!header) {
    const headers = rateHeaders(60, 59, nowSec + 3600, 'core');
    return { login: undefined, headers, scopes: [], refund: () => headers };
  }
  const m = /^(?:bearer|token)\s+(\S+)$/i.exec(header.trim());
  const token = m ? ctx.state.tokens.get(m[1]!) : undefined;
  if (!token || !ctx.state.user(token.login) || (token.expiresAt !== undefined && token.expiresAt <= ctx.now())) {
    sendError(res, 401, 'Bad credentials', DOCS.root, rateHeaders(60, 59, nowSec + 3600, 'core'));
    return 'sent';
  }
  if (token.resetAt <= nowSec) {
    token.remaining = 5000;
    token.resetAt = nowSec + 3600;
  }
  if (token.remaining <= 0) {
    const user = ctx.state.user(token.login)!;
    sendError(res, 403, `API rate limit exceeded for user ID ${user.id}.`, 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api',
      rateHeaders(5000, 0, token.resetAt, 'core'));
    return 'sent';
  }
  token.remaining -= 1;
  const headers = rateHeaders(5000, token.remaining, token.resetAt, 'core');
  const scopes = token.scope.split(',').filter(Boolean);
  headers['x-oauth-scopes'] = scopes.join(', ');
  headers['x-accepted-oauth-scopes'] = '';
  const refund = () => {
    token.remaining = Math.min(5000, token.remaining + 1);
    return rateHeaders(5000, token.remaining, token.resetAt, 'core');
  };
  return { login: token.login, headers, scopes: scopes.map((x) => x.trim()), refund };
}

function rateHeaders(limit: number, remaining: number, reset: number, resource: string): Record<string, string> {
  return {
    'x-ratelimit-limit': String(limit),
    'x-ratelimit-remaining': String(remaining),
    'x-ratelimit-reset': String(reset),
    'x-ratelimit-used': String(limit - remaining),
    'x-ratelimit-resource': resource,
  };
}

function rateBody(h: Record<string, string>) {
  return {
    limit: Number(h['x-ratelimit-limit']),
    remaining: Number(h['x-ratelimit-remaining']),
    reset: Number(h['x-ratelimit-reset']),
    used: Number(h['x-ratelimit-used']),
  };
}

function withLink(headers: Record<string, string>, link: string | undefined): Record<string, string> {
  return link ? { ...headers, link } : headers;
}

function listUserRepos(ctx: ApiContext, login: string, url: URL, res: ServerResponse, headers: Record<string, string>): void {
  const q = url.searchParams;
  const type = q.get('type');
  if (type && (q.has('visibility') || q.has('affiliation'))) {
    sendJson(res, 422, {
      message: 'If you specify visibility or affiliation, you cannot specify type.',
      errors: [{ resource: 'Search', field: 'q', code: 'invalid' }],
      documentation_url: DOCS.userRepos,
      status: '422',
    }, headers);
    return;
  }
  let visibility = q.get('visibility') ?? 'all';
  let affiliation = new Set((q.get('affiliation') ?? 'owner,collaborator,organization_member').split(',').map((s) => s.trim()));
  if (type === 'owner') affiliation = new Set(['owner']);
  else if (type === 'member') affiliation = new Set(['collaborator', 'organization_member']);
  else if (type === 'public' || type === 'private') visibility = type;

  const me = login.toLowerCase();
  const mine = [...ctx.state.repos.values()].filter((r) => {
    const owner = r.owner.login.toLowerCase() === me;
    const collab = r.collaborators.has(me);
    if (!((owner && affiliation.has('owner')) || (collab && affiliation.has('collaborator')))) return false;
    if (visibility === 'public') return !r.private;
    if (visibility === 'private') return r.private;
    return true;
  });

  const sort = q.get('sort') ?? 'full_name';
  const direction = q.get('direction') ?? (sort === 'full_name' ? 'asc' : 'desc');
  const key = (r: SimRepo): string =>
    sort === 'created' ? r.createdAt : sort === 'updated' || sort === 'pushed' ? r.pushedAt : `${r.owner.login}/${r.name}`.toLowerCase();
  mine.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : a.id - b.id) * (direction === 'asc' ? 1 : -1));

  const page = paginate(mine, url, ctx.origin);
  sendJson(res, 200, page.items.map((r) => presentRepo(r, ctx.bases, login)), withLink(headers, page.link));
}

export function safeDecode(s: string): string {
  try { return decodeURIComponent(s); } catch { return s; }
}

/**
 * A renamed or transferred repository asked for by its old name: GitHub answers 301 (GET, HEAD) or 307
 * (other methods) with a Location under /repositories/{id}, the rest of the path kept.
 */
function sendMoved(ctx: ApiContext, res: ServerResponse, repo: SimRepo, apiPath: string, status: 301 | 307, headers: Record<string, string>, search = ''): void {
  const rest = apiPath.split('/').filter(Boolean).slice(3).join('/');
  const location = `${ctx.bases.api}/repositories/${repo.id}${rest ? `/${rest}` : ''}${search}`;
  sendJson(res, status, { message: 'Moved Permanently', url: location, documentation_url: 'https://docs.github.com/rest/guides/best-practices-for-using-the-rest-api#follow-redirects' }, { ...headers, location });
}

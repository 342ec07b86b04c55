import type Router from '@koa/router';
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { errors } from '../errors.js';
import { openGithubToken } from '../sessions/credentials.js';
import { requireUser } from '../middleware/context.js';
import { validate } from '../middleware/validate.js';
import type { AppSession } from '../sessions/types.js';
import { GitHubError, type GitHubClient, type RepoSummary } from '../github/client.js';
import { BranchesView, presentRepo, RepoPageView } from '../presenters/repo.js';
import { documented } from '../openapi/describe.js';
import { queryWholeNumber } from '../middleware/queryNumber.js';

/** A name filter looks at this many pages of 100 (most recently pushed first), then says it stopped. */
const REPO_SEARCH_MAX_PAGES = 5;
const GITHUB_PAGE_MAX = 100;

const ReposQuery = z.object({
  page: queryWholeNumber({ min: 1, max: 1000, default: 1 }),
  per_page: queryWholeNumber({ min: 1, max: GITHUB_PAGE_MAX, default: 30 }),
  q: z.string().trim().max(100).optional(),
}).strict();
type ReposQuery = z.infer<typeof ReposQuery>;

/** The caller's GitHub client, with the token opened from their session for this request only. */
export function callerGitHub(deps: AppDeps, session: AppSession): GitHubClient {
  const token = openGithubToken(session, deps.keyring);
  if (!token) throw errors.githubTokenInvalid();
  return deps.upstream.github(token);
}

/**
 * The repo and branch picker. GitHub answers for the caller's own token, so a repository they cannot
 * see is GitHub's 404 (mapped to ours); a revoked token is GitHub's 401 (→ 401 github_token_invalid).
 */
export function githubRoutes(router: Router, deps: AppDeps) {
  const guards = [deps.rateLimits.guard('githubReads')];

  router.get('/api/github/repos', documented({ summary: 'The caller\'s GitHub repositories (most recently pushed first), optionally filtered by name', tag: 'github', responses: { 200: RepoPageView }, errors: ['github_unavailable', 'github_forbidden'] }), requireUser(), ...guards, validate({ query: ReposQuery }), async (ctx) => {
    const q = ctx.input.query;
    const github = callerGitHub(deps, ctx.state.session);
    const needle = q.q?.toLowerCase();
    if (!needle) {
      const { repos, hasMore } = await github.listRepos({ page: q.page, perPage: q.per_page });
      ctx.body = { repos: repos.map(presentRepo), page: q.page, perPage: q.per_page, hasMore, truncated: false } satisfies z.infer<typeof RepoPageView>;
      return;
    }
    const { matches, truncated } = await searchRepos(github, needle);
    const start = (q.page - 1) * q.per_page;
    ctx.body = {
      repos: matches.slice(start, start + q.per_page).map(presentRepo),
      page: q.page, perPage: q.per_page, hasMore: matches.length > start + q.per_page, truncated,
    } satisfies z.infer<typeof RepoPageView>;
  });

  router.get('/api/github/repos/:owner/:repo/branches', documented({ summary: 'A repository\'s branches and its default branch', tag: 'github', responses: { 200: BranchesView }, errors: ['github_unavailable', 'github_forbidden'] }), requireUser(), ...guards, async (ctx) => {
    const github = callerGitHub(deps, ctx.state.session);
    const owner = String(ctx.params.owner);
    const name = String(ctx.params.repo);
    // getRepo first: it is the visibility check, and it names the default branch.
    const repo = await github.getRepo(owner, name);
    const branches = await github.listBranches(repo.owner, repo.name);
    // GitHub lists branches by name and the client reads 1,000 at most: a default branch named after the
    // 1,000th was missing, and the form preselected the first branch listed instead. Asked for on its own
    // then (one call, only when it is not listed; a default branch that does not exist stays unlisted).
    if (!branches.includes(repo.defaultBranch)) {
      const head = await github.getBranchHead(repo.owner, repo.name, repo.defaultBranch).catch((err: unknown) => {
        if (err instanceof GitHubError && err.kind === 'not_found') return null;
        throw err;
      });
      if (head && !branches.includes(head.name)) branches.unshift(head.name);
    }
    ctx.body = { branches, defaultBranch: repo.defaultBranch } satisfies z.infer<typeof BranchesView>;
  });
}

/** Case-insensitive substring match on owner/name over the first few pages of the caller's repos. */
async function searchRepos(github: GitHubClient, needle: string): Promise<{ matches: RepoSummary[]; truncated: boolean }> {
  const matches: RepoSummary[] = [];
  for (let page = 1; page <= REPO_SEARCH_MAX_PAGES; page++) {
    const { repos, hasMore } = await github.listRepos({ page, perPage: GITHUB_PAGE_MAX });
    for (const r of repos) if (r.fullName.toLowerCase().includes(needle)) matches.push(r);
    if (!hasMore) return { matches, truncated: false };
  }
  return { matches, truncated: true };
}

/**
 * Service names and repositories, compared the way Render treats them: a name is unique within a
 * workspace, and a repository is the same one whatever URL form points at it.
 */

import { trimTrailing, withoutTrailingSlashes } from '../text.js';
import { GITHUB_REPO } from '../deployments/input.js';

const MAX_NAME = 63;

/** `https://github.com/Owner/Repo.git`, `git@github.com:owner/repo`, `owner/repo` → `github.com/owner/repo`. */
export function normalizeRepo(repo: string | null | undefined): string | null {
  if (!repo) return null;
  // A bare owner/name by its shape (an owner has no dot): told by a dot in it, `acme/acme.github.io` or
  // `acme/site.js` was taken for a host and path, so no URL of that repository matched it.
  const bare = GITHUB_REPO.test(repo.trim());
  let s = repo.trim().toLowerCase();
  s = s.replace(/^git@([^:]+):/, '$1/').replace(/^[a-z+]+:\/\//, '').replace(/^[^@/]+@/, '').replace(/^www\./, '');
  const query = s.search(/[?#]/);
  if (query !== -1) s = s.slice(0, query);
  s = withoutTrailingSlashes(s).replace(/\.git$/, '');
  if (bare || !s.includes('.')) s = `github.com/${s}`; // a bare owner/name is a GitHub repository here
  return s || null;
}

/**
 * The `owner/name` of a service's repository when it is on GitHub, whatever form of the URL Render holds
 * (`https://github.com/o/r`, `.git`, `www.`, `http://`, a trailing slash, `git@github.com:o/r`); null for
 * another Git host (GitLab, Bitbucket) or none. What a redeploy checks a commit against, and where its
 * commit statuses go: the URL less its `https://github.com/` alone named no repository for the other forms.
 */
export function githubRepoOf(repo: string | null | undefined): string | null {
  // `https://x-access-token:…@github.com/o/r` is GitHub's too: its user info is no part of the repository.
  const s = withoutUserInfo(repo?.trim() ?? '');
  const host = /^(?:https?:\/\/(?:www\.)?github\.com\/|git@github\.com:)/i.exec(s);
  if (!host) return null;
  let path = withoutTrailingSlashes(s.slice(host[0].length));
  if (path.toLowerCase().endsWith('.git')) path = path.slice(0, -'.git'.length);
  return GITHUB_REPO.test(path) ? path : null;
}

/**
 * A repository URL as the app keeps or shows it: without user info (`https://user:token@host/o/r`, up to the
 * authority's last `@`, as URL parsers split it: a password may hold one unencoded). Render
 * holds the URL it was given, and a token in it is a credential: never on a page, a record or a Slack message.
 */
export const withoutUserInfo = (repo: string): string => repo.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1');

export const sameRepo = (a: string | null | undefined, b: string | null | undefined): boolean => {
  const x = normalizeRepo(a);
  return x !== null && x === normalizeRepo(b);
};

/** The first of name-2, name-3, … that nobody in the workspace uses (kept a valid DNS label). */
export function suggestFreeName(name: string, taken: ReadonlySet<string>): string {
  for (let n = 2; n < 1_000; n++) {
    const suffix = `-${n}`;
    const candidate = `${trimTrailing(name.slice(0, MAX_NAME - suffix.length), '-')}${suffix}`;
    if (!taken.has(candidate)) return candidate;
  }
  return `${name.slice(0, MAX_NAME - 7)}-${Date.now().toString(36).slice(-6)}`;
}

/**
 * A service's dashboardUrl as Render gives it, only when it is a page of Render's dashboard (https, its host): shown
 * as "Render dashboard", any other address (plain http, a look-alike host) would be a link the app vouches for.
 */
export function dashboardUrlOf(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' && url.hostname === 'dashboard.render.com' ? url.href : null;
  } catch {
    return null;
  }
}

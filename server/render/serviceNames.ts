/**
 * Service names and repositories, compared the way Render treats them: a name is unique within a
 * workspace, and a repository is the same one whatever URL form points at it.
 */

import { trimTrailing, withoutTrailingSlashes } from '../text.js';

const MAX_NAME = 63;

/** `https://github.com/Owner/Repo.git`, `git@github.com:owner/repo`, `owner/repo` → `github.com/owner/repo`. */
export function normalizeRepo(repo: string | null | undefined): string | null {
  if (!repo) return null;
  let s = repo.trim().toLowerCase();
  s = s.replace(/^git@([^:]+):/, '$1/').replace(/^[a-z+]+:\/\//, '').replace(/^[^@/]+@/, '').replace(/^www\./, '');
  const query = s.search(/[?#]/);
  if (query !== -1) s = s.slice(0, query);
  s = withoutTrailingSlashes(s).replace(/\.git$/, '');
  if (!s.includes('.')) s = `github.com/${s}`; // a bare owner/name is a GitHub repository here
  return s || null;
}

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

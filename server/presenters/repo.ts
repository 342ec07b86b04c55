import type { RepoSummary } from '../github/client.js';

/** What the repo picker gets: no clone URLs or anything the UI does not need. */
export function presentRepo(r: RepoSummary) {
  return { fullName: r.fullName, owner: r.owner, name: r.name, private: r.private, defaultBranch: r.defaultBranch, pushedAt: r.pushedAt };
}

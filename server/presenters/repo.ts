import { z } from 'zod';
import type { RepoSummary } from '../github/client.js';
import { view } from '../openapi/describe.js';

export const RepoView = view('Repo', z.object({
  fullName: z.string(), owner: z.string(), name: z.string(), private: z.boolean(), defaultBranch: z.string(), pushedAt: z.string().nullable(),
}));
type RepoView = z.infer<typeof RepoView>;

/** What the repo picker gets: no clone URLs or anything the UI does not need. */
export function presentRepo(r: RepoSummary): RepoView {
  return { fullName: r.fullName, owner: r.owner, name: r.name, private: r.private, defaultBranch: r.defaultBranch, pushedAt: r.pushedAt };
}

export const RepoPageView = view('RepoPage', z.object({
  repos: z.array(RepoView), page: z.number().int(), perPage: z.number().int(), hasMore: z.boolean(),
  /** A name filter stopped after its page limit: more matches may exist. */
  truncated: z.boolean(),
}));
export const BranchesView = view('Branches', z.object({ branches: z.array(z.string()), defaultBranch: z.string() }));

import { z } from 'zod';

// Only the fields the product reads; anything else GitHub sends is ignored, anything missing
// here is a bad_response instead of an undefined deep inside the deploy pipeline.

export const viewerSchema = z.object({
  id: z.number().int(),
  login: z.string().min(1),
  name: z.string().nullable().optional(),
  avatar_url: z.string(),
});

export const repoSchema = z.object({
  full_name: z.string().min(1),
  name: z.string().min(1),
  owner: z.object({ login: z.string().min(1) }),
  private: z.boolean(),
  default_branch: z.string().min(1),
  html_url: z.string(),
  clone_url: z.string(),
  pushed_at: z.string().nullable().optional(),
});

/** GET /repos/{o}/{r}/compare/{base}...{head}: only the comparison's status is read. */
export const compareSchema = z.object({ status: z.enum(['ahead', 'behind', 'identical', 'diverged']) });

export const branchSchema = z.object({
  name: z.string().min(1),
  commit: z.object({ sha: z.string().min(1) }),
});

export const dirEntrySchema = z.object({ name: z.string(), type: z.string() });

/** GET /repos/{owner}/{repo}/git/trees/{tree_sha} (not recursive): the root's entries by `path`. */
export const treeSchema = z.object({ tree: z.array(z.object({ path: z.string(), type: z.string() })), truncated: z.boolean().optional() });

export const fileSchema = z.object({
  type: z.literal('file'),
  size: z.number().int().nonnegative(),
  encoding: z.string().optional(),
  content: z.string().optional(),
});

/** What the picker and the deploy pipeline get for a repository. */
export interface RepoSummary {
  fullName: string;
  owner: string;
  name: string;
  private: boolean;
  defaultBranch: string;
  htmlUrl: string;
  cloneUrl: string;
  pushedAt: string | null;
}

export function toRepoSummary(r: z.infer<typeof repoSchema>): RepoSummary {
  return {
    fullName: r.full_name,
    owner: r.owner.login,
    name: r.name,
    private: r.private,
    defaultBranch: r.default_branch,
    htmlUrl: r.html_url,
    cloneUrl: r.clone_url,
    pushedAt: r.pushed_at ?? null,
  };
}

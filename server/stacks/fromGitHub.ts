import type { GitHubClient } from '../github/client.js';
import type { RepoFiles } from './types.js';

/** RepoFiles over the GitHub API at one ref: one listing call, then each file read at most once. */
export async function repoFilesFromGitHub(gh: GitHubClient, owner: string, name: string, ref: string): Promise<RepoFiles> {
  const list = await gh.listRootFiles(owner, name, ref);
  const cache = new Map<string, Promise<string | null>>();
  return {
    list,
    read(path) {
      let p = cache.get(path);
      if (!p) {
        p = gh.readFile(owner, name, path, ref);
        cache.set(path, p);
      }
      return p;
    },
  };
}

import { FileTooLargeError, type GitHubClient } from '../github/client.js';
import { FileOverLimit, type RepoFiles } from './types.js';

/** RepoFiles over the GitHub API at one ref: one listing call, then each file read at most once. */
export async function repoFilesFromGitHub(gh: GitHubClient, owner: string, name: string, ref: string): Promise<RepoFiles> {
  const entries = await gh.listRootFiles(owner, name, ref);
  const list = entries.filter((e) => !e.dir).map((e) => e.name);
  const dirs = entries.filter((e) => e.dir).map((e) => e.name);
  const cache = new Map<string, Promise<string | null>>();
  return {
    list,
    dirs,
    read(path) {
      let p = cache.get(path);
      if (!p) {
        // A file over the client's limit is the repository's content, not GitHub failing: detection
        // words it (a deploy must not retry it as an outage) or, asking only whether it exists, has it.
        p = gh.readFile(owner, name, path, ref).catch((err: unknown) => {
          throw err instanceof FileTooLargeError ? new FileOverLimit(path) : err;
        });
        cache.set(path, p);
      }
      return p;
    },
  };
}

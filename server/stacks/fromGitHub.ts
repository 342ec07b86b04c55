import { FileTooLargeError, type GitHubClient } from '../github/client.js';
import { FileOverLimit, type RepoFiles } from './types.js';

/** RepoFiles over the GitHub API at one ref: one listing call, then each file read at most once. */
export async function repoFilesFromGitHub(gh: GitHubClient, owner: string, name: string, ref: string): Promise<RepoFiles> {
  const entries = await gh.listRootFiles(owner, name, ref);
  const list = entries.filter((e) => !e.dir).map((e) => e.name);
  const dirs = entries.filter((e) => e.dir).map((e) => e.name);
  const cache = new Map<string, Promise<string | null>>();
  // GitHub answers 404 alike for a file the commit does not have and for every file of a repository
  // the token can no longer see (made private, deleted, transferred since the listing). A listed file
  // read as missing (or as a symlink, a submodule) asks, once, whether the repository is still there:
  // its GitHubError (not_found, forbidden) goes to the caller instead of a detection without the file.
  let repoSeen: Promise<unknown> | undefined;
  return {
    list,
    dirs,
    read(path) {
      let p = cache.get(path);
      if (!p) {
        // A file over the client's limit is the repository's content, not GitHub failing: detection
        // words it (a deploy must not retry it as an outage) or, asking only whether it exists, has it.
        p = gh.readFile(owner, name, path, ref).then(async (text) => {
          if (text === null && list.includes(path)) await (repoSeen ??= gh.getRepo(owner, name));
          return text;
        }, (err: unknown) => {
          throw err instanceof FileTooLargeError ? new FileOverLimit(path) : err;
        });
        cache.set(path, p);
      }
      return p;
    },
  };
}

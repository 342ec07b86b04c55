import { CONTENTS_DIRECTORY_LIMIT, FileTooLargeError, type GitHubClient } from '../github/client.js';
import { FileOverLimit, type DirEntries, type RepoFiles } from './types.js';

/**
 * RepoFiles over the GitHub API at one ref: one listing call, then each file read, and each directory
 * a detector asks for listed, at most once.
 */
export async function repoFilesFromGitHub(gh: GitHubClient, owner: string, name: string, ref: string): Promise<RepoFiles> {
  const entries = await gh.listRootFiles(owner, name, ref);
  const list = entries.filter((e) => !e.dir).map((e) => e.name);
  const dirs = entries.filter((e) => e.dir).map((e) => e.name);
  const cache = new Map<string, Promise<string | null>>();
  const listings = new Map<string, Promise<DirEntries | null>>();
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
    listDir(path) {
      let p = listings.get(path);
      if (!p) {
        p = gh.listDirectory(owner, name, path, ref).then(async (entries) => {
          if (entries === null && dirs.includes(path)) await (repoSeen ??= gh.getRepo(owner, name));
          // A listing that long may have been cut (the contents API stops at 1,000): not the whole directory.
          if (entries === null || entries.length >= CONTENTS_DIRECTORY_LIMIT) return null;
          return { files: entries.filter((e) => !e.dir).map((e) => e.name), dirs: entries.filter((e) => e.dir).map((e) => e.name) };
        });
        listings.set(path, p);
      }
      return p;
    },
  };
}

import type { ServerResponse } from 'node:http';
import { blobSha, pastCommit, type SimBranch, type SimRepo } from './state.js';
import { sendError, sendJson } from './http.js';
import { presentDirEntry, presentFile } from './present.js';
import type { ApiContext } from './api.js';

// A repository's files: GET …/contents/{path} and GET …/git/trees/{tree_sha} (its root only).

const CONTENTS_DOCS = 'https://docs.github.com/rest/repos/contents#get-repository-content';
const TREE_DOCS = 'https://docs.github.com/rest/git/trees#get-a-tree';
/**
 * "This API has an upper limit of 1,000 files for a directory. If you need to retrieve more files,
 * use the Git Trees API" (get repository content): a longer listing is cut, silently.
 */
const CONTENTS_DIRECTORY_LIMIT = 1_000;
/** "The limit for the tree array is 100,000 entries" (get a tree): past it, `truncated: true`. */
const TREE_LIMIT = 100_000;

export function findRef(repo: SimRepo, ref: string): SimBranch | undefined {
  const name = ref.replace(/^refs\/heads\//, '');
  const byName = repo.branches.get(name);
  if (byName) return byName;
  if (!/^[0-9a-f]{7,40}$/i.test(ref)) return undefined;
  return [...repo.branches.values()].find((b) => b.sha.startsWith(ref.toLowerCase())) ?? pastCommit(repo, ref);
}

/** GET /repos/{owner}/{repo}/git/trees/{tree_sha}, non-recursive, for a branch or commit's root tree only. */
export function serveRootTree(repo: SimRepo, ref: string, res: ServerResponse, headers: Record<string, string>): void {
  const br = findRef(repo, ref);
  if (repo.branches.size === 0) {
    sendError(res, 409, 'Git Repository is empty.', TREE_DOCS, headers); // github/docs#31951
    return;
  }
  if (!br) {
    sendError(res, 404, 'Not Found', TREE_DOCS, headers);
    return;
  }
  const entries = [...dirChildren(br, '')].sort(([a], [b]) => a.localeCompare(b));
  const tree = entries.slice(0, TREE_LIMIT).map(([path, type]) => ({
    path, mode: type === 'dir' ? '040000' : '100644', type: type === 'dir' ? 'tree' : 'blob', sha: blobSha(`${br.sha}:${path}`),
    ...(type === 'file' ? { size: Buffer.byteLength(br.files.get(path) ?? '', 'utf8') } : {}),
  }));
  sendJson(res, 200, { sha: br.sha, tree, truncated: entries.length > TREE_LIMIT }, headers);
}

/** A directory's immediate children: a directory exists when some file lives under it. */
function dirChildren(br: SimBranch, prefix: string): Map<string, 'file' | 'dir'> {
  const children = new Map<string, 'file' | 'dir'>();
  for (const p of br.files.keys()) {
    if (!p.startsWith(prefix)) continue;
    const rest = p.slice(prefix.length);
    const slash = rest.indexOf('/');
    if (slash === -1) children.set(rest, 'file');
    else if (!children.has(rest.slice(0, slash))) children.set(rest.slice(0, slash), 'dir');
  }
  return children;
}

export function serveContents(ctx: ApiContext, repo: SimRepo, path: string, url: URL, res: ServerResponse, headers: Record<string, string>): void {
  const ref = url.searchParams.get('ref') || repo.defaultBranch;
  const br = findRef(repo, ref);
  if (repo.branches.size === 0) {
    sendError(res, 404, 'This repository is empty.', CONTENTS_DOCS, headers);
    return;
  }
  if (!br) {
    sendError(res, 404, `No commit found for the ref ${ref}`, CONTENTS_DOCS, headers);
    return;
  }
  const file = path ? br.files.get(path) : undefined;
  if (file !== undefined) {
    sendJson(res, 200, presentFile({ repo, ref, path, type: 'file', content: file }, ctx.bases), headers);
    return;
  }
  const prefix = path ? `${path}/` : '';
  const children = dirChildren(br, prefix);
  if (children.size === 0 && path) {
    sendError(res, 404, 'Not Found', CONTENTS_DOCS, headers);
    return;
  }
  const entries = [...children].sort(([a], [b]) => a.localeCompare(b)).slice(0, CONTENTS_DIRECTORY_LIMIT).map(([name, type]) => {
    const full = prefix + name;
    return presentDirEntry({ repo, ref, path: full, type, content: type === 'file' ? br.files.get(full) : undefined }, ctx.bases);
  });
  sendJson(res, 200, entries, headers);
}

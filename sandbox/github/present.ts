import { blobSha, type SimBranch, type SimGitHubUser, type SimRepo } from './state.js';

/** Where links in responses point: the simulator's API, and the "website" (github.com by default). */
export interface Bases { api: string; web: string }

function presentSimpleUser(u: SimGitHubUser, b: Bases) {
  return {
    login: u.login,
    id: u.id,
    node_id: Buffer.from(`04:User${u.id}`).toString('base64'),
    avatar_url: u.avatarUrl,
    gravatar_id: '',
    url: `${b.api}/users/${u.login}`,
    html_url: `${b.web}/${u.login}`,
    repos_url: `${b.api}/users/${u.login}/repos`,
    type: 'User',
    user_view_type: 'public',
    site_admin: false,
  };
}

/** GET /user for the token's owner (the private fields GitHub adds for yourself are included). */
export function presentAuthenticatedUser(u: SimGitHubUser, b: Bases, repos: SimRepo[]) {
  const owned = repos.filter((r) => r.owner.id === u.id);
  return {
    ...presentSimpleUser(u, b),
    name: u.name,
    company: null,
    blog: '',
    location: null,
    email: null,
    hireable: null,
    bio: null,
    twitter_username: null,
    public_repos: owned.filter((r) => !r.private).length,
    public_gists: 0,
    followers: 0,
    following: 0,
    created_at: '2020-01-01T00:00:00Z',
    updated_at: '2024-01-01T00:00:00Z',
    private_gists: 0,
    total_private_repos: owned.filter((r) => r.private).length,
    owned_private_repos: owned.filter((r) => r.private).length,
    two_factor_authentication: true,
  };
}

export function presentRepo(r: SimRepo, b: Bases, viewer: string | undefined) {
  const full = `${r.owner.login}/${r.name}`;
  const v = viewer?.toLowerCase();
  const isOwner = v === r.owner.login.toLowerCase();
  const isCollaborator = v !== undefined && r.collaborators.has(v);
  return {
    id: r.id,
    node_id: Buffer.from(`010:Repository${r.id}`).toString('base64'),
    name: r.name,
    full_name: full,
    private: r.private,
    owner: presentSimpleUser(r.owner, b),
    html_url: `${b.web}/${full}`,
    description: null,
    fork: false,
    url: `${b.api}/repos/${full}`,
    branches_url: `${b.api}/repos/${full}/branches{/branch}`,
    contents_url: `${b.api}/repos/${full}/contents/{+path}`,
    created_at: r.createdAt,
    updated_at: r.pushedAt,
    pushed_at: r.pushedAt,
    git_url: `git://${new URL(b.web).host}/${full}.git`,
    ssh_url: `git@${new URL(b.web).host}:${full}.git`,
    clone_url: `${b.web}/${full}.git`,
    homepage: null,
    size: r.branches.size === 0 ? 0 : 1, // KB; an empty repository is 0
    stargazers_count: 0,
    watchers_count: 0,
    language: null,
    has_issues: true,
    forks_count: 0,
    archived: false,
    disabled: false,
    open_issues_count: 0,
    visibility: r.private ? 'private' : 'public',
    forks: 0,
    open_issues: 0,
    watchers: 0,
    default_branch: r.defaultBranch,
    permissions: { admin: isOwner, maintain: isOwner, push: isOwner || isCollaborator, triage: isOwner || isCollaborator, pull: true },
  };
}

function commitSummary(r: SimRepo, br: SimBranch, b: Bases) {
  const full = `${r.owner.login}/${r.name}`;
  return {
    sha: br.sha,
    node_id: Buffer.from(`06:Commit${r.id}:${br.sha}`).toString('base64'),
    commit: {
      author: { name: r.owner.name ?? r.owner.login, email: `${r.owner.login}@users.noreply.github.com`, date: r.pushedAt },
      committer: { name: 'GitHub', email: 'noreply@github.com', date: r.pushedAt },
      message: `Update ${br.name}`,
      tree: { sha: br.sha, url: `${b.api}/repos/${full}/git/trees/${br.sha}` },
      url: `${b.api}/repos/${full}/git/commits/${br.sha}`,
      comment_count: 0,
    },
    url: `${b.api}/repos/${full}/commits/${br.sha}`,
    html_url: `${b.web}/${full}/commit/${br.sha}`,
    author: presentSimpleUser(r.owner, b),
    committer: null,
    parents: [],
  };
}

export function presentBranchShort(r: SimRepo, br: SimBranch, b: Bases) {
  return {
    name: br.name,
    commit: { sha: br.sha, url: `${b.api}/repos/${r.owner.login}/${r.name}/commits/${br.sha}` },
    protected: false,
  };
}

export function presentBranch(r: SimRepo, br: SimBranch, b: Bases) {
  const full = `${r.owner.login}/${r.name}`;
  return {
    name: br.name,
    commit: commitSummary(r, br, b),
    _links: { self: `${b.api}/repos/${full}/branches/${encodeURIComponent(br.name)}`, html: `${b.web}/${full}/tree/${br.name}` },
    protected: false,
    protection: { enabled: false, required_status_checks: { enforcement_level: 'off', contexts: [], checks: [] } },
    protection_url: `${b.api}/repos/${full}/branches/${encodeURIComponent(br.name)}/protection`,
  };
}

export function presentCommit(r: SimRepo, br: SimBranch, b: Bases) {
  const files = [...br.files.keys()].map((filename) => ({ filename, status: 'added' }));
  return { ...commitSummary(r, br, b), stats: { total: files.length, additions: files.length, deletions: 0 }, files };
}

interface EntryInput { repo: SimRepo; ref: string; path: string; type: 'file' | 'dir'; content?: string }

function entryLinks(e: EntryInput, b: Bases) {
  const full = `${e.repo.owner.login}/${e.repo.name}`;
  const sha = e.type === 'file' ? blobSha(e.content ?? '') : blobSha(`tree:${e.path}`);
  const self = `${b.api}/repos/${full}/contents/${e.path}?ref=${encodeURIComponent(e.ref)}`;
  const git = `${b.api}/repos/${full}/git/${e.type === 'file' ? 'blobs' : 'trees'}/${sha}`;
  const html = `${b.web}/${full}/${e.type === 'file' ? 'blob' : 'tree'}/${e.ref}/${e.path}`;
  return {
    name: e.path.split('/').pop() ?? e.path,
    path: e.path,
    sha,
    size: e.type === 'file' ? Buffer.byteLength(e.content ?? '') : 0,
    url: self,
    html_url: html,
    git_url: git,
    download_url: e.type === 'file' ? `https://raw.githubusercontent.com/${full}/${e.ref}/${e.path}` : null,
    type: e.type,
    _links: { self, git, html },
  };
}

export function presentDirEntry(e: EntryInput, b: Bases) {
  return entryLinks(e, b);
}

/** Files up to 1 MB come inline as base64 wrapped at 60 columns; bigger ones have encoding "none". */
export function presentFile(e: EntryInput, b: Bases) {
  const base = entryLinks(e, b);
  const raw = Buffer.from(e.content ?? '', 'utf8');
  if (raw.length > 1024 * 1024) return { ...base, content: '', encoding: 'none' };
  const b64 = raw.toString('base64').replace(/.{1,60}/g, '$&\n');
  return { ...base, content: b64, encoding: 'base64' };
}

import { createHash, randomBytes } from 'node:crypto';
import { trimRuns } from '../text.js';

/** A GitHub account known to the simulator. */
export interface SimGitHubUser {
  id: number;
  login: string;
  name: string | null;
  avatarUrl: string;
}

export interface SimBranch {
  name: string;
  /** path -> file content (utf-8). Nested paths ("src/app.js") make directories. */
  files: Map<string, string>;
  sha: string;
}

export interface SimRepo {
  id: number;
  owner: SimGitHubUser;
  name: string;
  private: boolean;
  defaultBranch: string;
  branches: Map<string, SimBranch>;
  /** lower-cased logins */
  collaborators: Set<string>;
  createdAt: string;
  pushedAt: string;
}

interface SimCode {
  login: string;
  clientId: string;
  redirectUri: string | undefined;
  scope: string;
  expiresAt: number;
  codeChallenge: string | undefined;
  codeChallengeMethod: string | undefined;
}

interface SimToken {
  login: string;
  scope: string;
  /** Rate limit window per token, like GitHub's per-user core budget. */
  remaining: number;
  resetAt: number;
  /** When the token stops working (ms, simulator clock); absent: never. */
  expiresAt?: number;
}

export interface NewRepo {
  owner: string;
  name: string;
  private?: boolean;
  defaultBranch?: string;
  branches?: Record<string, Record<string, string>>;
  collaborators?: string[];
  /** Created without a commit ("auto_init": false): no branch at all, not even the default one. */
  empty?: boolean;
}

interface GitHubSnapshot {
  version: 1;
  users: SimGitHubUser[];
  repos: Array<Omit<SimRepo, 'owner' | 'branches' | 'collaborators'> & {
    owner: string;
    branches: Array<{ name: string; sha: string; files: Record<string, string> }>;
    collaborators: string[];
  }>;
  tokens: Array<[string, SimToken]>;
  authorizingUser?: string | null;
  nextUserId: number;
  nextRepoId: number;
  clock: number;
}

export interface SimCommitStatus { state: string; targetUrl: string | null; description: string | null; context: string; login: string; createdAt: string }

/** The simulator's whole world, in memory. Logins and repo names are case-insensitive as on GitHub. */
export class SimState {
  readonly users = new Map<string, SimGitHubUser>();
  readonly repos = new Map<string, SimRepo>();
  readonly codes = new Map<string, SimCode>();
  readonly tokens = new Map<string, SimToken>();
  /** Commit statuses by `owner/name@sha` (lower-cased repo), oldest first; not persisted. */
  readonly statuses = new Map<string, SimCommitStatus[]>();
  /** undefined = nobody chose yet: the first user added approves. */
  authorizingUser: string | null | undefined = undefined;
  private nextUserId = 1000;
  private nextRepoId = 5000;
  private clock = 0;

  addUser(u: { id?: number; login: string; name?: string | null; avatarUrl?: string }): SimGitHubUser {
    const id = u.id ?? this.nextUserId++;
    const user: SimGitHubUser = {
      id,
      login: u.login,
      name: u.name === undefined ? u.login : u.name,
      avatarUrl: u.avatarUrl ?? `https://avatars.githubusercontent.com/u/${id}?v=4`,
    };
    this.users.set(u.login.toLowerCase(), user);
    return user;
  }

  /**
   * A user renames their account (Settings → Account → Change username), as on GitHub: the id stays, the
   * old login is free for anyone to register at once, the user's tokens keep working (a token belongs to
   * the account, not to its name), and their repositories move to the new login. Not modelled: GitHub's
   * redirects from the old repository names, which last until someone takes the old name.
   */
  renameUser(from: string, to: string): SimGitHubUser {
    const user = this.user(from);
    if (!user || (this.user(to) && this.user(to) !== user)) throw new Error(`cannot rename ${from} to ${to}`);
    const old = user.login.toLowerCase();
    this.users.delete(old);
    user.login = to;
    this.users.set(to.toLowerCase(), user);
    for (const t of this.tokens.values()) if (t.login.toLowerCase() === old) t.login = to;
    for (const c of this.codes.values()) if (c.login.toLowerCase() === old) c.login = to;
    for (const [key, repo] of [...this.repos]) {
      if (repo.collaborators.delete(old)) repo.collaborators.add(to.toLowerCase());
      if (repo.owner !== user) continue;
      this.repos.delete(key);
      this.repos.set(`${to}/${repo.name}`.toLowerCase(), repo);
      for (const [at, list] of [...this.statuses]) {
        if (!at.startsWith(`${key}@`)) continue;
        this.statuses.delete(at);
        this.statuses.set(`${to}/${repo.name}`.toLowerCase() + at.slice(key.length), list);
      }
    }
    if (this.authorizingUser?.toLowerCase() === old) this.authorizingUser = to;
    return user;
  }

  user(login: string): SimGitHubUser | undefined {
    return this.users.get(login.toLowerCase());
  }

  /** Who /login/oauth/authorize approves when no ?login= override is given. */
  approvingLogin(): string | null {
    if (this.authorizingUser !== undefined) return this.authorizingUser;
    const first = this.users.values().next();
    return first.done ? null : first.value.login;
  }

  addRepo(r: NewRepo): SimRepo {
    const owner = this.user(r.owner) ?? this.addUser({ login: r.owner });
    const defaultBranch = r.defaultBranch ?? 'main';
    const branchSpec = r.empty ? {} : r.branches ?? { [defaultBranch]: { 'README.md': `# ${r.name}\n` } };
    if (!r.empty && !(defaultBranch in branchSpec)) branchSpec[defaultBranch] = { 'README.md': `# ${r.name}\n` };
    const branches = new Map<string, SimBranch>();
    for (const [name, files] of Object.entries(branchSpec)) {
      const map = new Map(Object.entries(files).map(([p, c]) => [normalisePath(p), c] as const));
      branches.set(name, { name, files: map, sha: commitSha(r.owner, r.name, name, map) });
    }
    // Distinct, increasing timestamps so sort=created/pushed is deterministic.
    const stamp = new Date(Date.UTC(2024, 0, 1) + (this.clock++) * 60_000).toISOString().replace('.000Z', 'Z');
    const repo: SimRepo = {
      id: this.nextRepoId++,
      owner,
      name: r.name,
      private: r.private ?? false,
      defaultBranch,
      branches,
      collaborators: new Set((r.collaborators ?? []).map((c) => c.toLowerCase())),
      createdAt: stamp,
      pushedAt: stamp,
    };
    this.repos.set(`${owner.login}/${r.name}`.toLowerCase(), repo);
    return repo;
  }

  /**
   * A push: the branch's head moves to a commit of these files. The commit it replaces stays readable
   * by its sha (as on GitHub), for as long as this process runs (not saved).
   */
  push(owner: string, name: string, branch: string, files: Record<string, string>): string {
    const repo = this.repo(owner, name);
    const before = repo?.branches.get(branch);
    if (!repo || !before) throw new Error(`no branch ${branch} in ${owner}/${name}`);
    const map = new Map(Object.entries(files).map(([p, c]) => [normalisePath(p), c] as const));
    const head: SimBranch = { name: branch, files: map, sha: commitSha(repo.owner.login, repo.name, `${branch}@${before.sha}`, map) };
    const past = pastCommits.get(repo) ?? new Map<string, SimBranch>();
    past.set(before.sha, before);
    pastCommits.set(repo, past);
    const parents = parentCommits.get(repo) ?? new Map<string, string>();
    parents.set(head.sha, before.sha);
    parentCommits.set(repo, parents);
    repo.branches.set(branch, head);
    return head.sha;
  }

  /**
   * Renames a branch, as Settings → Branches does: its commits move to the new name, the default
   * branch follows when it was the one renamed, and GitHub keeps answering the old name's Get a branch
   * with a 301 to the new one (renamedBranch). Kept for as long as this process runs (not saved).
   */
  renameBranch(owner: string, name: string, from: string, to: string): void {
    const repo = this.repo(owner, name);
    const branch = repo?.branches.get(from);
    if (!repo || !branch || repo.branches.has(to)) throw new Error(`cannot rename ${from} to ${to} in ${owner}/${name}`);
    repo.branches.delete(from);
    repo.branches.set(to, { ...branch, name: to });
    if (repo.defaultBranch === from) repo.defaultBranch = to;
    const renames = renamedBranches.get(repo) ?? new Map<string, string>();
    for (const [old, now] of renames) if (now === from) renames.set(old, to);
    renames.delete(to);
    renames.set(from, to);
    renamedBranches.set(repo, renames);
  }

  repo(owner: string, name: string): SimRepo | undefined {
    return this.repos.get(`${owner}/${name}`.toLowerCase());
  }

  /**
   * Renames or transfers a repository (Settings → Repository name, or Transfer ownership), as on GitHub:
   * its id, branches, commits and statuses stay with it under the new owner/name, and the old name
   * redirects to it (the API's 301 for a GET, 307 for other methods, to /repositories/{id}/…; git
   * clones too: movedRepo) until a repository takes the old name, which from then on means that one.
   * Kept for as long as this process runs (not saved), as renameBranch's redirects.
   */
  renameRepo(owner: string, name: string, toOwner: string, toName: string): SimRepo {
    const repo = this.repo(owner, name);
    const newOwner = this.user(toOwner) ?? this.addUser({ login: toOwner });
    if (!repo || (this.repo(toOwner, toName) && this.repo(toOwner, toName) !== repo)) throw new Error(`cannot rename ${owner}/${name} to ${toOwner}/${toName}`);
    const from = `${repo.owner.login}/${repo.name}`.toLowerCase();
    const to = `${newOwner.login}/${toName}`.toLowerCase();
    this.repos.delete(from);
    repo.owner = newOwner;
    repo.name = toName;
    this.repos.set(to, repo);
    for (const [at, list] of [...this.statuses]) {
      if (!at.startsWith(`${from}@`)) continue;
      this.statuses.delete(at);
      this.statuses.set(to + at.slice(from.length), list);
    }
    this.movedRepos.set(from, repo);
    this.movedRepos.delete(to);
    return repo;
  }

  /** Old names of renamed or transferred repositories (lower-cased owner/name) → the repository now. */
  readonly movedRepos = new Map<string, SimRepo>();

  /**
   * The repository an old name redirects to: none while a repository has that name (it took the old
   * name over), or when the moved one is gone.
   */
  movedRepo(owner: string, name: string): SimRepo | undefined {
    if (this.repo(owner, name)) return undefined;
    const moved = this.movedRepos.get(`${owner}/${name}`.toLowerCase());
    return moved && this.repos.get(`${moved.owner.login}/${moved.name}`.toLowerCase()) === moved ? moved : undefined;
  }

  /** A repository by its id (GitHub's /repositories/{id}, where a moved repository's redirects point). */
  repoById(id: number): SimRepo | undefined {
    for (const r of this.repos.values()) if (r.id === id) return r;
    return undefined;
  }

  /** GitHub hides private repos from everyone but their owner and collaborators (404, not 403). */
  canSee(repo: SimRepo, login: string | undefined): boolean {
    if (!repo.private) return true;
    if (!login) return false;
    const l = login.toLowerCase();
    return repo.owner.login.toLowerCase() === l || repo.collaborators.has(l);
  }

  /** Users, repos, tokens and counters as plain JSON (pending OAuth codes are short-lived and left out). */
  toSnapshot(): GitHubSnapshot {
    return {
      version: 1,
      users: [...this.users.values()],
      repos: [...this.repos.values()].map((r) => ({
        ...r,
        owner: r.owner.login,
        branches: [...r.branches.values()].map((b) => ({ name: b.name, sha: b.sha, files: Object.fromEntries(b.files) })),
        collaborators: [...r.collaborators],
      })),
      tokens: [...this.tokens],
      // Absent = nobody chose yet (undefined); null = deny.
      ...(this.authorizingUser === undefined ? {} : { authorizingUser: this.authorizingUser }),
      nextUserId: this.nextUserId,
      nextRepoId: this.nextRepoId,
      clock: this.clock,
    };
  }

  /** Replaces this world with a saved one (see toSnapshot). Throws on a file of another shape. */
  restore(raw: unknown): void {
    const s = raw as Partial<GitHubSnapshot> | null;
    if (!s || s.version !== 1 || !Array.isArray(s.users) || !Array.isArray(s.repos) || !Array.isArray(s.tokens)) {
      throw new Error('the saved GitHub simulator state has an unknown format');
    }
    this.users.clear();
    this.repos.clear();
    this.tokens.clear();
    for (const u of s.users) this.users.set(u.login.toLowerCase(), u);
    for (const r of s.repos) {
      const owner = this.user(r.owner) ?? this.addUser({ login: r.owner });
      const branches = new Map(r.branches.map((b) => [b.name, { name: b.name, sha: b.sha, files: new Map(Object.entries(b.files)) }] as const));
      this.repos.set(`${owner.login}/${r.name}`.toLowerCase(), { ...r, owner, branches, collaborators: new Set(r.collaborators) });
    }
    for (const [token, t] of s.tokens) this.tokens.set(token, t);
    this.authorizingUser = s.authorizingUser;
    this.nextUserId = s.nextUserId ?? this.nextUserId;
    this.nextRepoId = s.nextRepoId ?? this.nextRepoId;
    this.clock = s.clock ?? this.clock;
  }

  issueToken(login: string, scope: string, now: number, kind: 'oauth' | 'pat' = 'oauth'): string {
    // GitHub's shapes: OAuth user tokens gho_…, fine-grained personal access tokens github_pat_….
    const token = kind === 'pat' ? `github_pat_${base62(22)}_${base62(59)}` : `gho_${base62(36)}`;
    this.tokens.set(token, { login, scope, remaining: 5000, resetAt: Math.floor(now / 1000) + 3600 });
    return token;
  }
}

export function normalisePath(p: string): string {
  return trimRuns(p, '/');
}

/** Branches renamed in this process: old name -> current name. */
const renamedBranches = new WeakMap<SimRepo, Map<string, string>>();

/** The name a renamed branch goes by now, when `name` is no branch but was renamed (and still exists). */
export function renamedBranch(repo: SimRepo, name: string): string | undefined {
  const now = renamedBranches.get(repo)?.get(name);
  return now !== undefined && !repo.branches.has(name) && repo.branches.has(now) ? now : undefined;
}

/** Commits that were a branch's head before a push, by sha: readable by sha only. */
const pastCommits = new WeakMap<SimRepo, Map<string, SimBranch>>();

/** Each pushed commit's parent (the head it replaced), by sha: a branch's history is the chain of them. */
const parentCommits = new WeakMap<SimRepo, Map<string, string>>();

/** Whether `ancestor` is `sha` or in its history (as far as pushes in this process recorded it). */
export function inHistory(repo: SimRepo, ancestor: string, sha: string): boolean {
  const parents = parentCommits.get(repo);
  for (let at: string | undefined = sha, n = 0; at !== undefined && n < 100_000; at = parents?.get(at), n++) if (at === ancestor) return true;
  return false;
}

/** A commit a push replaced, by its full or abbreviated sha. */
export function pastCommit(repo: SimRepo, sha: string): SimBranch | undefined {
  const lower = sha.toLowerCase();
  for (const [full, commit] of pastCommits.get(repo) ?? []) if (full.startsWith(lower)) return commit;
  return undefined;
}

/** Git's blob id: sha1("blob <size>\0<content>"). */
export function blobSha(content: string): string {
  const buf = Buffer.from(content, 'utf8');
  return createHash('sha1').update(`blob ${buf.length}\0`).update(buf).digest('hex');
}

/** A stable fake commit id: the same files on the same branch give the same sha. */
function commitSha(owner: string, repo: string, branch: string, files: Map<string, string>): string {
  const h = createHash('sha1').update(`${owner}/${repo}@${branch}\0`);
  for (const [p, c] of [...files].sort(([a], [b]) => a.localeCompare(b))) h.update(`${p}\0${blobSha(c)}\0`);
  return h.digest('hex');
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Random [A-Za-z0-9]{n}, the shape of GitHub token bodies and codes. */
export function base62(n: number): string {
  let out = '';
  while (out.length < n) {
    for (const b of randomBytes(n)) {
      if (b < 248 && out.length < n) out += ALPHABET[b % 62];
    }
  }
  return out;
}

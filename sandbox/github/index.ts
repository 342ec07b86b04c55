import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inHistory, SimState, type NewRepo, type SimCommitStatus, type SimGitHubUser } from './state.js';
import { createJsonStateFile } from '../persist.js';
import { handleAccessToken, handleAuthorize, type OAuthConfig } from './oauth.js';
import { handleApi, handleStatusPost, safeDecode, type ApiContext } from './api.js';
import { sendError, sendJson, sendStreamedString, sendText } from './http.js';
import { withoutTrailingSlashes } from '../text.js';

export type { SimGitHubUser } from './state.js';

interface GitHubSimulatorOptions {
  port?: number;
  clientId?: string;
  clientSecret?: string;
  /** Base of html_url / clone_url in responses. Default https://github.com, so Render accepts the repo URL. */
  webUrl?: string;
  /** Clock for code expiry and rate-limit windows (tests move time forward). */
  now?: () => number;
  /** Keep users, repos and tokens in this JSON file: loaded at start, saved after changes and on close. */
  stateFile?: string;
  /**
   * Serve through `handle()` from another server (sandbox mode mounts it on the app's own origin)
   * instead of listening on a port: `publicUrl` is then where it is reachable, e.g. http://localhost:3000/sandbox/github.
   */
  mount?: { publicUrl: string };
}

/** A canned API failure for the next matching requests (sim-only; GitHub has no such thing). */
interface SimFault {
  /** Matches API paths starting with this, e.g. '/user' or '/repos/alice/app/contents'. Default: every API path. */
  path?: string;
  status: number;
  /** Object → JSON; string → sent raw (to simulate a broken proxy page). */
  body?: unknown;
  headers?: Record<string, string>;
  /** Instead of `body`: a JSON string this many bytes long, streamed without a Content-Length (its size shows only as it arrives). */
  bodyBytes?: number;
  /** How many requests it applies to. Default 1. */
  times?: number;
}

export interface SimCall { method: string; path: string; status: number; login?: string }

export interface GitHubSimulator {
  /** Base where /login/oauth/authorize and /login/oauth/access_token live (GITHUB_OAUTH_URL). */
  oauthUrl: string;
  /** REST base (GITHUB_API_URL). */
  apiUrl: string;
  clientId: string;
  clientSecret: string;
  addUser(u: { id?: number; login: string; name?: string | null; avatarUrl?: string }): SimGitHubUser;
  /** A user renames their account (same id, new login; their tokens keep working, their repositories move): the old login is free again. */
  renameUser(from: string, to: string): SimGitHubUser;
  /** Who /login/oauth/authorize approves (null = access_denied). Until called, the first user added approves. */
  setAuthorizingUser(login: string | null): void;
  /** Adds a repo; an unknown owner is created as a user. Branches map branch -> path -> content. */
  addRepo(r: NewRepo): void;
  /** Tokens issued to a login (for secret scans in tests). */
  tokensFor(login: string): string[];
  /** Mints a token for a known user without the browser dance (sim-only shortcut for tests). */
  issueToken(login: string, scope?: string): string;
  /** Mints a fine-grained personal access token (github_pat_…), optionally expiring at `expiresAt` (simulator clock, ms). */
  issuePat(login: string, opts?: { expiresAt?: number }): string;
  revokeToken(token: string): void;
  /** The token stops working now, as when its expiry date passes (401 Bad credentials). */
  expireToken(token: string): void;
  injectFault(f: SimFault): void;
  /** Moves a branch to a new commit of these files (the one it replaces stays readable by sha); returns its sha. */
  push(owner: string, name: string, branch: string, files: Record<string, string>): string;
  /**
   * Renames or transfers a repository (same id; branches, commits and statuses move with it): its old name
   * then redirects (301 for reads, 307 for writes, to /repositories/{id}/…; git clones too) until another
   * repository takes that name.
   */
  renameRepo(owner: string, name: string, to: string): void;
  /** Renames a branch (the default follows it); its old name's Get a branch then answers 301 to the new one. */
  renameBranch(owner: string, name: string, from: string, to: string): void;
  /**
   * Runs `fn` once, right after the next API request whose path starts with `pathPrefix` is answered
   * and before any later request is (sim-only): a push that lands between two of a client's reads.
   */
  afterAnswer(pathPrefix: string, fn: () => void): void;
  /** Answers one request whose URL is relative to the simulator's root (/login/oauth/…, /api/v3/…). */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** True when the world was loaded from `stateFile`. */
  restored: boolean;
  /** The head commit of a repository's branch, or null when there is no such repository or branch. */
  branchHead(owner: string, name: string, branch: string): string | null;
  /** Whether commit `sha` (full) is in the history of a repository's branch; null when there is no such repository or branch. */
  commitOnBranch(owner: string, name: string, branch: string, sha: string): boolean | null;
  /** Commit statuses posted to owner/name at sha, oldest first. */
  statusesFor(owner: string, name: string, sha: string): SimCommitStatus[];
  /** Status posts wait (unanswered) until the returned function is called: a GitHub that holds writes. */
  holdStatuses(): () => void;
  /** GET /user (the signed-in user's profile) waits until `release()`; `waiting()` counts those held now. */
  holdProfiles(): { waiting(): number; release(): void };
  /** The next API request whose path starts with `pathPrefix` waits until `release()`; `arrived` resolves once it has come. */
  holdRequest(pathPrefix: string): { arrived: Promise<void>; release(): void };
  /** Request log: method, path without query string, status, authenticated login. Never a token or code. */
  calls: SimCall[];
  close(): Promise<void>;
}

/** Starts an in-memory GitHub (OAuth web flow + the REST endpoints the product uses) on 127.0.0.1. */
export async function startGitHubSimulator(opts: GitHubSimulatorOptions = {}): Promise<GitHubSimulator> {
  const state = new SimState();
  const saved = opts.stateFile ? createJsonStateFile(opts.stateFile, () => state.toSnapshot()) : null;
  const loaded = saved?.load();
  if (loaded) {
    try { state.restore(loaded); } catch (err) { throw new Error(`${opts.stateFile}: ${(err as Error).message}`, { cause: err }); }
  }
  const changed = () => saved?.changed();
  const now = opts.now ?? Date.now;
  const oauth: OAuthConfig = {
    clientId: opts.clientId ?? 'sim-client-id',
    clientSecret: opts.clientSecret ?? 'sim-client-secret',
    now,
  };
  const calls: SimCall[] = [];
  const faults: Array<SimFault & { left: number }> = [];
  let api: ApiContext | undefined;
  let statusHold: Promise<void> | null = null;
  let profileHold: { promise: Promise<void>; waiting: number } | null = null;
  const afterHooks: Array<{ pathPrefix: string; fn: () => void }> = [];
  const requestHolds: Array<{ pathPrefix: string; arrived: () => void; released: Promise<void> }> = [];

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<{ login?: string }> => {
    const url = new URL(req.url ?? '/', 'http://sim.invalid');
    const method = req.method ?? 'GET';
    if (url.pathname === '/login/oauth/authorize' && method === 'GET') return handleAuthorize(state, oauth, url, res);
    if (url.pathname === '/login/oauth/access_token' && method === 'POST') return handleAccessToken(state, oauth, req, url, res);
    if (url.pathname === '/api/v3' || url.pathname.startsWith('/api/v3/')) {
      const apiPath = url.pathname.slice('/api/v3'.length) || '/';
      const fault = faults.find((f) => apiPath.startsWith(f.path ?? '/'));
      if (fault) {
        if (--fault.left <= 0) faults.splice(faults.indexOf(fault), 1);
        if (fault.bodyBytes !== undefined) await sendStreamedString(res, fault.status, fault.bodyBytes, fault.headers);
        else if (typeof fault.body === 'string') sendText(res, fault.status, fault.body, fault.headers?.['content-type'] ?? 'text/html; charset=utf-8');
        else sendJson(res, fault.status, fault.body ?? { message: 'Simulated failure', status: String(fault.status) }, fault.headers);
        return {};
      }
      const held = requestHolds.findIndex((h) => apiPath.startsWith(h.pathPrefix));
      if (held !== -1) {
        const hold = requestHolds.splice(held, 1)[0]!;
        hold.arrived();
        await hold.released;
      }
      const segs = apiPath.split('/').filter(Boolean);
      if (method === 'POST' && ((segs.length === 5 && segs[0] === 'repos' && segs[3] === 'statuses') || (segs.length === 4 && segs[0] === 'repositories' && segs[2] === 'statuses'))) {
        if (statusHold) await statusHold;
        return handleStatusPost(api!, req, segs.map(safeDecode), res);
      }
      if (method === 'GET' && apiPath === '/user' && profileHold) {
        const hold = profileHold;
        hold.waiting += 1;
        await hold.promise;
        hold.waiting -= 1;
      }
      const answered = handleApi(api!, req, url, apiPath, res);
      const hook = afterHooks.findIndex((h) => apiPath.startsWith(h.pathPrefix));
      if (hook !== -1) afterHooks.splice(hook, 1)[0]!.fn();
      return answered;
    }
    sendError(res, 404, 'Not Found', 'https://docs.github.com/rest');
    return {};
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    // Tokens and codes change on OAuth requests; an unchanged world is not rewritten.
    if (saved) res.once('finish', changed);
    route(req, res).then(
      (r) => calls.push({ method: req.method ?? 'GET', path, status: res.statusCode, ...(r.login ? { login: r.login } : {}) }),
      () => {
        if (!res.headersSent) sendError(res, 500, 'Server Error', 'https://docs.github.com/rest');
        else res.destroy();
        calls.push({ method: req.method ?? 'GET', path, status: 500 });
      },
    );
  };
  let server: Server | null = null;
  let origin: string;
  if (opts.mount) {
    origin = withoutTrailingSlashes(opts.mount.publicUrl);
  } else {
    const listening = createServer(handle);
    await new Promise<void>((resolve, reject) => {
      listening.once('error', reject);
      listening.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
    });
    server = listening;
    origin = `http://127.0.0.1:${(listening.address() as AddressInfo).port}`;
  }
  const apiUrl = `${origin}/api/v3`;
  api = { state, bases: { api: apiUrl, web: withoutTrailingSlashes(opts.webUrl ?? 'https://github.com') }, origin, now };

  return {
    oauthUrl: origin,
    apiUrl,
    clientId: oauth.clientId,
    clientSecret: oauth.clientSecret,
    addUser: (u) => { const user = state.addUser(u); changed(); return user; },
    renameUser: (from, to) => { const user = state.renameUser(from, to); changed(); return user; },
    setAuthorizingUser: (login) => { state.authorizingUser = login; changed(); },
    addRepo: (r) => { state.addRepo(r); changed(); },
    holdStatuses: () => {
      let release!: () => void;
      statusHold = new Promise<void>((r) => { release = r; });
      return () => { statusHold = null; release(); };
    },
    holdRequest: (pathPrefix) => {
      let arrived!: () => void;
      let release!: () => void;
      const hold = { pathPrefix, arrived: () => arrived(), released: new Promise<void>((r) => { release = r; }) };
      const came = new Promise<void>((r) => { arrived = r; });
      requestHolds.push(hold);
      return { arrived: came, release: () => { const at = requestHolds.indexOf(hold); if (at !== -1) requestHolds.splice(at, 1); release(); } };
    },
    holdProfiles: () => {
      let release!: () => void;
      const hold = { promise: new Promise<void>((r) => { release = r; }), waiting: 0 };
      profileHold = hold;
      return { waiting: () => hold.waiting, release: () => { if (profileHold === hold) profileHold = null; release(); } };
    },
    statusesFor: (owner, name, sha) => [...(state.statuses.get(`${owner}/${name}@${sha}`.toLowerCase()) ?? [])],
    tokensFor: (login) => [...state.tokens].filter(([, t]) => t.login.toLowerCase() === login.toLowerCase()).map(([k]) => k),
    issueToken: (login, scope = 'read:user,repo') => {
      const user = state.user(login);
      if (!user) throw new Error(`unknown simulated user ${login}`);
      const token = state.issueToken(user.login, scope, now());
      changed();
      return token;
    },
    issuePat: (login, o = {}) => {
      const user = state.user(login);
      if (!user) throw new Error(`unknown simulated user ${login}`);
      const token = state.issueToken(user.login, '', now(), 'pat');
      if (o.expiresAt !== undefined) state.tokens.get(token)!.expiresAt = o.expiresAt;
      changed();
      return token;
    },
    revokeToken: (token) => { state.tokens.delete(token); changed(); },
    expireToken: (token) => {
      const t = state.tokens.get(token);
      if (t) { t.expiresAt = now() - 1; changed(); }
    },
    injectFault: (f) => { faults.push({ ...f, left: f.times ?? 1 }); },
    push: (owner, name, branch, files) => { const sha = state.push(owner, name, branch, files); changed(); return sha; },
    renameBranch: (owner, name, from, to) => { state.renameBranch(owner, name, from, to); changed(); },
    renameRepo: (owner, name, to) => {
      const [toOwner, toName] = to.split('/');
      if (!toOwner || !toName) throw new Error(`renameRepo: ${to} is not owner/name`);
      state.renameRepo(owner, name, toOwner, toName);
      changed();
    },
    afterAnswer: (pathPrefix, fn) => { afterHooks.push({ pathPrefix, fn }); },
    handle,
    restored: Boolean(loaded),
    // As a git clone: a renamed or transferred repository's old name is followed until another repository takes it.
    branchHead: (owner, name, branch) => (state.repo(owner, name) ?? state.movedRepo(owner, name))?.branches.get(branch)?.sha ?? null,
    commitOnBranch: (owner, name, branch, sha) => {
      const repo = state.repo(owner, name) ?? state.movedRepo(owner, name);
      const head = repo?.branches.get(branch)?.sha;
      return repo && head ? inHistory(repo, sha.toLowerCase(), head) : null;
    },
    calls,
    close: async () => {
      saved?.close();
      if (!server) return;
      const closing = server;
      await new Promise<void>((resolve) => {
        closing.close(() => resolve());
        closing.closeAllConnections();
      });
    },
  };
}

/** Public types of the Render API simulator (a stand-in for api.render.com/v1). */
import type { RequestHold, RequestHoldRule } from './request-holds.js';

export type DeployPhase = 'created' | 'build_in_progress' | 'pre_deploy_in_progress' | 'update_in_progress';

export type DeployStatus =
  | 'created' | 'queued' | 'build_in_progress' | 'update_in_progress' | 'live' | 'deactivated'
  | 'build_failed' | 'update_failed' | 'canceled' | 'pre_deploy_in_progress' | 'pre_deploy_failed';

export type BuildFailureStatus = 'build_failed' | 'update_failed' | 'pre_deploy_failed';

/** Rate-limit buckets of docs/render-api.md §9. `deploy` is counted per key and service. */
export type RateLimitBucket = 'createService' | 'deploy' | 'write' | 'read';

export interface RateLimitWindow {
  limit: number;
  windowMs: number;
}

export type RateLimitConfig = Record<RateLimitBucket, RateLimitWindow>;

export interface RenderSimOptions {
  /** Listening port on 127.0.0.1; default 0 (ephemeral). */
  port?: number;
  /** Time a deploy spends in each phase; default 40 ms each; 0 = instant. */
  phaseMs?: Partial<Record<DeployPhase, number>>;
  /** Deploys only advance via advanceDeploy() or the control surface. */
  manualDeploys?: boolean;
  /** Override limits and windows (ms) per bucket; a bucket may be given partially. */
  rateLimits?: Partial<Record<RateLimitBucket, Partial<RateLimitWindow>>>;
  /** Base latency added to every API response (default 0). */
  latencyMs?: number;
  /** Clock in epoch ms (default Date.now). */
  now?: () => number;
  /** How many recent requests `calls` keeps (default 10 000; stats() counts all of them). */
  maxCalls?: number;
  /** Whether `plan: "free"` may be created through the API (default true; docs/render-api.md §5.3 says this is uncertain). */
  freePlanAllowed?: boolean;
  /**
   * The commit a build of a repository's branch checks out when the deploy names none (Render builds the
   * branch's head); null or absent: a made-up one. Sandbox mode asks the GitHub simulator (`headsFromGitHub`).
   */
  commitOf?: (repo: string, branch: string | null) => string | null;
  /**
   * Whether a commit named by a Trigger deploy (`commitId`) is in the history of the service's branch;
   * false: its build fails at checkout; null or absent: not known, built as named. Sandbox mode asks the
   * GitHub simulator (`branchCommitsFromGitHub`).
   */
  commitOnBranch?: (repo: string, branch: string | null, sha: string) => boolean | null;
  /**
   * Keep the simulated world in this JSON file: loaded at start (deploys in progress resume), saved
   * shortly after every change and on close. Sandbox mode uses it so restarts keep services and deploys.
   */
  stateFile?: string;
}

export interface SimWorkspace {
  id: string;
  name: string;
  type: 'user' | 'team';
}

export interface SimAccountInput {
  apiKey: string;
  user?: { name: string; email: string };
  /** Workspaces of this account. An `id` that already exists joins that workspace (shared team). */
  workspaces?: Array<{ id?: string; name: string; type?: 'user' | 'team' }>;
  /** A scoped key sees only its first workspace (others answer 403). */
  scoped?: boolean;
  /** false = no payment method on file: creating a paid service answers 402 (default true). */
  hasPaymentInfo?: boolean;
  /** false = the account's plan has no audit-log API (GET …/audit-logs answers 403); default true. */
  auditLogs?: boolean;
}

export interface SimAccount {
  /** The account's user id (usr-…); also what SimCall.accountId holds. */
  id: string;
  user: { id: string; name: string; email: string };
  workspaces: SimWorkspace[];
  /** The first workspace id, the usual `ownerId` for POST /services. */
  ownerId: string;
}

export interface FaultRule {
  method?: string;
  /** Templated route as in the spec paths, e.g. '/services/{serviceId}/deploys', or '*' (default). */
  route?: string;
  /** 'lost': the request is handled as usual (a change is made), then its connection is cut instead of answered. */
  kind: 'latency' | 'status' | 'reset' | 'timeout' | 'malformed' | 'body' | 'without' | 'emptyPage' | 'lost' | 'date';
  /**
   * For kind 'emptyPage' (GET /logs): the request is handled as usual, and its answer holds no lines yet
   * says there are more (`hasMore: true`), its next window the one asked (a request naming its `startTime` and `endTime`): Render pages logs by time
   * window, so a stretch of the window with no lines and more after it answers so. With `next: 'moved'`
   * the empty stretch is the one before the page's lines: the next window starts at the first of them
   * (`direction=forward`: `nextStartTime`) or ends at the newest (`backward`: `nextEndTime`), so paging on
   * skips nothing; a page whose first line is at the window's edge (no stretch before it), or that has
   * none, is answered as usual.
   */
  next?: 'asked' | 'moved';
  /**
   * For kind 'without': the request is handled as usual (a service is created, a deploy started), and
   * its JSON answer leaves out these top-level fields (a creation's answer that names no deploy: ['deployId']).
   */
  fields?: string[];
  /** For kind 'body': a 200 whose JSON body is this (an answer of the right syntax and the wrong content). */
  body?: unknown;
  /** For kind 'status': 429, 500, 503… */
  status?: number;
  /** For kind 'status': the error body's message (default: the status' reason phrase), e.g. a 400 quoting what it refused. */
  message?: string;
  /**
   * For 'latency': delay in ms. For a 429 'status': Retry-After in ms (rounded up to seconds; default 1 s).
   * For 'date': the request is handled as usual, and its answer's Date header is the simulator's clock plus
   * this (negative: behind it), as a caching proxy or a broken clock in front of Render would send.
   */
  ms?: number;
  /** 0..1, default 1 */
  probability?: number;
  /**
   * A schedule instead of chance: the rule fires on the n-th, 2n-th, 3n-th… request it matches, so a
   * test knows how many faults a number of requests meets (probability is then ignored).
   */
  every?: number;
  /** How many times the rule fires; default unlimited. */
  count?: number;
  /** Only requests made with this key. */
  apiKey?: string;
  /** Only requests whose query has these parameters at these values (e.g. `{ limit: '100' }`: a page of 100). */
  query?: Record<string, string>;
}

export interface SimCall {
  method: string;
  /** Path below /v1, without the query string. */
  path: string;
  /** Query string without '?', '' when none. */
  query: string;
  /** Templated route, e.g. '/services/{serviceId}/deploys'; '(unknown)' when no route matched. */
  route: string;
  /** User id of the calling account, or null when the key was not accepted. */
  accountId: string | null;
  /** Response status; 0 while pending or when the connection was reset/never answered. */
  status: number;
  /** Epoch ms when the request arrived. */
  at: number;
}

export interface SimStats {
  requests: number;
  rateLimited: number;
  /** Keyed by 'METHOD /templated/route', e.g. 'GET /services/{serviceId}'. */
  byRoute: Record<string, number>;
}

export interface BuildFailureMatch {
  repo?: string;
  serviceId?: string;
  serviceName?: string;
}

export interface AppendLogOptions {
  type?: 'build' | 'app' | 'request';
  level?: string;
  /** The line's instant (RFC 3339), else the clock's next microsecond: lines may share one, as a stack trace printed in one write can. */
  timestamp?: string;
}

export interface RenderSimulator {
  /** API base, e.g. http://127.0.0.1:PORT/v1 (what RENDER_API_URL is set to). */
  url: string;
  /** e.g. http://127.0.0.1:PORT/__control (not under /v1). */
  controlUrl: string;
  addAccount(a: SimAccountInput): SimAccount;
  /** True when the world was loaded from `stateFile` (seeding it again would duplicate accounts). */
  restored: boolean;
  revokeKey(apiKey: string): void;
  /**
   * The workspaces an account belongs to from now on (added to a team, removed from one on Render's side),
   * by workspace id; a workspace's name, if `rename` names it (renamed on Render). Its keys see the same.
   */
  setWorkspaces(accountId: string, workspaceIds: string[], rename?: Record<string, string>): void;
  setFault(rule: FaultRule): string;
  /** One fault, by the id setFault returned (a test's own, while other tests' stay). */
  clearFault(id: string): void;
  clearFaults(): void;
  /** The next request matching `rule` waits, before it is handled, until the hold is released. */
  holdRequest(rule: RequestHoldRule): RequestHold;
  failBuilds(match: BuildFailureMatch, status: BuildFailureStatus, count?: number): void;
  /**
   * Deploys of matching services that enter `phase` from now on stay in it (past its phaseMs) until the
   * returned function is called; then they move on at once. For a test that must observe a phase.
   */
  holdPhase(match: BuildFailureMatch, phase: DeployPhase): () => void;
  /**
   * A pull request's preview of a service, as Render makes one when previews are on and a PR opens: a
   * service of its own whose `serviceDetails.parentServer` names the parent, listed by GET /services
   * unless `includePreviews=false`. Returns its id.
   */
  addPreview(parentServiceId: string, opts: { pullRequest: number; branch?: string }): string;
  /** Move a deploy one phase forward (meant for manual mode). */
  advanceDeploy(deployId: string): void;
  appendLog(resourceId: string, message: string, opts?: AppendLogOptions): void;
  /** Add an audit-log entry (e.g. ViewConnectionInfoEvent, StartShellEvent). */
  addAuditEvent(ownerId: string, event: string, metadata?: Record<string, string>, opts?: { actorType?: 'user' | 'rest_api' | 'system'; status?: 'success' | 'error' }): void;
  /** Plan switch: whether this key's account may read audit logs (false → 403 there). */
  setAuditLogAccess(apiKey: string, allowed: boolean): void;
  /** Add a service event (e.g. server_failed with details.reason.oomKilled, server_unhealthy). */
  addServiceEvent(serviceId: string, type: string, details?: Record<string, unknown>): void;
  /** The DNS records of this custom domain now exist: verifying it succeeds. */
  configureDns(name: string): void;
  calls: SimCall[];
  stats(): SimStats;
  reset(): void;
  close(): Promise<void>;
}

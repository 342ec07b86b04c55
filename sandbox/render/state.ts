import type { BuildFailureMatch, BuildFailureStatus, DeployStatus, SimWorkspace } from './types.js';

/** In-memory records of the simulator. Times are epoch microseconds (see clock.ts). */

export interface AccountRec {
  id: string; // usr-…
  name: string;
  email: string;
  /** All workspaces the account belongs to, in order; the first is its default. */
  workspaceIds: string[];
  scoped: boolean;
  hasPaymentInfo: boolean;
  /** false = a plan without the audit-log API: GET …/audit-logs answers 403. */
  auditLogs: boolean;
}

export interface WorkspaceRec extends SimWorkspace {
  seq: number;
  email: string;
}

export interface EnvVarRec {
  seq: number;
  key: string;
  value: string;
}

export interface SecretFileRec {
  seq: number;
  name: string;
  content: string;
}

export interface CustomDomainRec {
  seq: number;
  id: string; // cdm-…
  name: string;
  domainType: 'apex' | 'subdomain';
  publicSuffix: string;
  /** The apex a www entry redirects to (or the www name an apex redirects from), '' when none. */
  redirectForName: string;
  verificationStatus: 'verified' | 'unverified';
  createdUs: number;
}

interface ImageRef {
  ownerId: string;
  imagePath: string;
  registryCredentialId?: string;
}

export interface ServiceRec {
  seq: number;
  id: string;
  ownerId: string;
  name: string;
  type: 'static_site' | 'web_service' | 'private_service' | 'background_worker' | 'cron_job';
  repo: string | null;
  branch: string | null;
  image: ImageRef | null;
  autoDeploy: 'yes' | 'no';
  rootDir: string;
  buildFilter: { paths: string[]; ignoredPaths: string[] } | null;
  environmentId: string | null;
  notifyOnFail: 'default' | 'notify' | 'ignore';
  slug: string;
  createdUs: number;
  updatedUs: number;
  suspended: 'suspended' | 'not_suspended';
  suspenders: string[];
  /** The `serviceDetails` object exactly as presented (type-specific). */
  details: Record<string, unknown>;
  envVars: EnvVarRec[];
  /** Absent in worlds saved before secret files and domains were simulated: read with `?? []`. */
  secretFiles?: SecretFileRec[];
  customDomains?: CustomDomainRec[];
}

/** An environment group: env vars and secret files shared by the services linked to it (`/env-groups`). */
export interface EnvGroupRec {
  seq: number;
  id: string; // evg-…
  name: string;
  ownerId: string;
  createdUs: number;
  updatedUs: number;
  envVars: EnvVarRec[];
  secretFiles: SecretFileRec[];
  /** Linked services, in the order they were linked. */
  serviceIds: string[];
}

export interface DeployRec {
  seq: number;
  id: string;
  serviceId: string;
  status: DeployStatus;
  trigger: string;
  commit: { id: string; message: string; createdAt: string } | null;
  image: { ref: string; sha: string; registryCredential?: string } | null;
  createdUs: number;
  updatedUs: number;
  startedUs: number | null;
  finishedUs: number | null;
  /** Ordered active phases this deploy goes through. */
  phases: DeployStatus[];
  /** Injected failure: the deploy ends with this status when it reaches the matching phase. */
  failWith: BuildFailureStatus | null;
  timer: NodeJS.Timeout | null;
  /** For service events: build and pre-deploy execution ids, and what triggered the deploy. */
  buildId: string;
  preDeployId: string;
  clearCache: boolean;
  firstBuild: boolean;
  rollbackTargetId: string | null;
}

export interface LogRec {
  seq: number;
  id: string;
  resourceId: string;
  /** Owner of the resource when known; null for resources the simulator does not model. */
  ownerId: string | null;
  us: number;
  message: string;
  labels: Record<string, string>;
}

export interface AuditRec {
  seq: number;
  id: string;
  ownerId: string;
  us: number;
  event: string;
  status: 'success' | 'error';
  actor: { type: 'user' | 'rest_api' | 'system'; email?: string; id?: string };
  metadata: Record<string, string>;
}

export interface EventRec {
  seq: number;
  id: string; // evt-…
  serviceId: string;
  us: number;
  type: string;
  details: Record<string, unknown>;
}

interface BuildFailureRule {
  match: BuildFailureMatch;
  status: BuildFailureStatus;
  remaining: number;
}

export interface SimState {
  seq: number;
  accounts: Map<string, AccountRec>;
  /** API key → account id. */
  keys: Map<string, string>;
  revokedKeys: Set<string>;
  workspaces: Map<string, WorkspaceRec>;
  services: Map<string, ServiceRec>;
  deploys: Map<string, DeployRec>;
  logs: LogRec[];
  audit: AuditRec[];
  events: EventRec[];
  buildFailures: BuildFailureRule[];
  /** Domain names whose DNS records "exist": verifying them succeeds (sim.configureDns). */
  dnsReady?: string[];
  /** Absent in worlds saved before env groups were simulated: read with `envGroupsOf(state)`. */
  envGroups?: EnvGroupRec[];
}

/** The state's env groups (created on first use: worlds saved before them have none). */
export function envGroupsOf(state: SimState): EnvGroupRec[] {
  return (state.envGroups ??= []);
}

export function createState(): SimState {
  return {
    seq: 0,
    accounts: new Map(),
    keys: new Map(),
    revokedKeys: new Set(),
    workspaces: new Map(),
    services: new Map(),
    deploys: new Map(),
    logs: [],
    audit: [],
    events: [],
    buildFailures: [],
  };
}

export function nextSeq(state: SimState): number {
  state.seq += 1;
  return state.seq;
}

/** Deploys of one service, newest first. */
export function deploysOf(state: SimState, serviceId: string): DeployRec[] {
  const out: DeployRec[] = [];
  for (const d of state.deploys.values()) if (d.serviceId === serviceId) out.push(d);
  return out.sort((a, b) => b.seq - a.seq);
}

/** The state as plain JSON (timers left out): what a sandbox keeps across restarts. */
interface StateSnapshot {
  version: 1;
  seq: number;
  accounts: AccountRec[];
  keys: Array<[string, string]>;
  revokedKeys: string[];
  workspaces: WorkspaceRec[];
  services: ServiceRec[];
  deploys: Array<Omit<DeployRec, 'timer'>>;
  logs: LogRec[];
  audit: AuditRec[];
  events: EventRec[];
  buildFailures: BuildFailureRule[];
  dnsReady?: string[];
  envGroups?: EnvGroupRec[];
}

/** Log lines kept across a restart: the newest ones (a long-lived sandbox would otherwise grow without end). */
const MAX_PERSISTED_LOGS = 50_000;

export function snapshotState(state: SimState): StateSnapshot {
  return {
    version: 1,
    seq: state.seq,
    accounts: [...state.accounts.values()],
    keys: [...state.keys],
    revokedKeys: [...state.revokedKeys],
    workspaces: [...state.workspaces.values()],
    services: [...state.services.values()],
    deploys: [...state.deploys.values()].map(({ timer: _timer, ...d }) => d),
    logs: state.logs.slice(-MAX_PERSISTED_LOGS),
    audit: state.audit,
    events: state.events,
    buildFailures: state.buildFailures,
    dnsReady: state.dnsReady ?? [],
    envGroups: state.envGroups ?? [],
  };
}

/** The inverse of snapshotState. Throws on a file of another shape rather than running on half a world. */
export function restoreState(raw: unknown): SimState {
  const s = raw as Partial<StateSnapshot> | null;
  const arrays = ['accounts', 'keys', 'revokedKeys', 'workspaces', 'services', 'deploys', 'logs', 'audit', 'events', 'buildFailures'] as const;
  if (!s || s.version !== 1 || typeof s.seq !== 'number' || arrays.some((k) => !Array.isArray(s[k]))) {
    throw new Error('the saved Render simulator state has an unknown format');
  }
  const snap = s as StateSnapshot;
  return {
    seq: snap.seq,
    accounts: new Map(snap.accounts.map((a) => [a.id, a])),
    keys: new Map(snap.keys),
    revokedKeys: new Set(snap.revokedKeys),
    workspaces: new Map(snap.workspaces.map((w) => [w.id, w])),
    services: new Map(snap.services.map((x) => [x.id, x])),
    deploys: new Map(snap.deploys.map((d) => [d.id, { ...d, timer: null }])),
    logs: snap.logs,
    audit: snap.audit,
    events: snap.events,
    buildFailures: snap.buildFailures,
    dnsReady: Array.isArray(snap.dnsReady) ? snap.dnsReady : [],
    envGroups: Array.isArray(snap.envGroups) ? snap.envGroups : [],
  };
}

import type { ServiceTypeName } from '../stacks/serviceTypes.js';
import type { AutoDeploy } from '../render/types.js';
/**
 * A deployment: one request to get a repo running on the caller's Render account, and everything
 * that happened to it. Records hold no secrets: env var names are kept, values never.
 */

/** Our own phases, before Render has a deploy to report on. */
export const ORCHESTRATOR_PHASES = ['queued', 'verifying', 'detecting', 'creating_service', 'triggering_deploy'] as const;
/** Render's in-progress deploy statuses, mirrored while we watch (Render's `queued` shows as `render_queued`). */
export const RENDER_PROGRESS = ['created', 'render_queued', 'build_in_progress', 'pre_deploy_in_progress', 'update_in_progress'] as const;
/** `deactivated` is Render's word for a deploy that was live and has been replaced by a newer one. */
export const TERMINAL_STATUSES = ['live', 'deactivated', 'build_failed', 'update_failed', 'pre_deploy_failed', 'canceled', 'failed', 'credentials_revoked'] as const;

type OrchestratorPhase = (typeof ORCHESTRATOR_PHASES)[number];
type RenderProgress = (typeof RENDER_PROGRESS)[number];
type TerminalStatus = (typeof TERMINAL_STATUSES)[number];
export type DeploymentStatus = OrchestratorPhase | RenderProgress | TerminalStatus;

const terminal = new Set<string>(TERMINAL_STATUSES);
export const isTerminal = (s: string): s is TerminalStatus => terminal.has(s);

/**
 * A redeploy of a commit already live or being deployed, or behind one that is, deploys nothing
 * and ends canceled with one of these codes (workers/tasks/githubSteps.ts): an outcome, not a failure
 * of the commit. The one list: commit statuses read it, and clients (scripts/ci-deploy.mjs) read the
 * outcome from a deployment's `nothingToDeploy` (server/presenters/deployment.ts), never the codes.
 */
export const NOTHING_TO_DEPLOY_CODES: readonly string[] = ['commit_already_live', 'newer_commit_live', 'newer_commit_deploying', 'commit_already_deploying'];
export const nothingToDeploy = (rec: Pick<DeploymentRecord, 'status' | 'failure'>): boolean =>
  rec.status === 'canceled' && NOTHING_TO_DEPLOY_CODES.includes(rec.failure?.code ?? '');

/**
 * A canceled deployment whose deploy on Render left Render's queue and went live before it could be
 * canceled there (workers/tasks/canceledAsk.ts): the commit runs as the service's code, and its commit
 * status says so (success), not that the deploy failed.
 */
export const WENT_LIVE_AFTER_CANCEL = 'went_live_after_cancel';
export const wentLiveAfterCancel = (rec: Pick<DeploymentRecord, 'status' | 'failure'>): boolean =>
  rec.status === 'canceled' && rec.failure?.code === WENT_LIVE_AFTER_CANCEL;

export type DeploymentKind = 'deploy' | 'redeploy' | 'rollback';

export interface DeploymentRequest {
  githubRepo: string;
  serviceName: string;
  branch: string | null;
  ownerId: string;
  region: string;
  plan: string;
  envVarKeys: string[];
  buildCommand: string | null;
  startCommand: string | null;
  /** Chosen in the form; absent or null: the type detection finds. Signed by requestMac when set. */
  serviceType?: ServiceTypeName | null;
  /** Cron jobs only: the five-field schedule (validated by server/deployments/cron.ts). */
  schedule?: string | null;
  /**
   * The commit asked for (a full SHA, set only when given): verified to be on the branch, detected and
   * deployed instead of the branch's head. Signed by requestMac when set.
   */
  commitSha?: string;
  /** A redeploy that builds without Render's build cache (set only when true). */
  clearCache?: true;
}

export interface DetectedStackSummary {
  stack: string;
  runtime: string;
  serviceType: string;
  buildCommand: string;
  startCommand: string | null;
  reason: string;
  fromBlueprint: boolean;
  /** Cron jobs: the schedule Render runs them on. */
  schedule?: string | null;
  /** Static sites and Docker: where the site is built to, which Dockerfile (null otherwise; absent in older records). */
  publishPath?: string | null;
  dockerfilePath?: string | null;
  /** A render.yaml Docker service's dockerContext (absent or null: '.'). */
  dockerContext?: string | null;
  /** A render.yaml service's rootDir, sent to Render with the creation (absent or null: the repository's root). */
  rootDir?: string | null;
  /** A render.yaml service's auto-deploy, sent to Render with the creation (absent or null: 'yes'). */
  autoDeploy?: AutoDeploy | null;
}

export interface TimelineEntry {
  status: DeploymentStatus;
  at: string;
  source: 'orchestrator' | 'render';
  note?: string;
}

export interface DeploymentFailure {
  code: string;
  message: string;
  /** service_name_taken: a name nobody in the workspace uses yet. */
  suggestedName?: string;
}

/** What replaced a live deploy: our deployment when we made it, else only Render's deploy id. */
export interface ReplacedBy {
  deploymentId: string | null;
  deployId: string | null;
  at: string;
}

export interface DeploymentRecord {
  id: string;
  userId: number;
  kind: DeploymentKind;
  request: DeploymentRequest;
  status: DeploymentStatus;
  timeline: TimelineEntry[];
  stack: DetectedStackSummary | null;
  commitSha: string | null;
  serviceId: string | null;
  deployId: string | null;
  /** The commit Render built (`deploy.commit.id`); may differ from commitSha, the one we checked. */
  renderCommitId?: string | null;
  /**
   * Render's `createdAt` of the deploy `deployId` names (Render's clock, RFC 3339 to the microsecond):
   * Render's order of a service's deploys, which tells a record going live which others are older
   * (workers/tasks/finishDeploy.ts). Absent in records made before it was kept, and until a look names it.
   */
  deployCreatedAt?: string | null;
  /** When we asked Render for a deploy, so a retried trigger can adopt it instead of making another. */
  deployRequestedAt: string | null;
  /** Set when a newer deploy of the same service went live (status becomes `deactivated`). */
  replacedBy?: ReplacedBy | null;
  /** Set when the service is gone from Render (deleted here or on Render): nothing to redeploy. */
  serviceDeletedAt?: string | null;
  /** For rollbacks: the deploy to roll back to. */
  rollbackToDeployId: string | null;
  dashboardUrl: string | null;
  serviceUrl: string | null;
  failure: DeploymentFailure | null;
  /** Ids that tie the job to its consent: the session (by hashed ref) and the key (by fingerprint). */
  sessionRef: string;
  keyFingerprint: string;
  /**
   * MAC (server/crypto/keyring.ts signIntegrity) over who asked for what, made once when the deployment
   * was requested: id, user, kind, session ref, key fingerprint, the whole request, the target service
   * and rollback deploy. Its job carries the same value, which ties the job to this record.
   */
  requestMac: string;
  watchChecks: number;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

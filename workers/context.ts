import type { AppDeps } from '../server/deps.js';
import type { SecurityEvents } from '../server/security/events.js';
import type { Queue } from 'bullmq';
import type { CommitStatusJobData } from '../server/queues/commitStatusQueue.js';
import type { ScopeCache } from './tasks/scopeCache.js';

/**
 * Delayed re-checks while a deploy runs: 3 s growing ×1.2 to 15 s, for at most maxMs in all.
 * queuedUnmatchedMs: how long a deploy Render queued (202, no id) may go without Render listing one
 * matching it. Render lists a queued deploy at once (its CLI reads it right after the 202), so a
 * quarter of an hour is far past any listing delay, budget wait or short Render outage, and
 * far short of maxMs, which a build may need and an unmatched deploy never does.
 */
export interface WatchPolicy { initialMs: number; factor: number; maxDelayMs: number; maxMs: number; queuedUnmatchedMs: number }
export const DEFAULT_WATCH: WatchPolicy = { initialMs: 3_000, factor: 1.2, maxDelayMs: 15_000, maxMs: 3 * 3_600_000, queuedUnmatchedMs: 15 * 60_000 };

/** Everything the deploy task needs, injected (tests build real ones on private ports): the shared dependencies it uses, plus its own. */
export interface WorkerContext extends Pick<AppDeps, 'config' | 'redis' | 'clock' | 'logger' | 'keyring' | 'sessions' | 'deployments' | 'enqueuer' | 'budget' | 'envVault' | 'upstream'> {
  watch: WatchPolicy;
  /** Per-request deadline for Render calls. */
  renderTimeoutMs: number;
  /** A deployment reached a final status (metrics; the owner's audit trail). */
  onFinished?: (status: string, durationMs: number, deployment: { deploymentId: string; userId: number; sessionRef: string }) => void;
  /** Read ahead the audit heads onFinished's entry for this user will need (AuditLog.prefetch), in the round trip of the final record write. */
  prefetchAudit?: (userId: number) => void;
  /** A deployment ended: its result to the user's Slack, when they asked for it (server/sentinel/deployResults.ts). */
  deploySlack?: (rec: import('../server/deployments/types.js').DeploymentRecord) => Promise<void>;
  /** Where a deploy step asks for a GitHub commit status (workers/tasks/commitStatus.ts); unset, none is posted. */
  commitStatusQueue?: Queue<CommitStatusJobData>;
  /** How long after it is asked a pending status is due (one write spacing; 0 without pacing): a deploy ending sooner posts only its final one. */
  commitStatusPendingDelayMs?: number;
  /** The process's memory of tokens' OAuth scopes: the deploy's GitHub reads fill it, its commit statuses read it. */
  tokenScopes?: ScopeCache;
  /**
   * GitHub refused the token a deploy step or commit status read from the session `rec.sessionRef`: that session ends
   * (a bearer token's entry too), as a route's refusal ends it (server/sessions/githubRefusal.ts). Never throws.
   */
  githubTokenRefused?: (rec: Pick<import('../server/deployments/types.js').DeploymentRecord, 'sessionRef' | 'userId'>, token: string) => Promise<void>;
  /** Audit entry, metric and alert for what the worker refuses (a record or job that fails its MAC). */
  securityEvents?: SecurityEvents;
  /**
   * Fault injection for crash tests: called at the riskiest moments (Render answered, nothing recorded
   * yet). Production leaves it unset.
   */
  crashPoint?: (point: 'service_created' | 'deploy_triggered' | 'step') => void;
}

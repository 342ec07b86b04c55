import type { Redis } from 'ioredis';
import type { AppConfig } from '../server/config/env.js';
import type { Clock } from '../server/clock.js';
import type { Logger } from '../server/logger.js';
import type { Keyring } from '../server/crypto/keyring.js';
import type { SessionStore } from '../server/sessions/store.js';
import type { DeploymentStore } from '../server/deployments/store.js';
import type { FairEnqueuer } from '../server/queues/deployQueue.js';
import type { RenderBudget } from '../server/render/budget.js';
import type { RenderCallOutcome } from '../server/render/client.js';
import type { EnvVault } from '../server/deployments/envVars.js';

/** Delayed re-checks while a deploy runs: 3 s growing ×1.2 to 15 s, for at most maxMs in all. */
export interface WatchPolicy { initialMs: number; factor: number; maxDelayMs: number; maxMs: number }
export const DEFAULT_WATCH: WatchPolicy = { initialMs: 3_000, factor: 1.2, maxDelayMs: 15_000, maxMs: 3 * 3_600_000 };

/** Everything the deploy task needs, injected (tests build real ones on private ports). */
export interface WorkerContext {
  config: AppConfig;
  redis: Redis;
  clock: Clock;
  logger: Logger;
  keyring: Keyring;
  sessions: SessionStore;
  deployments: DeploymentStore;
  enqueuer: FairEnqueuer;
  budget: RenderBudget;
  envVault: EnvVault;
  watch: WatchPolicy;
  /** Per-request deadline for Render calls. */
  renderTimeoutMs: number;
  onRenderCall?: (call: RenderCallOutcome) => void;
  /** A deployment reached a final status (metrics; the owner's audit trail). */
  onFinished?: (status: string, durationMs: number, deployment: { deploymentId: string; userId: number }) => void;
  /**
   * Fault injection for crash tests: called at the riskiest moments (Render answered, nothing recorded
   * yet). Production leaves it unset.
   */
  crashPoint?: (point: 'service_created' | 'deploy_triggered' | 'step') => void;
}

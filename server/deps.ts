import type { Redis } from 'ioredis';
import type { Queue } from 'bullmq';
import type { AppConfig } from './config/env.js';
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';
import type { Keyring } from './crypto/keyring.js';
import type { SessionStore } from './sessions/store.js';
import type { SessionEnding } from './sessions/endSession.js';
import type { DeploymentStore } from './deployments/store.js';
import type { EnvVault } from './deployments/envVars.js';
import type { DeployRequests } from './deployments/requests.js';
import type { DeployJobData, FairEnqueuer } from './queues/deployQueue.js';
import type { CommitStatusJobData } from './queues/commitStatusQueue.js';
import type { RenderBudget } from './render/budget.js';
import type { RenderCallOutcome } from './render/client.js';
import type { EventHub } from './events/hub.js';
import type { RouteLimits } from './security/routeLimits.js';
import type { LogTailer } from './deployments/logTail.js';
import type { AuditLog } from './audit/auditLog.js';
import type { SecurityLayer } from './security/layer.js';
import type { Telemetry } from './telemetry/telemetry.js';
import type { UpstreamClients } from './upstream.js';
import type { SessionCache } from './sessions/cache.js';
import type { DeploySlack } from './sentinel/deployResults.js';
import type { TokenEntry } from './bearer/tokenSessions.js';

/** Where a process's counters go (server/metrics/registry.ts builds one); optional so tests can leave it out. */
export interface MetricsSink {
  onRenderCall?: (call: RenderCallOutcome) => void;
  /** The shared per-key Render budget made a caller wait (bucket like 'deploy:srv-…'; the scope is dropped). */
  onBudgetWait?: (bucket: string, waitMs: number) => void;
  /** A security event was raised; `kind` is a short fixed name (e.g. 'render_key_invalid'), never user data. */
  onSecurityEvent?: (kind: string) => void;
  /** A request refused because its user is throttled or blocked by the anomaly detector. */
  onAnomalyRefused?: (state: 'throttled' | 'blocked') => void;
}

/** What route modules are built from. Everything is injected; nothing reads process.env. */
export interface AppDeps {
  config: AppConfig;
  redis: Redis;
  /**
   * The connection BullMQ queues are built on (the deploy queue, Sentinel's): BullMQ defines its ~60
   * scripts on a connection, and ioredis copies every defined script onto each auto-pipelined batch
   * (unless server/redisPipelines.ts could take that over), so `redis`, which every request uses,
   * carries none of them.
   */
  queueRedis: Redis;
  clock: Clock;
  logger: Logger;
  keyring: Keyring;
  sessions: SessionStore;
  /** Sign-out, re-sign-in, expiry, key cleared or changed: one module (server/sessions/endSession.ts). */
  sessionEnding: SessionEnding;
  budget: RenderBudget;
  /** The caller's GitHub and Render clients and the service list cache (server/upstream.ts). */
  upstream: UpstreamClients;
  deployments: DeploymentStore;
  envVault: EnvVault;
  queue: Queue<DeployJobData>;
  /** GitHub commit statuses are asked on it (workers post them): the worker's deploy steps, and the web's ends of a deployment (a cancel, a cleared key). */
  commitStatusQueue: Queue<CommitStatusJobData>;
  enqueuer: FairEnqueuer;
  deployRequests: DeployRequests;
  /** Per-IP and per-user request limits; each route names its own in its chain. */
  rateLimits: RouteLimits;
  /** The hash-chained audit trail (one instance per process, web and worker alike). */
  audit: AuditLog;
  /** Security events, key lock-out, probe detection and request-aware audit (server/security/layer.ts), web and worker alike. */
  security: SecurityLayer;
  /** Request telemetry, and the anomaly detector's throttles and blocks (server/telemetry/). */
  telemetry: Telemetry;
  metrics?: MetricsSink;
  /** The web process's one Redis subscriber for live updates (absent in workers). */
  events?: EventHub;
  /** The web process's log tail pollers (one per followed deployment across processes; absent in workers). */
  logTails?: LogTailer;
  /** The web process's cache of bearer token entries (server/bearer/tokenSessions.ts; absent in workers). */
  tokenEntries?: SessionCache<TokenEntry>;
  /** The web's post of a deployment's result to the user's Slack, for the ends it writes itself (a delete through the app); the worker's is its context's. */
  deployResults?: DeploySlack;
}

import type { Redis } from 'ioredis';
import type { AppConfig } from './config/env.js';
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';
import type { AppDeps, MetricsSink } from './deps.js';
import { createKeyring } from './crypto/keyring.js';
import { createSessionStore, type LoadedSession } from './sessions/store.js';
import type { SessionCache } from './sessions/cache.js';
import { createSessionEnding } from './sessions/endSession.js';
import { createRenderBudget, type RenderLimits } from './render/budget.js';
import { createDeploymentStore } from './deployments/store.js';
import { createEnvVault } from './deployments/envVars.js';
import { createDeployRequests } from './deployments/requests.js';
import { createDeployQueue, createFairEnqueuer } from './queues/deployQueue.js';
import { createCommitStatusQueue, requestCommitStatus } from './queues/commitStatusQueue.js';
import { createRouteLimits } from './security/routeLimits.js';
import { createAuditLog } from './audit/auditLog.js';
import type { SecurityOptions } from './security/options.js';
import { createSecurityLayer } from './security/layer.js';
import { createTelemetry } from './telemetry/telemetry.js';
import { createUpstreamClients } from './upstream.js';

interface BuildDepsArgs {
  config: AppConfig;
  redis: Redis;
  /** Connection for the BullMQ producer (kept separate so queue traffic never blocks sessions). */
  queueRedis: Redis;
  clock: Clock;
  logger: Logger;
  /** Override Render's limits (tests shrink the windows together with the simulator's). */
  renderLimits?: RenderLimits;
  metrics?: MetricsSink;
  /** Base of the jittered exponential backoff between job retries (default 2 s; tests shrink it). */
  retryBackoffMs?: number;
  /** Request limits, lock-out thresholds, alert cooldown and transport (server/security/options.ts has the defaults; tests shrink them). */
  security?: SecurityOptions;
  /** Telemetry flush and guard sync intervals (defaults 5 s and 1 s; tests shrink them). */
  telemetry?: { flushMs?: number; syncMs?: number };
  /** The web process's cache of decrypted sessions (server/sessions/cache.ts); workers read Redis each time. */
  sessionCache?: SessionCache<LoadedSession>;
  /** The web process's cache of bearer token entries, tracked like the sessions'. */
  tokenEntries?: AppDeps['tokenEntries'];
}

/** Build the shared dependencies (the composition root used by the web and worker processes). */
export function buildDeps(args: BuildDepsArgs): AppDeps {
  const { config, redis, clock, logger } = args;
  const prefix = config.redisPrefix;
  const keyring = createKeyring(config.secretKey, config.previousSecretKey);
  // Ends the store notices itself (expiry, `ctx.session = null`) go through the session-ending module too.
  const sessions = createSessionStore({
    redis, keyring, clock, prefix, idleMs: config.sessionIdleMs, absoluteMs: config.sessionAbsoluteMs,
    onEnded: (ended) => sessionEnding.afterEnded(ended), cache: args.sessionCache,
  });
  const budget = createRenderBudget({ redis, prefix, limits: args.renderLimits, onWait: args.metrics?.onBudgetWait });
  const upstream = createUpstreamClients({ config, redis, clock, metrics: args.metrics });
  const deployments = createDeploymentStore({ redis, prefix, clock, keyring });
  const envVault = createEnvVault({ redis, prefix, keyring });
  const queue = createDeployQueue(args.queueRedis, prefix, args.retryBackoffMs);
  const enqueuer = createFairEnqueuer({ queue, redis, prefix });
  const commitStatusQueue = createCommitStatusQueue(args.queueRedis, prefix);
  const deployRequests = createDeployRequests({
    redis, prefix, clock, keyring, deployments, envVault, enqueuer, queue,
    finalCommitStatus: (rec) => requestCommitStatus({ commitStatusQueue, redis, config, logger }, rec, 'final'),
  });
  const audit = createAuditLog({
    redis, prefix, clock, keyring, retention: config.auditRetention,
    onAdopted: (chain, length) => logger.warn({ chain, length }, 'audit: adopted a chain written without signatures (expected once per chain after upgrading; otherwise someone edited Redis)'),
  });
  // One security layer per process, web and worker alike: routes and tasks call it where things happen.
  const security = createSecurityLayer({
    redis, prefix, clock, logger, audit, deployments, slackWebhookUrl: config.slackWebhookUrl, options: args.security,
    onEvent: (type) => args.metrics?.onSecurityEvent?.(type),
  });
  const rateLimits = createRouteLimits({ redis, prefix, limits: security.limits });
  const sessionEnding = createSessionEnding({
    sessions, redis, logger, audit, events: security.events, revokeDeploys: (userId, refs, fp, by) => deployRequests.revokeForSession(userId, refs, fp, by),
  });
  const telemetry = createTelemetry({
    redis, prefix, settings: config.telemetry, logger, ...args.telemetry,
    metrics: { onRefused: (state) => args.metrics?.onAnomalyRefused?.(state) },
  });
  return { config, redis, queueRedis: args.queueRedis, clock, logger, keyring, sessions, sessionEnding, budget, upstream, deployments, envVault, queue, commitStatusQueue, enqueuer, deployRequests, rateLimits, audit, security, telemetry, metrics: args.metrics, tokenEntries: args.tokenEntries };
}

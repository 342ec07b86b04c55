import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Worker } from 'bullmq';
import type { AppConfig } from '../server/config/env.js';
import { systemClock, type Clock } from '../server/clock.js';
import { repeatingWarning, type Logger } from '../server/logger.js';
import { createRedis } from '../server/redis.js';
import type { Redis } from 'ioredis';
import { discardKeySessionOf } from '../server/bearer/keySessions.js';
import { buildDeps } from '../server/system.js';
import type { RenderLimits } from '../server/render/budget.js';
import type { DeployJobData } from '../server/queues/deployQueue.js';
import { createDeployWorker, type DeployWorkerOptions } from './worker.js';
import { DEFAULT_WATCH, type WatchPolicy, type WorkerContext } from './context.js';
import { createWorkerMetrics, type WorkerMetrics } from '../server/metrics/registry.js';
import { publishSnapshots } from '../server/metrics/snapshots.js';
import { auditDeployFinished } from '../server/audit/deployFinished.js';
import { startSentinelWorker, type SentinelWorker, type SentinelWorkerOptions } from './sentinelWorker.js';
import { createSentinelStore } from '../server/sentinel/store.js';
import { createDeploySlack } from '../server/sentinel/deployResults.js';
import { startAnomalyDetection, type AnomalyOptions } from './anomalyWorker.js';
import type { CommitStatusJobData } from '../server/queues/commitStatusQueue.js';
import { createSessionCache, trackingConnection } from '../server/sessions/cache.js';
import { createProcessFence } from '../server/sessions/fence.js';
import { sessionKeys, type LoadedSession } from '../server/sessions/store.js';
import { startOrphanSweeps, type OrphanSweepOptions, type OrphanSweeps } from './orphanSweep.js';
import { startRotationSweeps, type RotationSweepOptions, type RotationSweeps } from './rotationSweep.js';
import { resealRetiredSecrets, retiredDeps } from '../server/deployments/retiredSecrets.js';
import { resealSeenSecrets } from '../server/deployments/seenSecrets.js';
import { createCommitStatusWorker, createTokenScopes, statusWriteIntervalMs, type CommitStatusWorkerOptions } from './commitStatusWorker.js';
import { jobDeploymentId } from './tasks/verifyJob.js';
import { giveUpDeployment } from './tasks/deployTask.js';
import { createOutsideRequestRefusal } from '../server/sessions/githubRefusal.js';

/**
 * A BullMQ worker's connection: auto-pipelined, except its blocking wait for the next job. BullMQ's
 * blocking connection is a duplicate of this one (same options), and an auto-pipelined command builds a
 * pipeline (which, before server/redisPipelines.ts, also copied each of BullMQ's ~60 scripts onto it)
 * for a command that always goes out alone (bench/, the worker's profile).
 */
const BULLMQ_WORKER_REDIS = { enableAutoPipelining: true, autoPipeliningIgnoredCommands: ['bzpopmin'] };

export interface WorkerProcess {
  worker: Worker<DeployJobData>;
  /** The commit-status worker (workers/commitStatusWorker.ts). */
  statusWorker: Worker<CommitStatusJobData>;
  context: WorkerContext;
  metrics: WorkerMetrics;
  /** This process in metrics and logs: hostname, pid and a random suffix. */
  instance: string;
  /** The Sentinel tick of this process (workers/sentinelWorker.ts). */
  sentinel: SentinelWorker;
  /** This process's sweeps for queued deployments whose job was lost (workers/orphanSweep.ts). */
  orphanSweeps: OrphanSweeps;
  /** While SECRET_KEY_PREVIOUS is set: re-signing what it signed (workers/rotationSweep.ts). */
  rotationSweeps: RotationSweeps;
  close(timeoutMs?: number): Promise<void>;
}

/** Compose and start a worker process (production entry point and tests share this). */
export async function startWorker(args: {
  config: AppConfig; logger: Logger; clock?: Clock; watch?: Partial<WatchPolicy>; renderLimits?: RenderLimits; workerOptions?: DeployWorkerOptions;
  renderTimeoutMs?: number; retryBackoffMs?: number;
  crashPoint?: WorkerContext['crashPoint'];
  /** How often this worker's metrics snapshot is pushed to Redis for the web's /metrics (default 10 s). */
  metricsPushMs?: number;
  /** Sentinel (server/sentinel): alert transport and hosts for tests. */
  sentinel?: SentinelWorkerOptions;
  /** The anomaly detector's schedule and statistics (server/telemetry/options.ts; tests shrink them). */
  anomaly?: AnomalyOptions;
  /** The commit-status worker (workers/commitStatusWorker.ts): its concurrency and write pacing. */
  commitStatus?: CommitStatusWorkerOptions;
  /** The sweep for queued deployments without a job: grace period, rhythm, bound (tests shrink them). */
  orphanSweep?: OrphanSweepOptions;
  /** Re-signing what the previous SECRET_KEY signed, while it is set (workers/rotationSweep.ts; tests shrink the rhythm). */
  rotationSweep?: RotationSweepOptions;
}): Promise<WorkerProcess> {
  const { config, logger } = args;
  // The data connection (records, sessions, budget, pub/sub publishes) auto-pipelines: commands issued by
  // concurrent jobs in the same tick share one socket write instead of one syscall each, which was the
  // worker's largest CPU cost per deploy (see bench/). BullMQ's own connections stay as they are.
  const redis = createRedis(config.redisUrl, 'worker', { enableAutoPipelining: true });
  const queueRedis = createRedis(config.redisUrl, 'worker', { enableAutoPipelining: true });
  const workerRedis = createRedis(config.redisUrl, 'worker', BULLMQ_WORKER_REDIS);
  const instance = `${hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`;
  const metrics = createWorkerMetrics({ instance });
  // The web's cache of decrypted sessions (kept correct by Redis' invalidation messages): a deploy reads
  // its session up to four times within seconds (its credentials, both commit statuses, the key-session
  // check when it ends), each a round trip and a decryption without it.
  const clock = args.clock ?? systemClock;
  const trackingWarning = repeatingWarning(logger, 'session cache: tracking not set up; reading sessions from Redis', { now: () => clock.now() });
  const sessionCache = createSessionCache<LoadedSession>({
    connect: () => trackingConnection(config.redisUrl),
    recordPrefix: sessionKeys(config.redisPrefix).record(''),
    onError: (err) => trackingWarning({ err: { message: err.message } }),
    // Acks the ending side's fences like a web process (it fences no end itself: an expiry it finds is not fenced, store.ts).
    fence: createProcessFence({ prefix: config.redisPrefix, redis, timeoutMs: config.sessionEndFenceMs, logger }),
    heartbeatMs: config.sessionCacheHeartbeatMs,
  });
  const deps = buildDeps({ config, redis, queueRedis, sessionCache, clock, logger, renderLimits: args.renderLimits, retryBackoffMs: args.retryBackoffMs, metrics: metrics.sink });
  // The same security layer as the web's (buildDeps): audit trail and security events.
  const { audit, security: { events: securityEvents } } = deps;
  const context: WorkerContext = {
    config, redis, clock: deps.clock, logger, keyring: deps.keyring, sessions: deps.sessions, deployments: deps.deployments,
    enqueuer: deps.enqueuer, budget: deps.budget, envVault: deps.envVault, upstream: deps.upstream, watch: { ...DEFAULT_WATCH, ...args.watch }, renderTimeoutMs: args.renderTimeoutMs ?? 15_000, crashPoint: args.crashPoint,
    onFinished: auditDeployFinished(audit, logger), prefetchAudit: (userId) => audit.prefetch(userId), securityEvents,
    commitStatusQueue: deps.commitStatusQueue,
    commitStatusPendingDelayMs: statusWriteIntervalMs(config, args.commitStatus),
    tokenScopes: createTokenScopes(),
  };
  const endRefused = createOutsideRequestRefusal(deps);
  context.githubTokenRefused = (rec, token) => endRefused(rec.sessionRef, rec.userId, token);
  context.deploySlack = createDeploySlack({
    redis, prefix: config.redisPrefix, keyring: deps.keyring, absoluteMs: config.sessionAbsoluteMs, baseUrl: config.baseUrl, logger, sessions: deps.sessions, alerts: args.sentinel?.alerts,
  });
  const audited = context.onFinished!;
  context.onFinished = (status, durationMs, deployment) => {
    metrics.deployFinished(status, durationMs);
    audited(status, durationMs, deployment);
    void discardKeySessionOf(deps, deployment).catch((err: unknown) => logger.warn({ err: { message: (err as Error).message } }, 'could not discard a per-request key session (it expires on its own)'));
  };
  const worker = createDeployWorker(context, workerRedis, args.workerOptions);
  const statusRedis = createRedis(config.redisUrl, 'worker', BULLMQ_WORKER_REDIS);
  const statuses = createCommitStatusWorker(context, statusRedis, args.commitStatus);
  const sentinelRedis = createRedis(config.redisUrl, 'worker');
  const sentinel = await startSentinelWorker(context, { connection: sentinelRedis, queueConnection: queueRedis, audit, registry: metrics.registry, options: args.sentinel });
  const anomalyRedis = createRedis(config.redisUrl, 'worker');
  const anomaly = await startAnomalyDetection({ deps, securityEvents, connection: anomalyRedis, queueConnection: queueRedis, registry: metrics.registry, options: args.anomaly });
  worker.on('active', (job) => {
    // First pickup only (later ones are re-checks after a delay): time spent waiting since enqueue.
    if (job.attemptsStarted <= 1 && job.processedOn) metrics.jobWaited((job.processedOn - job.timestamp - (job.opts.delay ?? 0)) / 1000);
  });
  worker.on('completed', (job) => logger.info({ deploymentId: jobDeploymentId(job), worker: instance }, 'deploy job done'));
  const snapshots = publishSnapshots({ redis, prefix: config.redisPrefix, instance, registry: metrics.registry, intervalMs: args.metricsPushMs });
  await worker.waitUntilReady();
  const orphanSweeps = startOrphanSweeps({
    deployments: deps.deployments, queue: deps.queue, enqueuer: deps.enqueuer, clock: deps.clock, logger, redis, prefix: config.redisPrefix,
    giveUp: (rec) => giveUpDeployment(context, rec),
  }, args.orphanSweep);
  const retired = retiredDeps(deps);
  const sentinelSettings = createSentinelStore({ redis, prefix: config.redisPrefix, keyring: deps.keyring, absoluteMs: config.sessionAbsoluteMs });
  const rotationSweeps = startRotationSweeps({
    keyring: deps.keyring, logger, instance,
    resigners: [
      { what: 'deployment records', resignStale: () => deps.deployments.resignStale() },
      { what: 'audit chain heads', resignStale: () => deps.audit.resignStale() },
      { what: 'retired secret values (sealed)', resignStale: () => resealRetiredSecrets(retired) },
      { what: 'secret values last seen on Render (sealed)', resignStale: () => resealSeenSecrets(retired) },
      { what: 'Sentinel watch settings (sealed)', resignStale: () => sentinelSettings.resealStale() },
    ],
  }, args.rotationSweep);
  let closing: Promise<void> | null = null;
  return {
    worker, statusWorker: statuses, context, metrics, instance, sentinel, orphanSweeps, rotationSweeps,
    /**
     * Stop taking jobs and let running steps finish, for at most timeoutMs. A step still running then
     * is abandoned: its job lock lapses and another worker runs the step again (every step is
     * idempotent). Then the last metrics snapshot is pushed and connections close, each bounded.
     */
    close(timeoutMs = 20_000) {
      closing ??= (async () => {
        snapshots.stop();
        const connections = [redis, queueRedis, workerRedis, statusRedis, sentinelRedis, anomalyRedis];
        // Redis unreachable (now or while draining): no step in flight can write what it did, and the
        // jobs wait in Redis, not here (their locks lapse; another worker runs the step again), so there
        // is nothing to wait for: every wait below would only run out its bound (22 s in all, measured).
        const lost = whenUnreachable(redis);
        try {
          await bounded(Promise.race([Promise.all([orphanSweeps.stop(), rotationSweeps.stop()]), lost.promise]), 2_000);
          let timer: NodeJS.Timeout | undefined;
          const deadline = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs); });
          const drained = await Promise.race([
            Promise.all([worker.close(), statuses.close(), sentinel.close(), anomaly.close()]).then(() => true, () => true), deadline, lost.promise.then(() => false),
          ]);
          clearTimeout(timer);
          if (!drained) {
            logger.warn({ worker: instance, redisReachable: !lost.happened() }, 'steps still running at the shutdown deadline are left to other workers');
            void worker.close(true).catch(() => {});
            void statuses.close(true).catch(() => {});
            void sentinel.close(true).catch(() => {});
            void anomaly.close(true).catch(() => {});
          }
          if (lost.happened()) {
            // Nothing more reaches Redis: the connections end first, so the closes below do not wait on it.
            for (const r of connections) r.disconnect();
            await Promise.all([deps.queue.close(), context.commitStatusQueue!.close(), sessionCache.close()].map((p) => bounded(p, 1_000)));
            return;
          }
        } finally {
          lost.dispose();
        }
        await bounded(snapshots.publish(), 1_000);
        await bounded(deps.queue.close(), 2_000);
        await bounded(context.commitStatusQueue!.close(), 2_000);
        await bounded(sessionCache.close(), 1_000);
        await Promise.all(connections.map(async (r) => { await bounded(r.quit(), 1_000); r.disconnect(); }));
      })();
      return closing;
    },
  };
}

/** Settles once the connection is not ready (at once if it is not now): Redis went away or the connection ended. */
function whenUnreachable(r: Redis): { promise: Promise<void>; happened(): boolean; dispose(): void } {
  let happened = r.status !== 'ready';
  let onLost = () => {};
  const promise = happened ? Promise.resolve() : new Promise<void>((resolve) => {
    onLost = () => { happened = true; resolve(); };
    r.once('close', onLost);
  });
  return { promise, happened: () => happened, dispose: () => { r.off('close', onLost); } };
}

async function bounded(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => {}), new Promise<void>((r) => { timer = setTimeout(r, ms); })]);
  clearTimeout(timer);
}

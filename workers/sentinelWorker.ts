import { Worker } from 'bullmq';
import { Counter, type Registry } from 'prom-client';
import type { Redis } from 'ioredis';
import type { WorkerContext } from './context.js';
import { queuePrefix } from '../server/queues/deployQueue.js';
import type { AuditLog } from '../server/audit/auditLog.js';
import { createSentinelStore } from '../server/sentinel/store.js';
import { createSentinelAlerts, type SentinelAlertOptions } from '../server/sentinel/alerts.js';
import { createSentinelQueue, SENTINEL_QUEUE, type SentinelJobData } from '../server/sentinel/queue.js';
import { runSentinelJob } from './tasks/sentinelTask.js';

export interface SentinelWorkerOptions {
  alerts?: SentinelAlertOptions;
  /** Rounds in flight per process (each is a few short Render calls). */
  concurrency?: number;
}

interface SentinelWorker { close(force?: boolean): Promise<void>; worker: Worker<SentinelJobData> }

/**
 * The Sentinel worker: runs each watching user's repeatable round (workers/tasks/sentinelTask.ts).
 * Counts findings and rounds in the worker's metrics registry (pushed to the web's /metrics).
 */
export function startSentinelWorker(ctx: WorkerContext, args: { connection: Redis; queueConnection: Redis; registry: Registry; audit: AuditLog; options?: SentinelWorkerOptions }): SentinelWorker {
  const { config, redis } = ctx;
  const findings = new Counter({ name: 'orchestrator_sentinel_findings_total', help: 'Sentinel findings created, by severity and kind.', labelNames: ['severity', 'kind'] as const, registers: [args.registry] });
  const rounds = new Counter({ name: 'orchestrator_sentinel_rounds_total', help: 'Sentinel rounds, by outcome (done, budget, stopped, error, skipped).', labelNames: ['outcome'] as const, registers: [args.registry] });
  const queue = createSentinelQueue(args.queueConnection, config.redisPrefix);
  const sentinel = {
    redis, logger: ctx.logger, keyring: ctx.keyring, sessions: ctx.sessions, budget: ctx.budget, queue,
    store: createSentinelStore({ redis, prefix: config.redisPrefix, keyring: ctx.keyring, absoluteMs: config.sessionAbsoluteMs }),
    alerts: createSentinelAlerts({ ...args.options?.alerts, redis, prefix: config.redisPrefix, logger: ctx.logger }),
    audit: args.audit,
    upstream: ctx.upstream, now: () => ctx.clock.now(),
    channelOf: (userId: number) => ctx.deployments.keys.channel(userId),
    onFinding: (f: { severity: string; kind: string }) => findings.inc({ severity: f.severity, kind: f.kind }),
    onRound: (outcome: string) => rounds.inc({ outcome }),
    lastRound: new Map<number, { ref: string; fp: string }>(),
  };
  const worker = new Worker<SentinelJobData>(SENTINEL_QUEUE, (job) => runSentinelJob(sentinel, job), {
    connection: args.connection, prefix: queuePrefix(config.redisPrefix), concurrency: args.options?.concurrency ?? 20,
    lockDuration: 60_000, stalledInterval: 30_000, maxStalledCount: 1,
  });
  worker.on('error', (err) => ctx.logger.error({ err: { message: err.message } }, 'sentinel worker error'));
  return {
    worker,
    async close(force = false) { await worker.close(force); await queue.close(); },
  };
}

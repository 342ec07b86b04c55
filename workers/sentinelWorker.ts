import { Counter, type Registry } from 'prom-client';
import type { Redis } from 'ioredis';
import type { WorkerContext } from './context.js';
import type { AuditLog } from '../server/audit/auditLog.js';
import { createSentinelStore } from '../server/sentinel/store.js';
import { createSentinelAlerts, type SentinelAlertOptions } from '../server/sentinel/alerts.js';
import { startOldSchedulerMoves } from '../server/sentinel/queue.js';
import { runSentinelRound, type LastRound } from './tasks/sentinelTask.js';
import { startSentinelTick } from './sentinelTick.js';

export interface SentinelWorkerOptions {
  alerts?: SentinelAlertOptions;
  /** Rounds in flight per process (each is a few short Render calls). */
  concurrency?: number;
  /** How often the process claims the users due (default 1 s). */
  tickMs?: number;
  /** A claim's (and a round's lock's) shortest lease, default 30 s: how soon a round lost with its worker runs again. */
  minLeaseMs?: number;
  /** How often the process moves per-user job schedulers an old web process added (rolling upgrade), default 60 s. */
  oldSchedulersEveryMs?: number;
}

export interface SentinelWorker {
  close(force?: boolean): Promise<void>;
  /** Rounds running in this process now. */
  readonly running: number;
  /** Users whose last round here this process remembers (tests: it forgets stopped watches). */
  remembered(): number[];
}

/**
 * The Sentinel worker: the batched tick (workers/sentinelTick.ts) runs the rounds of the watching users
 * due (workers/tasks/sentinelTask.ts). On start, what the old design left (a BullMQ job scheduler per
 * user) moves onto the schedule first, and again every minute: an old web process may still add one
 * during a rolling upgrade (server/sentinel/queue.ts). Counts findings and rounds in the worker's
 * metrics registry (pushed to the web's /metrics).
 */
export async function startSentinelWorker(ctx: WorkerContext, args: { connection: Redis; queueConnection: Redis; registry: Registry; audit: AuditLog; options?: SentinelWorkerOptions }): Promise<SentinelWorker> {
  const { config, redis } = ctx;
  const findings = new Counter({ name: 'orchestrator_sentinel_findings_total', help: 'Sentinel findings created, by severity and kind.', labelNames: ['severity', 'kind'] as const, registers: [args.registry] });
  const rounds = new Counter({ name: 'orchestrator_sentinel_rounds_total', help: 'Sentinel rounds, by outcome (done, budget, stopped, error, skipped).', labelNames: ['outcome'] as const, registers: [args.registry] });
  const lastRound = new Map<number, LastRound>();
  const sentinel = {
    redis, logger: ctx.logger, keyring: ctx.keyring, sessions: ctx.sessions, budget: ctx.budget,
    store: createSentinelStore({ redis, prefix: config.redisPrefix, keyring: ctx.keyring, absoluteMs: config.sessionAbsoluteMs }),
    alerts: createSentinelAlerts({ ...args.options?.alerts, redis, prefix: config.redisPrefix, logger: ctx.logger }),
    audit: args.audit,
    upstream: ctx.upstream, now: () => ctx.clock.now(),
    retired: { redis, prefix: config.redisPrefix, keyring: ctx.keyring },
    channelOf: (userId: number) => ctx.deployments.keys.channel(userId),
    onFinding: (f: { severity: string; kind: string }) => findings.inc({ severity: f.severity, kind: f.kind }),
    onRound: (outcome: string) => rounds.inc({ outcome }),
    lastRound,
  };
  const oldSchedulers = await startOldSchedulerMoves({
    redis, queueConnection: args.queueConnection, prefix: config.redisPrefix, logger: ctx.logger, now: sentinel.now,
    defaultEveryMs: config.sentinelIntervalMs, everyMs: args.options?.oldSchedulersEveryMs ?? 60_000,
  });
  // Claims go on a connection of their own (not auto-pipelined): a tick never joins a round's writes.
  const tick = startSentinelTick({
    redis: args.connection, prefix: config.redisPrefix, logger: ctx.logger, now: sentinel.now,
    tickMs: args.options?.tickMs ?? 1_000, concurrency: args.options?.concurrency ?? 20,
    defaultEveryMs: config.sentinelIntervalMs, minLeaseMs: args.options?.minLeaseMs,
    runRound: (claim) => runSentinelRound(sentinel, claim), lastRound,
  });
  return {
    get running() { return tick.running; },
    remembered: () => [...lastRound.keys()],
    close: async (force = false) => { await Promise.all([tick.close(force), oldSchedulers.close(force)]); },
  };
}

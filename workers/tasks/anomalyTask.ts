import { randomBytes } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../../server/logger.js';
import { queuePrefix } from '../../server/queues/deployQueue.js';
import { quietQueue } from '../../server/redis.js';
import type { Detector, DetectorRun } from '../../server/telemetry/detector.js';
import type { TelemetryKeys } from '../../server/telemetry/keys.js';
import { deleteIfOurs } from '../../server/redisOwned.js';

export const ANOMALY_QUEUE = 'anomaly';
const SCHEDULER_ID = 'anomaly-detector';

type AnomalyRunOutcome = 'done' | 'skipped' | 'error';

/**
 * One detector run, at most one at a time across every worker process: a Redis lock (SET NX PX)
 * guards the run, and the detector itself judges each minute once (tel:detector:last), so a late or
 * duplicated job does nothing.
 */
async function runAnomalyJob(ctx: { redis: Redis; keys: TelemetryKeys; detector: Detector; lockMs: number; logger: Logger }): Promise<{ outcome: AnomalyRunOutcome; run?: DetectorRun }> {
  const token = randomBytes(8).toString('hex');
  if ((await ctx.redis.set(ctx.keys.detectorLock, token, 'PX', ctx.lockMs, 'NX')) !== 'OK') return { outcome: 'skipped' };
  try {
    const run = await ctx.detector.run();
    if (run.minute === null) return { outcome: 'skipped', run };
    if (run.actions.length) ctx.logger.info({ minute: run.minute, evaluated: run.evaluated, actions: run.actions.length }, 'anomaly detector acted');
    return { outcome: 'done', run };
  } finally {
    // Only if still ours: a run that outlived its lock must not drop the next one's.
    await deleteIfOurs(ctx.redis, ctx.keys.detectorLock, token).catch(() => false);
  }
}

interface AnomalyWorker { worker: Worker; queue: Queue; close(force?: boolean): Promise<void> }

/**
 * The repeatable job: one BullMQ job scheduler (the same id from every worker, so upserting it is
 * idempotent) fires every `everyMs`; each worker process takes at most one run at a time.
 */
export async function startAnomalyWorker(args: {
  connection: Redis; queueConnection: Redis; redis: Redis; prefix: string; keys: TelemetryKeys; detector: Detector; logger: Logger;
  registry: Registry; everyMs?: number;
}): Promise<AnomalyWorker> {
  const everyMs = args.everyMs ?? 60_000;
  const runs = new Counter({ name: 'orchestrator_anomaly_detector_runs_total', help: 'Anomaly detector runs, by outcome (done, skipped: another process ran it or the minute was judged, error).', labelNames: ['outcome'] as const, registers: [args.registry] });
  const evaluated = new Gauge({ name: 'orchestrator_anomaly_users_evaluated', help: 'Users with traffic in the minute the last detector run judged.', registers: [args.registry] });
  const queue = quietQueue(new Queue(ANOMALY_QUEUE, {
    connection: args.queueConnection, prefix: queuePrefix(args.prefix),
    defaultJobOptions: { attempts: 1, removeOnComplete: { count: 10 }, removeOnFail: { count: 100 } },
  }));
  // In the background: a worker's start never waits on it. Again on each reconnect: a Redis that came
  // back empty (Key Value keeps nothing on disk) lost the scheduler, and the detector never ran again
  // until a worker restarted. An upsert of the same scheduler is what every worker's start already does.
  const schedule = () => void queue.upsertJobScheduler(SCHEDULER_ID, { every: everyMs }, { name: 'detect', data: {} })
    .catch((err: Error) => args.logger.error({ err: { message: err.message } }, 'anomaly detector: scheduling failed'));
  schedule();
  args.queueConnection.on('ready', schedule);
  const worker = new Worker(ANOMALY_QUEUE, async () => {
    try {
      const { outcome, run } = await runAnomalyJob({ redis: args.redis, keys: args.keys, detector: args.detector, lockMs: Math.max(30_000, everyMs * 2), logger: args.logger });
      runs.inc({ outcome });
      if (run?.minute !== null && run) evaluated.set(run.evaluated);
    } catch (err) {
      runs.inc({ outcome: 'error' });
      args.logger.error({ err: { message: (err as Error).message } }, 'anomaly detector run failed');
    }
  }, { connection: args.connection, prefix: queuePrefix(args.prefix), concurrency: 1, lockDuration: 60_000 });
  worker.on('error', (err) => args.logger.error({ err: { message: err.message } }, 'anomaly worker error'));
  return {
    worker, queue,
    async close(force = false) { args.queueConnection.off('ready', schedule); await worker.close(force); await queue.close(); },
  };
}

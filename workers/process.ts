import type { Worker } from 'bullmq';
import type { AppConfig } from '../server/config/env.js';
import { systemClock, type Clock } from '../server/clock.js';
import type { Logger } from '../server/logger.js';
import { createRedis } from '../server/redis.js';
import { buildDeps } from '../server/system.js';
import type { RenderLimits } from '../server/render/budget.js';
import type { DeployJobData } from '../server/queues/deployQueue.js';
import { createDeployWorker, type DeployWorkerOptions } from './worker.js';
import { DEFAULT_WATCH, type WatchPolicy, type WorkerContext } from './context.js';

export interface WorkerProcess {
  worker: Worker<DeployJobData>;
  context: WorkerContext;
  close(timeoutMs?: number): Promise<void>;
}

/** Compose and start a worker process (production entry point and tests share this). */
export async function startWorker(args: {
  config: AppConfig; logger: Logger; clock?: Clock; watch?: Partial<WatchPolicy>; renderLimits?: RenderLimits; workerOptions?: DeployWorkerOptions;
  renderTimeoutMs?: number; retryBackoffMs?: number;
  crashPoint?: WorkerContext['crashPoint'];
}): Promise<WorkerProcess> {
  const { config, logger } = args;
  const redis = createRedis(config.redisUrl, 'worker');
  const queueRedis = createRedis(config.redisUrl, 'worker');
  const workerRedis = createRedis(config.redisUrl, 'worker');
  const deps = buildDeps({ config, redis, queueRedis, clock: args.clock ?? systemClock, logger, renderLimits: args.renderLimits, retryBackoffMs: args.retryBackoffMs });
  const context: WorkerContext = {
    config, redis, clock: deps.clock, logger, keyring: deps.keyring, sessions: deps.sessions, deployments: deps.deployments,
    enqueuer: deps.enqueuer, budget: deps.budget, envVault: deps.envVault, watch: { ...DEFAULT_WATCH, ...args.watch }, renderTimeoutMs: args.renderTimeoutMs ?? 15_000, crashPoint: args.crashPoint,
  };
  const worker = createDeployWorker(context, workerRedis, args.workerOptions);
  await worker.waitUntilReady();
  return {
    worker, context,
    /** Stop taking jobs, let running steps finish (bounded), then close connections. */
    async close(timeoutMs = 20_000) {
      let timer: NodeJS.Timeout | undefined;
      const forced = new Promise<void>((resolve) => { timer = setTimeout(() => { void worker.close(true); resolve(); }, timeoutMs); });
      await Promise.race([worker.close(), forced]);
      clearTimeout(timer);
      await deps.queue.close().catch(() => {});
      await Promise.all([redis, queueRedis, workerRedis].map((r) => r.quit().catch(() => r.disconnect())));
    },
  };
}

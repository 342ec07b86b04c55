/** The production worker composition (startWorker) as its own process; BENCH_WORKER_OPTIONS tunes it. */
import { loadConfig } from '../../server/config/env.js';
import { createLogger } from '../../server/logger.js';
import { startWorker } from '../../workers/process.js';
import { serveIpc } from './ipc.js';

const opts = JSON.parse(process.env.BENCH_WORKER_OPTIONS ?? '{}') as { watch?: Record<string, number>; concurrency?: number };
const config = loadConfig(process.env);
const logger = createLogger({ level: config.logLevel, name: 'worker' });
const proc = await startWorker({ config, logger, watch: opts.watch, workerOptions: opts.concurrency ? { concurrency: opts.concurrency } : undefined });
serveIpc({ ready: {}, stop: () => proc.close(10_000) });

import { loadConfigOrExit } from '../server/config/env.js';
import { createLogger } from '../server/logger.js';

// Entry point of `npm run start:worker`.
const config = loadConfigOrExit(process.env);
// Lines gathered and written together, as on the web (server/logger.ts): a line per deploy job otherwise costs a write.
const logger = createLogger({ level: config.logLevel, name: 'worker', batchMs: 500 });
// Loaded once the environment is known good (as server/index.ts): a bad one stops the process at once.
const { startWorker } = await import('./process.js');
const proc = await startWorker({ config, logger });
logger.info({ concurrency: config.workerConcurrency, worker: proc.instance }, 'worker started');

// Render sends SIGTERM and kills the instance 30 s later: running steps get 20 s to finish (a step
// is short I/O; waiting is delayed jobs), and at 25 s the process exits whatever still hangs. A step
// cut short is run again by another worker once its job lock lapses: every step is idempotent. With Redis
// unreachable there is nothing to drain (no step can write), and close() returns at once (workers/process.ts).
let closing = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  // The handler never rejects (it catches and exits), so its promise is dropped on purpose.
  process.on(signal, () => void (async () => {
    if (closing) return;
    closing = true;
    logger.info({ signal, worker: proc.instance }, 'worker draining');
    const force = setTimeout(() => { logger.error('shutdown took too long; exiting'); process.exit(1); }, 25_000);
    force.unref();
    try {
      await proc.close(20_000);
      logger.info({ worker: proc.instance }, 'worker stopped');
      process.exit(0);
    } catch (err) {
      logger.error({ err: { message: (err as Error).message } }, 'shutdown failed');
      process.exit(1);
    }
  })());
}

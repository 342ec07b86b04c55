import { loadConfigOrExit } from '../server/config/env.js';
import { createLogger } from '../server/logger.js';
import { startWorker } from './process.js';

// Entry point of `npm run start:worker`.
const config = loadConfigOrExit(process.env);
const logger = createLogger({ level: config.logLevel, name: 'worker' });
const proc = await startWorker({ config, logger });
logger.info({ concurrency: config.workerConcurrency }, 'worker started');

let closing = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, async () => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'worker draining');
    await proc.close(20_000);
    process.exit(0);
  });
}

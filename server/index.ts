import { loadConfigOrExit } from './config/env.js';
import { createLogger } from './logger.js';
import { ListenError } from './listenErrors.js';

// Entry point of `npm run start:web`. With workers/index.ts, the only modules besides scripts/ that read process.env.
const config = loadConfigOrExit(process.env);
const logger = createLogger({ level: config.logLevel, name: 'web', batchMs: 500 });
// Loaded once the environment is known good: a bad one (or NODE_DEBUG: loadConfigOrExit) stops the process before the
// app's ~1,400 modules load, about a second of CPU.
const { startWeb } = await import('./web.js');
// A PORT or HOST that cannot be listened on: its one-line message, as for a bad value above, not a stack trace.
const web = await startWeb({ config, logger }).catch((err: unknown) => {
  if (!(err instanceof ListenError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
logger.info({ port: config.port, baseUrl: config.baseUrl, sandbox: config.sandbox }, 'web listening');

// Render sends SIGTERM and kills the instance 30 s later (maxShutdownDelaySeconds in render.yaml):
// requests in flight get 20 s to finish, and whatever still hangs at 25 s is cut by exiting.
let closing = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  // The handler never rejects (it catches and exits), so its promise is dropped on purpose.
  process.on(signal, () => void (async () => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => { logger.error('shutdown took too long; exiting'); process.exit(1); }, 25_000);
    force.unref();
    try {
      await web.close(20_000);
      logger.info('web stopped');
      process.exit(0);
    } catch (err) {
      logger.error({ err: { message: (err as Error).message } }, 'shutdown failed');
      process.exit(1);
    }
  })());
}

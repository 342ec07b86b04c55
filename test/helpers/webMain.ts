/**
 * A real web process for tests that run several of them against one Redis (and stop them with
 * SIGTERM): the production composition (startWeb), configured by the environment the test passes in.
 * It tells the parent its URL over IPC once it listens.
 */
import { loadConfig } from '../../server/config/env.js';
import { createLogger } from '../../server/logger.js';
import { startWeb } from '../../server/web.js';

// The test process that forked us is gone (it crashed or was killed): end too, never run on as an orphan.
process.once('disconnect', () => process.kill(process.pid, 'SIGKILL'));
const opts = JSON.parse(process.env.TEST_WEB_OPTIONS ?? '{}') as { shutdownMs?: number; sessionTouchMs?: number };
const config = loadConfig(process.env);
const logger = createLogger({ level: 'info', name: 'web' });
const web = await startWeb({ config, logger, host: '127.0.0.1', appOptions: { sessionTouchMs: opts.sessionTouchMs } });
process.send?.({ ready: true, url: web.url });
process.on('SIGTERM', () => void (async () => {
  logger.info('web draining');
  await web.close(opts.shutdownMs ?? 10_000);
  logger.info('web stopped');
  process.exit(0);
})());

/** The production web composition (startWeb) as its own process, configured by the environment the bench passes; BENCH_WEB_OPTIONS tunes it. */
import { loadConfig } from '../../server/config/env.js';
import { createLogger } from '../../server/logger.js';
import { startWeb } from '../../server/web.js';
import { serveIpc } from './ipc.js';

const opts = JSON.parse(process.env.BENCH_WEB_OPTIONS ?? '{}') as { maxStreamsPerUser?: number };
const config = loadConfig(process.env);
const logger = createLogger({ level: config.logLevel, name: 'web', batchMs: 500 });
const web = await startWeb({ config, logger, host: '127.0.0.1', appOptions: opts.maxStreamsPerUser ? { events: { maxStreamsPerUser: opts.maxStreamsPerUser } } : undefined });
serveIpc({ ready: { url: web.url }, stop: () => web.close() });

/** The production web composition (startWeb) as its own process, configured by the environment the bench passes; BENCH_WEB_OPTIONS tunes it. */
import { loadConfig } from '../../server/config/env.js';
import { createLogger } from '../../server/logger.js';
import { startWeb } from '../../server/web.js';
import { serveIpc } from './ipc.js';
import { portOf, probeSockets } from './socketProbe.js';

const opts = JSON.parse(process.env.BENCH_WEB_OPTIONS ?? '{}') as { maxStreamsPerUser?: number };
const config = loadConfig(process.env);
// Socket writes by peer, reported with each stats answer: the shared and queue Redis connections apart.
const sockets = probeSockets({ redis: portOf(config.redisUrl) });
const logger = createLogger({ level: config.logLevel, name: 'web', batchMs: 500 });
const web = await startWeb({ config, logger, host: '127.0.0.1', appOptions: opts.maxStreamsPerUser ? { events: { maxStreamsPerUser: opts.maxStreamsPerUser } } : undefined });
for (const [name, r] of [['redis-shared', web.deps.redis], ['redis-queue', web.deps.queueRedis]] as const) if (r.stream) sockets.label(r.stream, name);
serveIpc({ ready: { url: web.url }, stop: () => web.close(), extra: () => sockets.counts() });

import type { Server } from 'node:http';
import type { AppConfig } from './config/env.js';
import { systemClock, type Clock } from './clock.js';
import type { Logger } from './logger.js';
import { createRedis } from './redis.js';
import { buildDeps } from './system.js';
import { createApp, type CreateAppOptions } from './app.js';
import type { AppDeps } from './deps.js';
import type { RenderLimits } from './render/budget.js';
import { createEventHub } from './events/hub.js';

export interface WebProcess {
  server: Server;
  deps: AppDeps;
  url: string;
  close(): Promise<void>;
}

/**
 * Compose and start the web process: Redis connection, dependencies, the Koa app, the HTTP server.
 * Used by the production entry point and by tests alike, so tests exercise the real wiring.
 */
export async function startWeb(args: { config: AppConfig; logger: Logger; clock?: Clock; host?: string; appOptions?: CreateAppOptions; renderLimits?: RenderLimits }): Promise<WebProcess> {
  const { config, logger } = args;
  const redis = createRedis(config.redisUrl, 'web');
  const queueRedis = createRedis(config.redisUrl, 'web');
  const base = buildDeps({ config, redis, queueRedis, clock: args.clock ?? systemClock, logger, renderLimits: args.renderLimits });
  // One subscriber connection for SSE, opened on the first live client; closed with the process.
  const events = createEventHub({ connect: () => createRedis(config.redisUrl, 'subscriber'), channelOf: (userId) => base.deployments.keys.channel(userId) });
  const deps: AppDeps = { ...base, events };
  const app = createApp(deps, args.appOptions);
  const server = app.listen(config.port, args.host ?? '0.0.0.0');
  await new Promise<void>((resolve, reject) => { server.once('listening', resolve); server.once('error', reject); });
  server.keepAliveTimeout = 65_000; // longer than Render's proxy idle timeout, avoiding 502s on reuse
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  return {
    server, deps, url: `http://127.0.0.1:${port}`,
    async close() {
      await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
      await deps.queue.close().catch(() => {});
      await events.close();
      await Promise.all([redis, queueRedis].map((r) => r.quit().catch(() => r.disconnect())));
    },
  };
}

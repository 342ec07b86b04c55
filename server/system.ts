import type { Redis } from 'ioredis';
import type { AppConfig } from './config/env.js';
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';
import type { AppDeps } from './deps.js';
import { createKeyring } from './crypto/keyring.js';
import { createSessionStore } from './sessions/store.js';

/** Build the shared dependencies from config and a Redis connection (the composition root). */
export function buildDeps(args: { config: AppConfig; redis: Redis; clock: Clock; logger: Logger }): AppDeps {
  const { config, redis, clock, logger } = args;
  const keyring = createKeyring(config.secretKey, config.previousSecretKey);
  const sessions = createSessionStore({
    redis, keyring, clock, prefix: config.redisPrefix, idleMs: config.sessionIdleMs, absoluteMs: config.sessionAbsoluteMs,
  });
  return { config, redis, clock, logger, keyring, sessions };
}

import type { Redis } from 'ioredis';
import type { AppConfig } from './config/env.js';
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';
import type { Keyring } from './crypto/keyring.js';
import type { SessionStore } from './sessions/store.js';

/** What route modules are built from. Everything is injected; nothing reads process.env. */
export interface AppDeps {
  config: AppConfig;
  redis: Redis;
  clock: Clock;
  logger: Logger;
  keyring: Keyring;
  sessions: SessionStore;
}

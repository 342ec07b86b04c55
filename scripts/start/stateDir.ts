import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runningPrivateRedis } from './privateRedis.js';

/** Where `npm start` keeps everything local: SANDBOX_DIR, or `.sandbox/` in the working directory. */
export function stateDir(env: Record<string, string | undefined>): string {
  return resolve(env.SANDBOX_DIR || join(process.cwd(), '.sandbox'));
}

export const secretKeyFile = (dir: string) => join(dir, 'secret-key');
export const privateRedisDir = (dir: string) => join(dir, 'redis');

/**
 * The environment `npm start` gives its own processes, for the operator CLI run beside it (same
 * folder, same shell): its private Redis while it runs, when REDIS_URL is unset, and the key it
 * generated, when SECRET_KEY is unset. Without them the CLI read whatever answered on 6379, and would
 * have signed the audit entry of an unblock with a random key.
 */
export function withNpmStartState(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const dir = stateDir(env);
  const out = { ...env };
  if (!out.REDIS_URL) out.REDIS_URL = runningPrivateRedis(privateRedisDir(dir)) ?? undefined;
  if (!out.SECRET_KEY && existsSync(secretKeyFile(dir))) out.SECRET_KEY = readFileSync(secretKeyFile(dir), 'utf8').trim();
  return out;
}

import type { Redis } from 'ioredis';
import { open, seal, type Keyring } from '../crypto/keyring.js';

/**
 * Env var values and secret file contents replaced or removed through the settings routes. Render
 * applies such a change at the next deploy, so the running deploy (and the logs of every earlier
 * one) still hold the old value: it is redacted like a current one. Kept sealed, per service, as
 * long as Render keeps logs (30 days at most), the newest MAX_RETIRED.
 */
const RETIRED_TTL_SEC = 30 * 24 * 3600;
const MAX_RETIRED = 200;

export interface RetiredSecretsDeps { redis: Redis; prefix: string; keyring: Keyring }
export const retiredDeps = (deps: { redis: Redis; config: { redisPrefix: string }; keyring: Keyring }): RetiredSecretsDeps =>
  ({ redis: deps.redis, prefix: deps.config.redisPrefix, keyring: deps.keyring });

const keyOf = (d: RetiredSecretsDeps, serviceId: string) => `${d.prefix}:retired-secrets:${serviceId}`;
const aadOf = (serviceId: string) => `retired-secret:${serviceId}`;

export async function retireSecrets(d: RetiredSecretsDeps, serviceId: string, values: string[]): Promise<void> {
  const kept = values.filter((v) => v !== '');
  if (!kept.length) return;
  const key = keyOf(d, serviceId);
  await d.redis.multi()
    .lpush(key, ...kept.map((v) => seal(v, aadOf(serviceId), d.keyring)))
    .ltrim(key, 0, MAX_RETIRED - 1)
    .expire(key, RETIRED_TTL_SEC)
    .exec();
}

/**
 * A counter per service bumped by every change of an env var or secret file through the settings: a
 * live tail, which reuses the values it redacts with for minutes, reads them again once it moves.
 */
const generationKeyOf = (d: RetiredSecretsDeps, serviceId: string) => `${d.prefix}:secrets-gen:${serviceId}`;

export async function secretsChanged(d: RetiredSecretsDeps, serviceId: string): Promise<void> {
  const key = generationKeyOf(d, serviceId);
  await d.redis.multi().incr(key).expire(key, RETIRED_TTL_SEC).exec();
}

export async function secretsGeneration(d: RetiredSecretsDeps, serviceId: string): Promise<string> {
  return (await d.redis.get(generationKeyOf(d, serviceId))) ?? '0';
}

export async function retiredSecrets(d: RetiredSecretsDeps, serviceId: string): Promise<string[]> {
  const out: string[] = [];
  for (const sealed of await d.redis.lrange(keyOf(d, serviceId), 0, -1)) {
    // Sealed under a SECRET_KEY no longer held (two rotations ago): nothing to redact with.
    try { out.push(open(sealed, aadOf(serviceId), d.keyring)); } catch { /* skipped */ }
  }
  return out;
}

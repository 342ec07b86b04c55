import type { Redis } from 'ioredis';
import { isStale, open, seal, type Keyring } from '../crypto/keyring.js';
import { keysUnder } from '../redis.js';

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

/**
 * Replaces each listed sealed value (ARGV: old, new, old, new…) wherever it still is in the list, in
 * place: a value retired meanwhile (LPUSH) or a trim does not shift what is replaced. The TTL stays.
 */
const RESEAL = `
local map = {}
for i = 1, #ARGV, 2 do map[ARGV[i]] = ARGV[i + 1] end
local n = 0
for i, v in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if map[v] then redis.call('LSET', KEYS[1], i - 1, map[v]); n = n + 1 end
end
return n`;

/**
 * During a SECRET_KEY rotation (workers/rotationSweep.ts): every retired value still sealed with the
 * previous key is sealed again with the current one. Kept 30 days, they outlive the rotation; once
 * SECRET_KEY_PREVIOUS is removed, one nobody re-sealed could no longer be opened, and the old value
 * the running deploy still prints would show in clear. Returns how many were re-sealed.
 */
export async function resealRetiredSecrets(d: RetiredSecretsDeps): Promise<number> {
  if (!d.keyring.previous) return 0;
  const prefix = `${d.prefix}:retired-secrets:`;
  let resealed = 0;
  for await (const key of keysUnder(d.redis, prefix)) {
    const serviceId = key.slice(prefix.length);
    const pairs: string[] = [];
    for (const sealed of await d.redis.lrange(key, 0, -1)) {
      if (!isStale(sealed, d.keyring)) continue;
      let value: string;
      try { value = open(sealed, aadOf(serviceId), d.keyring); } catch { continue; } // under neither key: nothing to save
      pairs.push(sealed, seal(value, aadOf(serviceId), d.keyring));
    }
    if (pairs.length) resealed += Number(await d.redis.eval(RESEAL, 1, key, ...pairs));
  }
  return resealed;
}

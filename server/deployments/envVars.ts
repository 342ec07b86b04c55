import type { Redis } from 'ioredis';
import { open, seal, type Keyring } from '../crypto/keyring.js';
import { deploymentKeys } from './storeKeys.js';

export interface EnvVarInput { key: string; value: string }

/**
 * Env var values are user secrets. They never go into the record or the job: they wait sealed
 * (AES-256-GCM, AAD = deployment id) until the worker hands them to Render, then they are deleted.
 * However the deployment ends, the record write that ends it deletes them too (transition.ts), so no
 * end path has to remember to.
 */
export function createEnvVault(opts: { redis: Redis; prefix: string; keyring: Keyring; ttlMs?: number }) {
  const key = deploymentKeys(opts.prefix).env;
  const aad = (id: string) => `deployment:${id}:env`;
  return {
    async put(deploymentId: string, vars: EnvVarInput[]): Promise<void> {
      if (!vars.length) return;
      await opts.redis.set(key(deploymentId), seal(JSON.stringify(vars), aad(deploymentId), opts.keyring), 'PX', opts.ttlMs ?? 7 * 24 * 3_600_000);
    },
    async get(deploymentId: string): Promise<EnvVarInput[]> {
      const raw = await opts.redis.get(key(deploymentId));
      if (!raw) return [];
      return JSON.parse(open(raw, aad(deploymentId), opts.keyring)) as EnvVarInput[];
    },
    async drop(deploymentId: string): Promise<void> {
      await opts.redis.del(key(deploymentId));
    },
  };
}

export type EnvVault = ReturnType<typeof createEnvVault>;

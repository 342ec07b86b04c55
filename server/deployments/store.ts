import type { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Keyring } from '../crypto/keyring.js';
import { createDeploymentListing } from './listing.js';
import { createNameClaims } from './nameClaims.js';
import { createRedeployChecks } from './redeployChecks.js';
import { createRecordReader } from './records.js';
import { createRecordWriter, DEPLOY_CLAIM_MS } from './recordWrites.js';
import { deploymentKeys } from './storeKeys.js';
import { createKnownRecords } from './transition.js';
import type { DeploymentRecord } from './types.js';

/** Render-style ids: prefix + 20 characters of [0-9a-z] (records.ts DEPLOYMENT_ID). */
export function newDeploymentId(): string {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';
  const bytes = randomBytes(20);
  let out = 'dpl-';
  for (const b of bytes) out += alphabet[b % 36];
  return out;
}

/**
 * Deployment records in Redis, keyed by the caller's GitHub id (keys: storeKeys.ts). The only way
 * records are read (verified: records.ts) and written (signed, one Lua script per write that also
 * keeps the indexes and publishes the live update: recordWrites.ts, transition.ts); the indexes are
 * read through listing.ts.
 */
export function createDeploymentStore(opts: { redis: Redis; prefix: string; clock: Clock; keyring: Keyring; retentionMs?: number }) {
  const { redis, clock, keyring } = opts;
  const keys = deploymentKeys(opts.prefix);
  const known = createKnownRecords();
  const reader = createRecordReader({ redis, keys, keyring, known });
  const retentionMs = opts.retentionMs ?? 30 * 24 * 3_600_000;
  const writer = createRecordWriter({ redis, keys, clock, known, reader, retentionMs });
  return {
    keys,
    inspect: reader.inspect,
    get: reader.get,
    resignStale: reader.resignStale,
    /** The record only if it belongs to userId: anyone else's id looks exactly like a missing one. */
    async getForUser(id: string, userId: number): Promise<DeploymentRecord | null> {
      const rec = await reader.get(id);
      return rec && rec.userId === userId ? rec : null;
    },
    /**
     * Take a Render deploy for deployment `id` (first come; true again for the same id, as after a
     * retried job): two of our deployments matching the same deploys at once take different ones.
     */
    async claimRenderDeploy(deployId: string, id: string): Promise<boolean> {
      const key = keys.deployClaim(deployId);
      if (await redis.set(key, id, 'PX', DEPLOY_CLAIM_MS, 'NX')) return true;
      return (await redis.get(key)) === id;
    },
    /**
     * A Render deploy of deployment `id` that its record does not name (a new service's first deploy, to
     * be stopped): claimed for it whatever claimed it before, as a record write naming one claims it
     * (recordWrites.ts update), so no other deployment's look takes it for its own.
     */
    async assignRenderDeploy(deployId: string, id: string): Promise<void> {
      await redis.set(keys.deployClaim(deployId), id, 'PX', DEPLOY_CLAIM_MS);
    },
    ...createNameClaims({ redis, keys, get: reader.get }),
    ...createRedeployChecks({ redis, keys, get: reader.get }),
    ...writer,
    ...createDeploymentListing({ redis, keys, get: reader.get, clock, retentionMs }),
  };
}

export type DeploymentStore = ReturnType<typeof createDeploymentStore>;

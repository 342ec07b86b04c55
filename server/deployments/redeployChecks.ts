import type { Redis } from 'ioredis';
import { deleteIfOurs } from '../redisOwned.js';
import { redisScript } from '../redisScript.js';
import type { DeploymentKeys } from './storeKeys.js';
import { isTerminal, type DeploymentRecord } from './types.js';

// One check of a redeploy naming a commit at a time per Render service (workers/tasks/githubSteps.ts
// verifyRedeployCommit). The check reads the deployments of ours in flight (a deployment is seen once its
// record has its commit) and then records its own commit: two checks overlapping each read the other's
// record before its commit was written, and both went ahead (the same commit built twice, or an older
// commit triggered after a newer one and put live over it). The check holds this lock from before it
// reads to after it recorded its commit; a deployment that finds it held waits as a delayed job.

/**
 * Longer than the slowest check (Render's list of deploys, twice at most, 15 s each; GitHub's compares,
 * two rounds, each up to 4 tries of 10 s with 14 s between): a check outlasting it would let the next
 * one in. Short enough that a lock whose worker died is gone soon, when nothing takes it over sooner.
 */
export const REDEPLOY_CHECK_MS = 3 * 60_000;

/** Take the lock for ARGV[1]: free, already its own (a run of the same deployment again), or held by ARGV[3], judged done with it. Else the holder. */
const TAKE = redisScript(`
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] and cur ~= ARGV[3] then return cur end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`);

/** A holder done with its check: its commit recorded (what the next check must see), or ended, or its record gone or refused. */
const doneChecking = (rec: DeploymentRecord | null) => rec === null || isTerminal(rec.status) || !!rec.commitSha;

export function createRedeployChecks(opts: { redis: Redis; keys: DeploymentKeys; get(id: string): Promise<DeploymentRecord | null> }) {
  const { redis, keys } = opts;
  return {
    /**
     * Take service `serviceId`'s redeploy check for deployment `id` (owner: the deployment id; it expires
     * after REDEPLOY_CHECK_MS). True when taken: free, this deployment's own already (its last run died
     * in the check), or left by a deployment done with its check (a worker that died before releasing
     * it). False while another deployment is checking.
     */
    async takeRedeployCheck(serviceId: string, id: string): Promise<boolean> {
      const key = keys.redeployCheck(serviceId);
      const held = await TAKE(redis, [key], [id, REDEPLOY_CHECK_MS, '']);
      if (held === 1) return true;
      const holder = String(held);
      if (!doneChecking(await opts.get(holder).catch(() => null))) return false;
      return await TAKE(redis, [key], [id, REDEPLOY_CHECK_MS, holder]) === 1;
    },
    /** Give it back (only while it is still this deployment's: compare and delete). */
    releaseRedeployCheck: (serviceId: string, id: string) => deleteIfOurs(redis, keys.redeployCheck(serviceId), id),
  };
}

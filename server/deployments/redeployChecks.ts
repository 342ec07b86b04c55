import type { Redis } from 'ioredis';
import { deleteIfOurs } from '../redisOwned.js';
import { redisScript } from '../redisScript.js';
import { canceledWhileAsking } from './cancel.js';
import type { DeploymentKeys } from './storeKeys.js';
import { ORCHESTRATOR_PHASES, type DeploymentRecord } from './types.js';

// One redeploy naming a commit at a time per Render service, from its check to Render's answer to its
// trigger (workers/tasks/githubSteps.ts verifyRedeployCommit, deployTask.ts 'triggering_deploy'). The
// check reads the deployments of ours in flight (a deployment is seen once its record has its commit)
// and then records its own commit: two checks overlapping each read the other's record before its
// commit was written, and both went ahead (the same commit built twice, or an older commit triggered
// after a newer one and put live over it). And a deployment checked and recorded whose trigger is then
// held up (the key's Render budget, a 429's Retry-After) let a newer commit be checked and triggered
// meanwhile, reaching Render first: the older one, triggered after, went live over it. So the lock is
// held from before the check reads to Render's answer to the trigger (the deployment has a deploy id
// or has moved on to Render's statuses), or the deployment's end (one canceled while its ask was on its
// way: until the deploy that ask made is canceled on Render, doneWithLock); a deployment that finds it held waits
// as a delayed job, and the holder's own waits (delayed jobs too) take it again each run, which renews it.
// A hold that lapsed all the same (a wait longer than REDEPLOY_CHECK_MS) is checked again when taken back,
// unless its ask already made a deploy on Render (verifyRedeployCommit).

/**
 * Longer than the slowest run holding it (Render's list of deploys, twice at most, 15 s each; GitHub's
 * compares, two rounds, each up to 4 tries of 10 s with 14 s between; the trigger's own calls), and
 * than the holder's usual wait between two runs (a per-minute budget window, a Retry-After): each of
 * its runs renews it, so it does not lapse while the holder waits (a longer wait, Render's Retry-After
 * being uncapped, or workers down: the holder's next run checks again). Short enough that a lock whose
 * worker died is gone soon, when nothing takes it over sooner.
 */
export const REDEPLOY_CHECK_MS = 3 * 60_000;

/**
 * Take the lock for ARGV[1]: 2 when it is already its own (a later run of the same deployment: renewed),
 * 1 when free or held by ARGV[3], judged done with it. Else the holder.
 */
const TAKE = redisScript(`
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] and cur ~= ARGV[3] then return cur end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if cur == ARGV[1] then return 2 end
return 1`);

/** Renew the lock's expiry while it is still ARGV[1]'s. */
const RENEW = redisScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`);

const beforeRender = new Set<string>(ORCHESTRATOR_PHASES);

/**
 * A holder done with the lock: Render has answered its trigger (a deploy id recorded, or Render's
 * statuses: the next deployment's check sees that deploy on Render, and any deploy it asks for comes
 * after), or it ended, or its record is gone or refused. One whose commit is recorded but whose
 * trigger is not answered yet (waiting for the budget or a Retry-After, its ask on its way) is not;
 * nor is one canceled while its ask was on its way (cancel.ts canceledWhileAsking): the deploy that ask
 * made may be on Render, in flight, until its run or its job cancels it there (a check meanwhile would
 * take it for a deploy under way and deploy nothing), so that run or job gives the lock back once the
 * deploy is canceled, or found to be none (workers/tasks/canceledAsk.ts), or the lock expires.
 */
const doneWithLock = (rec: DeploymentRecord | null) =>
  rec === null || (!canceledWhileAsking(rec) && (!!rec.deployId || !beforeRender.has(rec.status)));

/** What takeRedeployCheck found: the lock already this deployment's (renewed), taken now, or held by another. */
export type RedeployCheckTake = 'held' | 'taken' | false;

export function createRedeployChecks(opts: { redis: Redis; keys: DeploymentKeys; get(id: string): Promise<DeploymentRecord | null> }) {
  const { redis, keys } = opts;
  return {
    /**
     * Take service `serviceId`'s redeploy check for deployment `id` (owner: the deployment id; it expires
     * after REDEPLOY_CHECK_MS). 'held' when it was this deployment's already (a later run: its expiry is
     * renewed); 'taken' when it was free or left by a deployment done with it (a worker that died
     * before releasing it); false while another deployment checks or waits for Render's answer to its trigger.
     */
    async takeRedeployCheck(serviceId: string, id: string): Promise<RedeployCheckTake> {
      const key = keys.redeployCheck(serviceId);
      const held = await TAKE(redis, [key], [id, REDEPLOY_CHECK_MS, '']);
      if (held === 2) return 'held';
      if (held === 1) return 'taken';
      const holder = String(held);
      if (!doneWithLock(await opts.get(holder).catch(() => null))) return false;
      const again = await TAKE(redis, [key], [id, REDEPLOY_CHECK_MS, holder]);
      return again === 2 ? 'held' : again === 1 ? 'taken' : false;
    },
    /** Renew it for another REDEPLOY_CHECK_MS while it is still this deployment's (a canceled ask's job waiting). */
    renewRedeployCheck: async (serviceId: string, id: string) => Number(await RENEW(redis, [keys.redeployCheck(serviceId)], [id, REDEPLOY_CHECK_MS])) === 1,
    /** Give it back (only while it is still this deployment's: compare and delete). */
    releaseRedeployCheck: (serviceId: string, id: string) => deleteIfOurs(redis, keys.redeployCheck(serviceId), id),
  };
}

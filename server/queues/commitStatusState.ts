import type { Redis } from 'ioredis';
import { redisScript } from '../redisScript.js';
import type { CommitStatusPhase } from './commitStatusQueue.js';

/**
 * Which commit statuses a deployment asked for, which one was posted, and which status job owns the
 * posting: one hash per deployment, `deployment:<id>:commit-status` {asked, posted, owned}; `owned` is
 * the owning job's phase (one job per deployment and phase), '0' for none ('1': a job of either phase,
 * written before the owner was named).
 *
 * At most one status job of a deployment posts at a time, and it posts what the record says when it
 * runs, so statuses never go out of order and a final status supersedes a pending one not yet posted
 * (GitHub shows the latest state per context): a final asked while a job owns the deployment adds no
 * job, the owner posts it; only a final asked once the owner let go adds a job of its own. This
 * replaced a final job that re-polled every second while the pending job was unfinished.
 */
const TTL_S = 7 * 24 * 3600;

/**
 * ARGV: phase. 1 = add a job (this call made it the owner), 0 = nothing to add (asked before, or the
 * owning job will post it, or the final state is already posted).
 */
const ASK = `
local v = redis.call('HMGET', KEYS[1], 'asked', 'posted', 'owned')
if v[1] and (ARGV[1] == 'pending' or v[1] == 'final' or v[2] == 'final') then return 0 end
if v[3] and v[3] ~= '0' then
  redis.call('HSET', KEYS[1], 'asked', ARGV[1])
  return 0
end
redis.call('HSET', KEYS[1], 'asked', ARGV[1], 'owned', ARGV[1])
if not v[1] then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 1
`;

/**
 * ARGV: what the owner just posted (or gave up on): 'pending' or 'final'. 1 = done, ownership let go;
 * 0 = a final status was asked meanwhile and is still owed: the owner goes on with it. `ctx` '2': posted
 * under the context that names the workspace (workers/tasks/commitStatus.ts); a `posted` without it was
 * posted by a version before, under the service's name alone.
 */
const DONE = `
local asked = redis.call('HGET', KEYS[1], 'asked')
if not asked then return 1 end
if ARGV[1] ~= 'final' and asked == 'final' then
  redis.call('HSET', KEYS[1], 'posted', ARGV[1], 'ctx', '2')
  return 0
end
redis.call('HSET', KEYS[1], 'posted', ARGV[1], 'owned', '0', 'ctx', '2')
return 1
`;

/**
 * A status job failed for good (retries spent, or stalled too often) before its DONE: its ownership
 * must not outlive it, or no later status of the deployment would get a job. ARGV: its phase. 1 = a
 * final status is owed that only a pending job would have gone on to post: ownership passes to the
 * final job the caller adds; 0 = ownership let go, or this job did not own (it was let go before: the
 * same failed job is handled again by the sweep at worker start, commitStatus.ts).
 */
const FAILED = `
local v = redis.call('HMGET', KEYS[1], 'asked', 'posted', 'owned')
if v[3] ~= ARGV[1] and v[3] ~= '1' then return 0 end
if ARGV[1] == 'pending' and v[1] == 'final' and v[2] ~= 'final' then
  redis.call('HSET', KEYS[1], 'owned', 'final')
  return 1
end
redis.call('HSET', KEYS[1], 'owned', '0')
return 0
`;

const askScript = redisScript(ASK);
const doneScript = redisScript(DONE);
const failedScript = redisScript(FAILED);

export function commitStatusState(redis: Redis, prefix: string, deploymentId: string) {
  const key = `${prefix}:deployment:${deploymentId}:commit-status`;
  return {
    /** The deploy step asks for a status: true when a job must be added for it. */
    ask: async (phase: CommitStatusPhase) => Number(await askScript(redis, [key], [phase, TTL_S])) === 1,
    /** The owning job posted (or skipped) `phase`: true when nothing more is owed and it let go. */
    done: async (phase: CommitStatusPhase) => Number(await doneScript(redis, [key], [phase])) === 1,
    /**
     * A pending status was posted by a version before the context named the workspace (a deploy in flight
     * through the upgrade): its final status goes under that context too, or the commit stayed pending there.
     */
    pendingUnderOldContext: async () => {
      const [posted, ctx] = await redis.hmget(key, 'posted', 'ctx');
      return posted === 'pending' && ctx !== '2';
    },
    /** The owning job of `phase` failed for good: true when a final status is still owed and the caller must add its job. */
    failed: async (phase: CommitStatusPhase) => Number(await failedScript(redis, [key], [phase])) === 1,
  };
}

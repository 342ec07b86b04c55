import type { Job } from 'bullmq';
import { redisScript } from '../../server/redisScript.js';
import type { DeployJobData } from '../../server/queues/deployQueue.js';
import type { WorkerContext } from '../context.js';

/**
 * How many runs of a deployment's job in a row failed on Render or GitHub (5xx, a cut connection, a
 * timeout, a malformed answer): `deployment:<id>:upstream-failures`, a count.
 *
 * Why not BullMQ's attempts: a job's attempts are counted over its whole life and never given back. A
 * deploy is watched by one job for up to the watch's bound (hours, a delayed run between looks), so
 * sporadic failures among hundreds of answered looks added up to the last attempt and ended a deploy
 * Render put live as `upstream_unavailable`; and BullMQ's backoff grew with that lifetime count, so
 * after a few of them each later one paused the watch for minutes. Only failures in a row mean Render
 * or GitHub is down: a run that advanced the record, or ended without such a failure, sets the count
 * back to nothing, and the retry's wait grows with this count alone.
 *
 * Why a key beside the record, not job data or the record: the job's data is ids only, tied to its
 * record by its MAC, and a cancel or the orphan sweep replaces the job with fresh data; a record write
 * publishes to the owner's browsers and the watch writes nothing on an unchanged look. The key is not
 * signed: a Redis writer could only end a deployment sooner (a high count) or let a failing one retry
 * longer (within the watch's bound for looks), no more than deleting its job does (SECURITY.md's Redis
 * writer).
 */
const key = (ctx: WorkerContext, deploymentId: string) => `${ctx.config.redisPrefix}:deployment:${deploymentId}:upstream-failures`;

/** Kept a day past its last failure: far past any run of retries (8 in a row wait 2 to 4 minutes); gone in time when no run deletes it (a killed worker, a canceled deployment). */
const TTL_MS = 24 * 3_600_000;

/**
 * ARGV: ttl ms, '1' when this run advanced the record before it failed (the count starts again at 1).
 * Returns the count including this failure. A value that is not a count (written by hand) counts as none.
 */
const countScript = redisScript(`
local n = 1
if ARGV[2] ~= '1' then n = (tonumber(redis.call('GET', KEYS[1])) or 0) + 1 end
redis.call('SET', KEYS[1], n, 'PX', ARGV[1])
return n`);

/**
 * The count as this run starts (0: none), read before the run's first step so that it goes out with the
 * record's read (one auto-pipelined write): a run that ends well then deletes the key only when there
 * was one, and the watch's looks, most of a worker's runs, write nothing more. null: unknown (Redis
 * failed), so a run that ends well deletes it anyway.
 */
export function upstreamFailuresBefore(ctx: WorkerContext, deploymentId: string): Promise<number | null> {
  return ctx.redis.get(key(ctx, deploymentId)).then((v) => Number(v) || 0, () => null);
}

/** This run failed on Render or GitHub: the count of such runs in a row, this one included. Throws when Redis does. */
export async function countUpstreamFailure(ctx: WorkerContext, deploymentId: string, advanced: boolean): Promise<number> {
  return Number(await countScript(ctx.redis, [key(ctx, deploymentId)], [TTL_MS, advanced ? '1' : '0']));
}

/** A run that advanced or ended well: the failures before it were not in a row with any after it. Best effort: the TTL covers a lost delete. */
export async function clearUpstreamFailures(ctx: WorkerContext, deploymentId: string, before: number | null): Promise<void> {
  if (before === 0) return;
  await ctx.redis.del(key(ctx, deploymentId)).catch(() => 0);
}

/**
 * How long to wait before the run after the `failures`th failure in a row: the job's own backoff
 * (deployQueue.ts: 2 s doubling, half of it jitter), as BullMQ would have computed it for that
 * attempt, but from the failures in a row, not from every attempt the job ever made.
 */
export function retryDelayMs(job: Job<DeployJobData>, failures: number): number {
  const backoff = job.opts.backoff;
  const base = typeof backoff === 'number' ? backoff : backoff?.delay ?? 2_000;
  const jitter = typeof backoff === 'object' ? Math.min(1, Math.max(0, backoff.jitter ?? 0)) : 0;
  const exponential = typeof backoff !== 'object' || backoff.type !== 'fixed';
  const most = exponential ? base * 2 ** Math.max(0, failures - 1) : base;
  return Math.round(most * (1 - jitter * Math.random()));
}

import type { ChainableCommander, Redis } from 'ioredis';
import { redisScript } from '../redisScript.js';

/**
 * When each watching user's next round is due, in one sorted set (member: user id, score: ms since the
 * epoch) and each watch's interval in a hash beside it. Worker processes claim the users due on a tick
 * (workers/sentinelTick.ts); a claim moves the user's score a lease ahead, so no other process claims
 * it meanwhile, and a worker that dies mid-round loses nobody: the lease runs out and the next tick
 * claims the user again. A watch is added with its settings, in their script (store.putSettings), and
 * the round's end sets the next due time (store.endRound), only while the user is still in the set: a
 * watch stopped meanwhile stays stopped.
 */
export function scheduleKeys(prefix: string) {
  return { due: `${prefix}:sentinel:due`, intervals: `${prefix}:sentinel:intervals` };
}

/**
 * The longest interval between a watch's rounds: the Security page's maximum (`MAX_INTERVAL_SEC` in
 * server/routes/sentinel.ts). What must outlast a round's gap (the self-call ledger's notes) is sized by it.
 */
export const MAX_WATCH_INTERVAL_MS = 3_600_000;

/** A claim's lease: two intervals (as the round's lock), never less than this. */
export const MIN_LEASE_MS = 30_000;

export const leaseOf = (everyMs: number, minLeaseMs = MIN_LEASE_MS) => Math.max(minLeaseMs, 2 * everyMs);

export function unscheduleWatch(tx: ChainableCommander, prefix: string, userId: number): ChainableCommander {
  const keys = scheduleKeys(prefix);
  return tx.zrem(keys.due, userId).hdel(keys.intervals, String(userId));
}

/**
 * The next due time after a round that was due at `dueAtMs`: the next point of its rhythm after now
 * (a round that ran late, or a backlog, skips the points it missed rather than running them back to back).
 */
export function nextDue(dueAtMs: number, everyMs: number, nowMs: number): number {
  if (nowMs < dueAtMs) return dueAtMs + everyMs;
  return dueAtMs + (Math.floor((nowMs - dueAtMs) / everyMs) + 1) * everyMs;
}

const CLAIM = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for i = 1, #due, 2 do
  local every = tonumber(redis.call('HGET', KEYS[2], due[i]) or ARGV[4]) or tonumber(ARGV[4])
  local lease = math.max(tonumber(ARGV[3]), 2 * every)
  redis.call('ZADD', KEYS[1], string.format('%d', tonumber(ARGV[1]) + lease), due[i])
  out[#out + 1] = due[i]
  out[#out + 1] = due[i + 1]
  out[#out + 1] = tostring(every)
end
return out`;
const claimScript = redisScript(CLAIM);

export interface Claim { userId: number; dueAtMs: number; everyMs: number; leaseMs: number }

/** Up to `max` users due by `nowMs`, each leased to the caller (one script call for all of them). */
export async function claimDue(redis: Redis, prefix: string, o: { nowMs: number; max: number; defaultEveryMs: number; minLeaseMs?: number }): Promise<Claim[]> {
  const keys = scheduleKeys(prefix);
  const minLease = o.minLeaseMs ?? MIN_LEASE_MS;
  const raw = await claimScript(redis, [keys.due, keys.intervals], [o.nowMs, o.max, minLease, o.defaultEveryMs]) as string[];
  const claims: Claim[] = [];
  for (let i = 0; i < raw.length; i += 3) {
    const everyMs = Number(raw[i + 2]);
    claims.push({ userId: Number(raw[i]), dueAtMs: Number(raw[i + 1]), everyMs, leaseMs: leaseOf(everyMs, minLease) });
  }
  return claims;
}

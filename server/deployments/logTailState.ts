import type { Redis } from 'ioredis';
import { redisScript } from '../redisScript.js';
import { deleteIfOurs } from '../redisOwned.js';
import type { LogPhase } from './logWindows.js';

/**
 * Where a deployment's log tail stands (`logtail:<id>`) and its poller's lease (`…:lease`), for
 * server/deployments/logTail.ts. What a poll read is published and its new state written in one
 * script that first checks the lease is still this process's: a poller whose lease lapsed during a
 * Render call (slower than the lease, a paused process) neither sends lines the new holder sends
 * too, nor moves the state back under it.
 */
export interface TailState { phase: LogPhase | null; pos: string | null; ids: string[]; settleAt: number | null; done: boolean }

const STATE_TTL_S = 3600;

// Take the lease, or renew it when it is already ours. 1 = held.
const LEASE = redisScript(`
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`);

// Only while the lease is ours: write the state, then publish the message (if any). 1 = done.
const COMMIT = redisScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
if ARGV[5] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
return 1`);

/** Thrown by a commit refused because the lease lapsed: the poll's work is dropped, not delivered. */
export class TailLeaseLost extends Error {
  override readonly name = 'TailLeaseLost';
}

export function tailStateStore(redis: Redis, prefix: string, token: string) {
  const stateKey = (id: string) => `${prefix}:logtail:${id}`;
  const leaseKey = (id: string) => `${prefix}:logtail:${id}:lease`;
  return {
    async load(id: string): Promise<TailState> {
      const raw = await redis.get(stateKey(id));
      if (raw) {
        try { return JSON.parse(raw) as TailState; } catch { /* a broken state starts over */ }
      }
      return { phase: null, pos: null, ids: [], settleAt: null, done: false };
    },
    /** Take or renew the lease for `ms`; true when this process holds it. */
    async lease(id: string, ms: number): Promise<boolean> {
      return Number(await LEASE(redis, [leaseKey(id)], [token, ms])) === 1;
    },
    release: (id: string) => deleteIfOurs(redis, leaseKey(id), token),
    /** Save the state and publish `message` on `channel`, only while the lease is ours (else TailLeaseLost). */
    async commit(id: string, state: TailState, channel: string, message: string | null = null): Promise<void> {
      const done = Number(await COMMIT(redis, [leaseKey(id), stateKey(id)], [token, JSON.stringify(state), STATE_TTL_S, channel, message ?? '']));
      if (done !== 1) throw new TailLeaseLost('the log tail lease lapsed during the poll');
    },
  };
}

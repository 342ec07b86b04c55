import type { Redis } from 'ioredis';
import { redisScript } from '../redisScript.js';
import { deleteIfOurs } from '../redisOwned.js';
import type { LogPhase } from './logWindows.js';

/**
 * Where a deployment's log tail stands (`logtail:<id>`) and its poller's lease (`…:lease`), for
 * server/deployments/logTail.ts. The lease says who polls Render (one process, not one per web
 * process); what a poll read goes out by the state it started from: its new state is written and its
 * lines published in one script, only while the state is still the one the poll loaded. A poll that
 * another moved the tail past meanwhile (a process that took the lease over when this one's Render
 * call outlasted it, a paused process) neither sends lines the other sent too, nor moves the state
 * back under it. A poll nobody moved past delivers, whether or not its lease lapsed meanwhile: one that
 * was lost whenever the lease lapsed kept a tail whose every read outlasts the lease (pages of 1 MB
 * lines on a loaded machine: 5–12 s against a 3 s lease) reading the same page forever, and no line
 * ever went out.
 */
export interface TailState {
  phase: LogPhase | null; pos: string | null; ids: string[]; settleAt: number | null; done: boolean;
  /**
   * Before the first look (phase null): the newest stretch of that phase's window read so far held no
   * lines, and Render named the window below it: the first look reads backward from `end` (logTail.ts).
   */
  before?: { phase: LogPhase; end: string };
}

/** A state as loaded, with what it was in Redis (`raw`, '' when there was none) for the commit to check. */
export interface LoadedTailState { state: TailState; raw: string }

const STATE_TTL_S = 3600;

// Take the lease, or renew it when it is already ours. 1 = held.
const LEASE = redisScript(`
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`);

// Only while the state is the one the poll started from (ARGV[1], '' for none): write the new state,
// then publish the message (if any). 1 = done.
const COMMIT = redisScript(`
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
if ARGV[5] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
return 1`);

/** Thrown by a commit refused because another poll moved the tail on meanwhile: this poll's work is dropped, not delivered. */
export class TailMovedOn extends Error {
  override readonly name = 'TailMovedOn';
}

export function tailStateStore(redis: Redis, prefix: string, token: string) {
  const stateKey = (id: string) => `${prefix}:logtail:${id}`;
  const leaseKey = (id: string) => `${prefix}:logtail:${id}:lease`;
  return {
    async load(id: string): Promise<LoadedTailState> {
      const raw = (await redis.get(stateKey(id))) ?? '';
      if (raw) {
        try { return { state: JSON.parse(raw) as TailState, raw }; } catch { /* a broken state starts over */ }
      }
      return { state: { phase: null, pos: null, ids: [], settleAt: null, done: false }, raw };
    },
    /** Take or renew the lease for `ms`; true when this process holds it. */
    async lease(id: string, ms: number): Promise<boolean> {
      return Number(await LEASE(redis, [leaseKey(id)], [token, ms])) === 1;
    },
    release: (id: string) => deleteIfOurs(redis, leaseKey(id), token),
    /** Save the state and publish `message` on `channel`, only while the state is still `from` (else TailMovedOn). */
    async commit(id: string, from: LoadedTailState, state: TailState, channel: string, message: string | null = null): Promise<void> {
      const done = Number(await COMMIT(redis, [stateKey(id)], [from.raw, JSON.stringify(state), STATE_TTL_S, channel, message ?? '']));
      if (done !== 1) throw new TailMovedOn('another poll moved the log tail on meanwhile');
    },
  };
}

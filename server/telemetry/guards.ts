import type { Redis } from 'ioredis';
import { redisScript } from '../redisScript.js';
import type { TelemetryKeys } from './keys.js';
import { SIGNALS, type Signal } from './options.js';

/** What the detector decided about a user: slowed down (throttled) or refused (blocked), until when. */
export interface GuardEntry {
  state: 'throttled' | 'blocked';
  /** Epoch ms when it lifts. */
  until: number;
  since: number;
  /** Anomalous minutes in a row so far. */
  strikes: number;
  /** The signal that tripped last, what was seen and what the user's baseline allowed. */
  signal: Signal;
  observed: number;
  threshold: number;
  login: string | null;
}

/** A time a Date can hold (epoch ms): what `blocks` prints with toISOString, which throws past it. */
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && Math.abs(v) <= 8.64e15;
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * What is wrong with a stored entry, field by field (empty: it is one the detector writes). Only a
 * Redis writer makes one of another shape; it is neither enforced nor listed as a decision. Before,
 * only state and until were checked: the rest reached `blocks`, which crashed on a login that was a
 * number, and the detector, which carried a bad `since` into the entries it wrote next.
 */
function entryProblems(e: unknown): string[] {
  if (!e || typeof e !== 'object' || Array.isArray(e)) return ['not a JSON object'];
  const v = e as Record<string, unknown>;
  const out: string[] = [];
  if (v.state !== 'throttled' && v.state !== 'blocked') out.push('state is neither throttled nor blocked');
  if (!isTime(v.until)) out.push('until is not a time');
  if (!isTime(v.since)) out.push('since is not a time');
  if (!Number.isSafeInteger(v.strikes) || (v.strikes as number) < 0) out.push('strikes is not a count');
  if (!SIGNALS.includes(v.signal as Signal)) out.push('signal is not one the detector judges');
  if (!isCount(v.observed)) out.push('observed is not a number');
  if (!isCount(v.threshold)) out.push('threshold is not a number');
  // A GitHub login (printable, no spaces), or none: it is printed as it is.
  if (v.login !== null && v.login !== undefined && !(typeof v.login === 'string' && /^[\x21-\x7e]{1,100}$/.test(v.login))) out.push('login is not a login');
  return out;
}

/** A stored entry read: the entry, or what is wrong with it (unparseable JSON included). */
function readEntry(raw: string): { entry: GuardEntry } | { problems: string[] } {
  let e: unknown;
  try { e = JSON.parse(raw); } catch { return { problems: ['not JSON'] }; }
  const problems = entryProblems(e);
  if (problems.length) return { problems };
  const entry = e as GuardEntry;
  return { entry: { ...entry, login: entry.login ?? null } };
}

function parseEntry(raw: string | undefined | null): GuardEntry | null {
  if (!raw) return null;
  const read = readEntry(raw);
  return 'entry' in read ? read.entry : null;
}

/** A guard hash field that is not a decision the detector wrote (see entryProblems): its field (a user id, or not) and why. */
export interface UnreadableGuard { field: string; problems: string[] }

/**
 * HSET a user's entry only while it is still the decision the caller read (same state, end and
 * strikes): an operator's unblock between the detector's read and its write is not undone by it.
 */
const REPLACE_IF_UNCHANGED = redisScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
local ok, e = pcall(cjson.decode, cur)
if not ok or type(e) ~= 'table' or e.state ~= ARGV[2] or e['until'] ~= tonumber(ARGV[3]) or e.strikes ~= tonumber(ARGV[4]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[5])
redis.call('INCR', KEYS[2])
return 1`);

/** HGET and HDEL a user's entry in one step (the version moved when there was one): what was removed, or nil. */
const TAKE = redisScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('INCR', KEYS[2])
return cur`);

/** Throttles and blocks in Redis: one hash for every process, and a version counter to poll. */
export function createGuardStore(redis: Redis, keys: TelemetryKeys) {
  /** Every entry, and apart those that are not decisions the detector wrote (for the operator's `blocks`). */
  async function listing(): Promise<{ entries: Map<number, GuardEntry>; unreadable: UnreadableGuard[] }> {
    const raw = await redis.hgetall(keys.guard);
    const entries = new Map<number, GuardEntry>();
    const unreadable: UnreadableGuard[] = [];
    for (const [id, json] of Object.entries(raw)) {
      const read = readEntry(json);
      const userId = /^\d{1,16}$/.test(id) && Number.isSafeInteger(Number(id)) ? Number(id) : null;
      if ('entry' in read && userId !== null) entries.set(userId, read.entry);
      else unreadable.push({ field: id, problems: 'problems' in read ? read.problems : ['its field is not a user id'] });
    }
    return { entries, unreadable };
  }
  return {
    async all(): Promise<Map<number, GuardEntry>> {
      return (await listing()).entries;
    },
    listing,
    async get(userId: number): Promise<GuardEntry | null> {
      return parseEntry(await redis.hget(keys.guard, String(userId)));
    },
    async set(userId: number, entry: GuardEntry): Promise<void> {
      await redis.multi().hset(keys.guard, String(userId), JSON.stringify(entry)).incr(keys.guardVersion).exec();
    },
    /** Set a user's entry only if it is still `read` (see REPLACE_IF_UNCHANGED); true when written. */
    async replace(userId: number, read: GuardEntry, entry: GuardEntry): Promise<boolean> {
      const args = [String(userId), read.state, read.until, read.strikes, JSON.stringify(entry)];
      return (await REPLACE_IF_UNCHANGED(redis, [keys.guard, keys.guardVersion], args)) === 1;
    },
    /** Remove a user's entry; true when there was one. */
    async remove(userId: number): Promise<boolean> {
      const [[, removed]] = (await redis.multi().hdel(keys.guard, String(userId)).incr(keys.guardVersion).exec()) as [[Error | null, number]];
      return removed === 1;
    },
    /**
     * Remove a user's entry and answer it as it was removed (null: there was none): the operator's unblock
     * says what it lifted, even when the detector turned a throttle into a block just before, and of two
     * unblocks at once only one lifted anything.
     */
    async take(userId: number): Promise<GuardEntry | null> {
      return parseEntry(await TAKE(redis, [keys.guard, keys.guardVersion], [String(userId)]) as string | null);
    },
    async version(): Promise<string | null> {
      return redis.get(keys.guardVersion);
    },
    /** Call `listener` on each (re)connect of the store's connection; returns the function that stops it. */
    onConnected(listener: () => void): () => void {
      redis.on('ready', listener);
      return () => { redis.off('ready', listener); };
    },
  };
}
export type GuardStore = ReturnType<typeof createGuardStore>;

export interface GuardCache {
  /** The user's live entry (expired ones are ignored), from this process's copy: no Redis call. */
  lookup(userId: number, now: number): GuardEntry | null;
  /** Re-read Redis now if the version moved (the timer does this every syncMs). */
  sync(): Promise<void>;
  /** Entries by state, for /metrics. */
  counts(now: number): { throttled: number; blocked: number };
  close(): void;
}

/**
 * Each web process keeps a copy of the guard hash, refreshed when its version counter moves (one
 * GET per syncMs), so checking a request costs a map lookup. A block written by the detector or
 * lifted by an operator reaches every web process within syncMs.
 */
export function createGuardCache(store: GuardStore, opts: { syncMs?: number; onError?: (err: Error) => void } = {}): GuardCache {
  let entries = new Map<number, GuardEntry>();
  let version: string | null | undefined;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let next: Promise<void> | null = null;
  // A read already on its way may have read Redis before a write the caller just made: a caller then
  // waits for the read after it (one, shared by every caller meanwhile), never joins the earlier one.
  const sync = (): Promise<void> => {
    if (running) return (next ??= running.then(() => { next = null; return sync(); }));
    running = (async () => {
      try {
        const seen = reconnects;
        const v = await store.version();
        if (v !== version || version === undefined) {
          entries = await store.all();
          // Read across a reconnect: what it read may be the old Redis's, so the next sync reads again.
          version = seen === reconnects ? v : undefined;
        }
      } catch (err) {
        opts.onError?.(err as Error); // keep the last copy: Redis trouble neither blocks nor unblocks anyone
      } finally { running = null; }
    })();
    return running;
  };
  // A Redis that came back empty (Key Value keeps nothing on disk) starts the counter again: the first change
  // after it may bring it to the very number last read here, and the copy would never be read again. So
  // after each reconnect the next sync reads the entries whatever the counter says.
  let stopWatching: (() => void) | null = null;
  let reconnects = 0;
  const start = () => {
    if (timer) return;
    stopWatching = store.onConnected(() => { reconnects += 1; version = undefined; });
    timer = setInterval(() => { void sync(); }, opts.syncMs ?? 1_000);
    timer.unref();
    void sync();
  };
  return {
    lookup(userId, now) {
      if (!timer) start();
      const e = entries.get(userId);
      return e && e.until > now ? e : null;
    },
    sync: () => { if (!timer) start(); return sync(); },
    counts(now) {
      let throttled = 0; let blocked = 0;
      for (const e of entries.values()) if (e.until > now) { if (e.state === 'blocked') blocked++; else throttled++; }
      return { throttled, blocked };
    },
    close() { if (timer) clearInterval(timer); timer = null; stopWatching?.(); stopWatching = null; },
  };
}

import type { Redis } from 'ioredis';
import { createRedis } from '../redis.js';
import { redisHeartbeat } from '../redisHeartbeat.js';
import type { EndingFence } from './fence.js';

/**
 * A per-process cache of decrypted session records, kept correct by Redis itself (server-assisted
 * client-side caching): one connection runs `CLIENT TRACKING on REDIRECT <own id> BCAST PREFIX …`
 * and subscribes to `__redis__:invalidate`, so every change to a key under the session prefixes, by
 * any process, a Lua script, a Redis writer editing by hand, expiry or FLUSHALL, drops the entry here.
 *
 * Why it stays correct:
 * - Nothing is cached while tracking is not confirmed active; losing the connection (its socket's
 *   end, read in the same turn as a request sent after it) empties the cache and stops filling until
 *   tracking is set up again (a new epoch).
 * - A connection can also stall without ending (a paused Redis, a half-open link): no event, and no
 *   invalidations either. So it answers a PING every `heartbeatMs`, and a copy is served only while
 *   a PING sent at most two intervals ago has been answered (everything Redis sent before that answer,
 *   invalidations included, has been handled: one stream, in order). A PING (or the setup) unanswered
 *   an interval after it was sent drops the connection, which empties the cache and reconnects.
 * - A read from Redis fills the cache only when no invalidation for that key arrived since the read
 *   was started (the ticket): a write that lands between our read and our fill is never papered over.
 * - A hit waits for one turn of the event loop's I/O phase before it is used (`settle`): an
 *   invalidation Redis sent before the request reached us (a logout on another process, answered
 *   before this request was sent) is already in our socket and is processed first.
 * - The store also drops an entry itself after each of its own writes, so this process never
 *   answers from a version it has just replaced.
 * - A write that ends a session or takes authority from it is answered only once every process has
 *   dropped its copy (`dropEverywhere`, fence.ts): the one window the rules above leave (Redis may
 *   write the ender's reply before another process's invalidation) is closed from the ending side.
 *   A writer outside the app (an operator's FLUSHALL or DEL) has no fence: Redis writes its reply
 *   and the invalidations in the same turn of its event loop, the reply first, so only a request sent
 *   after some later answer from Redis is sure to find every copy dropped (test/ops/cache-recovery).
 */
export interface SessionCache<T> {
  /** A cached value, if tracking is active. */
  lookup(ref: string): T | undefined;
  /** Start a read from Redis; pass the ticket to `fill` with what was read (undefined: nothing to keep). */
  begin(ref: string): CacheTicket;
  fill(ticket: CacheTicket, value: T | undefined): void;
  /** Drop an entry (and spoil reads of it in flight). */
  invalidate(ref: string): void;
  /** Let invalidations already received by the process run (one event-loop turn). */
  settle(): Promise<void>;
  /**
   * After a write of ours (answered) that ended a session or took authority from it: resolves once every
   * process tracking these records has handled its invalidations (or at the fence's timeout).
   */
  dropEverywhere(): Promise<void>;
  readonly active: boolean;
  readonly size: number;
  close(): Promise<void>;
}

interface CacheTicket { readonly ref: string; readonly epoch: number; spoiled: boolean }

interface SessionCacheOptions {
  /**
   * A new Redis connection (RESP2: invalidations arrive as pub/sub messages). Owned by the cache.
   * Without offline queue or resending of unanswered commands: each (re)connect sets tracking up afresh.
   */
  connect: () => Redis;
  /** Key prefix of the records; the ref is what follows it. */
  recordPrefix: string;
  maxEntries?: number;
  /** Defence in depth: an entry is not used after this long even without an invalidation. */
  maxAgeMs?: number;
  now?: () => number;
  onError?: (err: Error) => void;
  /** The ending side's fence (fence.ts), its channels subscribed on the tracking connection. */
  fence?: EndingFence;
  /** The tracking connection's heartbeat: a PING this often, its deadline as long again (default 500 ms). */
  heartbeatMs?: number;
}

const INVALIDATE_CHANNEL = '__redis__:invalidate';

/**
 * A tracking connection as `connect` must make it (web and worker alike). No offline queue and no
 * resending: a setup cut short by a dropped connection (Redis gone, or silent past the heartbeat's
 * deadline) must not replay its SUBSCRIBE on the next one (which then refused CLIENT ID, and the
 * cache stayed off for good).
 */
export function trackingConnection(url: string): Redis {
  return createRedis(url, 'subscriber', { protocol: 2, autoResubscribe: false, autoResendUnfulfilledCommands: false, enableOfflineQueue: false });
}

export function createSessionCache<T>(opts: SessionCacheOptions): SessionCache<T> {
  const maxEntries = opts.maxEntries ?? 10_000;
  const maxAgeMs = opts.maxAgeMs ?? 60_000;
  const now = opts.now ?? Date.now;
  const prefix = opts.recordPrefix;
  const heartbeatMs = opts.heartbeatMs ?? 500;
  const entries = new Map<string, { value: T; at: number }>();
  const inFlight = new Map<string, Set<CacheTicket>>();
  let epoch = 0;
  let active = false;
  let closed = false;
  let settling: Promise<void> | undefined;
  /** Each (re)connect's number; the one we dropped for its silence. */
  let generation = 0;
  let dropped = -1;

  const conn = opts.connect();

  function dropAll(): void {
    entries.clear();
    for (const tickets of inFlight.values()) for (const t of tickets) t.spoiled = true;
  }

  function invalidate(ref: string): void {
    entries.delete(ref);
    const tickets = inFlight.get(ref);
    if (tickets) for (const t of tickets) t.spoiled = true;
  }

  const refOfKey = (key: string): string | null => (key.startsWith(prefix) ? key.slice(prefix.length) : null);

  function lost(): void {
    active = false;
    epoch++;
    dropAll();
    heartbeat.reset();
  }

  // The setup, then a PING each interval (redisHeartbeat): past a deadline the connection is dropped.
  const heartbeat = redisHeartbeat(conn, {
    intervalMs: heartbeatMs,
    due: () => active && !closed,
    onSilent: (ms) => {
      lost();
      dropped = generation;
      opts.onError?.(new Error(`tracking connection silent for ${ms} ms; reconnecting`));
    },
  });
  const live = () => active && performance.now() - heartbeat.provenAt <= 2 * heartbeatMs;

  async function track(gen: number): Promise<void> {
    const sentAt = heartbeat.expect();
    const id = await conn.client('ID');
    await conn.call('CLIENT', 'TRACKING', 'on', 'REDIRECT', String(id), 'BCAST', 'PREFIX', prefix);
    await conn.subscribe(INVALIDATE_CHANNEL, ...(opts.fence?.channels ?? []));
    if (closed || gen !== generation || !heartbeat.answered(sentAt)) return;
    epoch++;
    dropAll();
    active = true;
  }

  conn.on('messageBuffer', (channelBuf: Buffer, message: Buffer[] | Buffer | null) => {
    const channel = channelBuf.toString();
    if (channel !== INVALIDATE_CHANNEL) {
      if (Buffer.isBuffer(message)) opts.fence?.handle(channel, message.toString());
      return;
    }
    if (message === null || !Array.isArray(message)) { dropAll(); return; } // FLUSHALL / FLUSHDB
    for (const key of message) {
      const ref = refOfKey(key.toString());
      if (ref !== null) invalidate(ref);
    }
  });
  // Tracking lives and dies with the connection: set it up on every (re)connect, drop all on loss. A
  // setup that failed on a live connection is retried on a fresh one, backing off (Redis may refuse it).
  let failures = 0;
  let retry: NodeJS.Timeout | undefined;
  conn.on('ready', () => {
    const gen = ++generation;
    track(gen).then(() => { failures = 0; }, (err: Error) => {
      if (gen !== generation) return;
      lost();
      if (dropped === gen) return; // cut short by our own drop: the reconnect is on its way
      opts.onError?.(err);
      if (closed || retry) return;
      retry = setTimeout(() => { retry = undefined; if (!closed && conn.status === 'ready' && !active) conn.disconnect(true); }, Math.min(60_000, 500 * 2 ** failures++));
      retry.unref();
    });
  });
  conn.on('close', lost);
  conn.on('end', lost);
  // The socket's end (Redis dropped us: CLIENT KILL, a restart) comes in the turn it is read; ioredis'
  // 'close' only a turn or two later, once the socket is shut down, after a hit's settle has let a
  // request read the entry of a session that ended meanwhile (no invalidation reached us for it).
  conn.on('connect', () => conn.stream.once('end', lost));

  return {
    lookup(ref) {
      if (!live()) return undefined;
      const e = entries.get(ref);
      if (!e) return undefined;
      if (now() - e.at > maxAgeMs) { entries.delete(ref); return undefined; }
      return e.value;
    },
    begin(ref) {
      const ticket: CacheTicket = { ref, epoch, spoiled: false };
      let tickets = inFlight.get(ref);
      if (!tickets) { tickets = new Set(); inFlight.set(ref, tickets); }
      tickets.add(ticket);
      return ticket;
    },
    fill(ticket, value) {
      const tickets = inFlight.get(ticket.ref);
      tickets?.delete(ticket);
      if (tickets?.size === 0) inFlight.delete(ticket.ref);
      if (value === undefined || !active || ticket.spoiled || ticket.epoch !== epoch) return;
      if (entries.size >= maxEntries && !entries.has(ticket.ref)) {
        const oldest = entries.keys().next();
        if (!oldest.done) entries.delete(oldest.value);
      }
      entries.set(ticket.ref, { value, at: now() });
    },
    invalidate,
    // One wait shared by every hit of this event-loop turn: the immediates they would each schedule
    // run in the same check phase, after the same I/O, so one promise serves them all.
    settle: () => (settling ??= new Promise<void>((resolve) => setImmediate(() => { settling = undefined; resolve(); }))),
    dropEverywhere: () => opts.fence?.wait() ?? Promise.resolve(),
    get active() { return live(); },
    get size() { return entries.size; },
    async close() {
      closed = true;
      clearTimeout(retry);
      heartbeat.stop();
      lost();
      try { await conn.quit(); } catch { /* already gone */ }
      conn.disconnect();
    },
  };
}

/**
 * Read `ref` through the cache (no cache: straight from Redis). A hit is used only after the
 * invalidations already received have run (`settle`); a miss is read from Redis under a ticket, and
 * what `keep` returns for it (undefined: nothing) is filled in unless an invalidation came meanwhile.
 * `settled`: the caller has already waited, since its request arrived, for a read through a cache
 * (a hit's settle or a Redis round trip), so at least one I/O turn has run and every invalidation
 * received before the request (on any connection: one turn polls them all) has been processed.
 */
export async function readThrough<T, R>(
  cache: SessionCache<T> | undefined, ref: string, read: () => Promise<R>, keep: (read: R) => T | undefined, settled = false,
): Promise<{ value: T; hit: true } | { value: R; hit: false }> {
  if (!cache) return { value: await read(), hit: false };
  if (cache.lookup(ref) !== undefined) {
    if (!settled) await cache.settle();
    const hit = cache.lookup(ref);
    if (hit !== undefined) return { value: hit, hit: true };
  }
  const ticket = cache.begin(ref);
  let kept: T | undefined;
  try {
    const value = await read();
    kept = keep(value);
    return { value, hit: false };
  } finally {
    cache.fill(ticket, kept);
  }
}

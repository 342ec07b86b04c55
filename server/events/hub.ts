import type { Redis } from 'ioredis';
import { redisHeartbeat, type RedisHeartbeat } from '../redisHeartbeat.js';

type EventListener = (message: string) => void;

interface EventHubOptions {
  /** Opens the one subscriber connection (on first use). */
  connect: () => Redis;
  /** The per-user channel, e.g. the deployment store's `${prefix}:events:${userId}`. */
  channelOf: (userId: number) => string;
  /** How long subscribe() waits for Redis to confirm. Default 5 s. */
  subscribeTimeoutMs?: number;
  /**
   * A PING this often while someone listens, its deadline as long again (default 5 s): a connection
   * that stalls (open, silent) is dropped, so its streams end and their pages catch up.
   */
  heartbeatMs?: number;
  /** The connection was silent past the heartbeat's deadline (and is being dropped). */
  onSilent?: (silentMs: number) => void;
}

export interface EventHub {
  /** Resolves once Redis confirmed the subscription; call the returned function to leave. */
  subscribe(userId: number, listener: EventListener): Promise<() => void>;
  /** The same for any channel (e.g. a session's end channel). */
  subscribeChannel(channel: string, listener: EventListener): Promise<() => void>;
  /**
   * Called when the connection is lost after it was up: what was published until it is subscribed again
   * never arrives (a stream ends, for its page to catch up). Call the returned function to stop.
   */
  onLost(listener: () => void): () => void;
  /** Listeners attached in this process (for tests and metrics). */
  listenerCount(): number;
  close(): Promise<void>;
}

export class EventHubUnavailable extends Error {
  constructor(message: string) { super(message); this.name = 'EventHubUnavailable'; }
}

interface ChannelEntry { listeners: Set<EventListener>; ready: Promise<unknown> }

/**
 * One Redis subscriber connection per process, fanned out to that process's listeners by channel.
 * A channel is subscribed while at least one listener wants it. The connection opens lazily, so a
 * process that never serves a live client never holds one; ioredis re-subscribes after reconnects,
 * but Redis keeps nothing for a subscriber that is gone: `onLost` tells who may have missed messages,
 * also when the connection went silent (a heartbeat: redisHeartbeat.ts) and was dropped for it.
 */
export function createEventHub(opts: EventHubOptions): EventHub {
  const timeoutMs = opts.subscribeTimeoutMs ?? 5_000;
  const channels = new Map<string, ChannelEntry>();
  const lostListeners = new Set<() => void>();
  let conn: Redis | null = null;
  let heartbeat: RedisHeartbeat | null = null;
  let closed = false;
  /** The connection has been up since it was last lost: a loss now may have dropped messages. */
  let up = false;

  function lost(): void {
    if (!up || closed) return;
    up = false;
    for (const listener of [...lostListeners]) {
      try { listener(); } catch { /* every listener hears of it */ }
    }
  }

  function connection(): Redis {
    if (conn) return conn;
    conn = opts.connect();
    conn.on('ready', () => { up = true; });
    // The socket's end is read before ioredis' 'close' (a turn or two later): either one, once.
    conn.on('connect', () => conn?.stream.once('end', lost));
    conn.on('close', lost);
    // Silent but open: what is published meanwhile never arrives, and no event says so.
    heartbeat = redisHeartbeat(conn, { intervalMs: opts.heartbeatMs ?? 5_000, due: () => up && channels.size > 0, onSilent: (ms) => opts.onSilent?.(ms) });
    conn.on('message', (channel: string, message: string) => {
      const entry = channels.get(channel);
      if (!entry) return;
      for (const listener of [...entry.listeners]) {
        try { listener(message); } catch { /* one broken client must not starve the others */ }
      }
    });
    return conn;
  }

  function withTimeout<T>(p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new EventHubUnavailable('Redis did not confirm the subscription in time')), timeoutMs);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  const hub: EventHub = {
    subscribe(userId, listener) {
      return hub.subscribeChannel(opts.channelOf(userId), listener);
    },

    async subscribeChannel(channel, listener) {
      if (closed) throw new EventHubUnavailable('event hub is closed');
      let entry = channels.get(channel);
      if (!entry) {
        entry = { listeners: new Set(), ready: connection().subscribe(channel) };
        channels.set(channel, entry);
      }
      const mine = entry;
      mine.listeners.add(listener);
      let left = false;
      const leave = () => {
        if (left) return;
        left = true;
        mine.listeners.delete(listener);
        if (mine.listeners.size === 0 && channels.get(channel) === mine) {
          channels.delete(channel);
          // Commands on one connection run in order, so a later SUBSCRIBE of the same channel wins.
          if (!closed) conn?.unsubscribe(channel).catch(() => {});
        }
      };
      try {
        await withTimeout(mine.ready);
      } catch (err) {
        leave();
        throw err instanceof EventHubUnavailable ? err : new EventHubUnavailable('Redis subscription failed');
      }
      return leave;
    },

    onLost(listener) {
      lostListeners.add(listener);
      return () => { lostListeners.delete(listener); };
    },

    listenerCount() {
      let n = 0;
      for (const entry of channels.values()) n += entry.listeners.size;
      return n;
    },

    async close() {
      closed = true;
      channels.clear();
      lostListeners.clear();
      const c = conn;
      conn = null;
      heartbeat?.stop();
      if (c) await c.quit().catch(() => c.disconnect());
    },
  };
  return hub;
}

import type { Redis } from 'ioredis';

export interface RedisHeartbeat {
  /** Wait for the answer to a command sent now (a setup); answer it with `answered`. */
  expect(): number;
  /** The answer to the command sent at `sentAt` came; false if that wait is over (dropped, replaced). */
  answered(sentAt: number): boolean;
  /** When the last command the connection answered was sent (-Infinity: none since it was set up). */
  readonly provenAt: number;
  /** The connection was lost: nothing is awaited from it any more. */
  reset(): void;
  stop(): void;
}

/**
 * A heartbeat on a connection that only listens (pub/sub, client-tracking invalidations). Such a
 * connection can stall without ending — a paused Redis, a half-open link, a dead peer: no 'close',
 * no 'end', and nothing arrives — so what it should deliver is silently missed. A PING every
 * `intervalMs` while `due()`, one at a time; one (or a command awaited with `expect`) unanswered
 * `intervalMs` after it was sent calls `onSilent` and destroys the socket (a stalled peer would never
 * answer QUIT nor finish a FIN), so ioredis' 'close' follows and it reconnects. A deadline is judged
 * after the I/O already received is read: an event loop busy past it is no stall.
 */
export function redisHeartbeat(conn: Redis, opts: { intervalMs: number; due: () => boolean; onSilent: (silentMs: number) => void }): RedisHeartbeat {
  // Real time, not an injected clock: what a silent socket is measured in (a test may hold the clock).
  const elapsed = () => performance.now();
  let provenAt = -Infinity;
  let awaiting: number | undefined;
  let deadline: NodeJS.Timeout | undefined;
  let stopped = false;

  function reset(): void {
    awaiting = undefined;
    clearTimeout(deadline);
  }

  function expect(): number {
    const sentAt = elapsed();
    awaiting = sentAt;
    clearTimeout(deadline);
    deadline = setTimeout(() => setImmediate(() => {
      if (stopped || awaiting !== sentAt) return;
      reset();
      opts.onSilent(Math.round(elapsed() - sentAt));
      conn.stream.destroy();
    }), opts.intervalMs);
    deadline.unref();
    return sentAt;
  }

  function answered(sentAt: number): boolean {
    if (awaiting !== sentAt) return false;
    reset();
    provenAt = sentAt;
    return true;
  }

  conn.on('close', reset);

  const beat = setInterval(() => {
    if (stopped || awaiting !== undefined || conn.status !== 'ready' || !opts.due()) return;
    const sentAt = expect();
    conn.ping().then(() => answered(sentAt), () => {}); // a lost connection is handled by its events
  }, opts.intervalMs);
  beat.unref();

  return {
    expect, answered, reset,
    get provenAt() { return provenAt; },
    stop() { stopped = true; clearInterval(beat); reset(); },
  };
}

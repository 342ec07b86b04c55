import type { Writable } from 'node:stream';
import type Koa from 'koa';

interface InflightTracker {
  /** Mount outermost: counts requests until their response closed; remembers event streams. */
  middleware: Koa.Middleware;
  /** Requests being answered now (event streams excluded: they are ended, not waited for). */
  active(): number;
  streams(): number;
  /** From now on every response says `Connection: close`, so no socket is kept for another request. */
  drain(): void;
  /** End every open event stream; browsers reconnect (to another process, behind a load balancer). */
  endStreams(): void;
  /** Resolves when no request is in flight, or after timeoutMs; true when it got idle. */
  idle(timeoutMs: number): Promise<boolean>;
}

/**
 * In-flight requests of one web process, for graceful shutdown: stop accepting, let requests that
 * already arrived finish, end the SSE streams, then close what is left.
 */
export function createInflightTracker(): InflightTracker {
  let active = 0;
  let draining = false;
  const streams = new Set<Koa.Context>();
  const waiters = new Set<() => void>();
  const settle = () => { if (active === 0) for (const w of [...waiters]) w(); };

  return {
    async middleware(ctx, next) {
      if (draining) ctx.set('Connection', 'close');
      active++;
      let counted = true;
      const release = () => { if (counted) { counted = false; active--; settle(); } };
      // on, not once: release() runs once anyway, and once() binds a wrapper per request.
      ctx.res.on('close', () => { streams.delete(ctx); release(); });
      try {
        await next();
      } finally {
        if (ctx.response.type === 'text/event-stream' && !ctx.res.writableEnded) {
          streams.add(ctx);
          release();
        }
      }
    },
    active: () => active,
    streams: () => streams.size,
    drain() { draining = true; },
    endStreams() {
      for (const ctx of [...streams]) {
        const body = ctx.body as Partial<Writable> | undefined;
        if (body && typeof body.end === 'function') body.end(); else ctx.res.end();
      }
    },
    idle(timeoutMs) {
      if (active === 0) return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = (ok: boolean) => { clearTimeout(timer); waiters.delete(onIdle); resolve(ok); };
        const onIdle = () => done(true);
        const timer = setTimeout(() => done(false), timeoutMs);
        waiters.add(onIdle);
      });
    },
  };
}

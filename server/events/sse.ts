import { PassThrough } from 'node:stream';
import type Koa from 'koa';

interface SseOptions {
  /** Reconnection delay suggested to the browser. Default 3000 ms. */
  retryMs?: number;
  /**
   * How often a `ping` event is sent (its data: this interval in ms). It keeps proxies from closing an idle
   * stream, and lets the page tell an open but silent stream (a proxy holding it, a half-open connection)
   * from a quiet one: web/assets/live.js reconnects one that misses a few. Default 15 s.
   */
  keepAliveMs?: number;
  /** Run before each keepalive; resolve false to end the stream (e.g. the session is gone). */
  stillAllowed?: () => Promise<boolean>;
  /** Unread bytes held for a client that does not read (past what its socket took) before the stream is dropped. Default 8 MiB. */
  maxBufferedBytes?: number;
}

interface SseStream {
  /** One event; `data` is written as a single line, so it must not contain newlines (JSON does not). */
  send(event: string, data: string): void;
  /** Ends the stream (the client reconnects after `retry`). */
  end(): void;
  /** Runs once, when the client goes away or the stream ends. */
  onClose(fn: () => void): void;
  readonly closed: boolean;
}

/**
 * Turns a Koa response into a Server-Sent Events stream: headers that stop buffering and caching,
 * no socket timeout, a `retry:` line, keepalive `ping` events, and cleanup on disconnect.
 */
export function openSse(ctx: Koa.Context, opts: SseOptions = {}): SseStream {
  const keepAliveMs = opts.keepAliveMs ?? 15_000;
  const body = new PassThrough();
  const closers: Array<() => void> = [];
  let closed = false;

  ctx.req.socket.setTimeout(0);
  ctx.req.socket.setNoDelay(true);
  ctx.req.socket.setKeepAlive(true);
  ctx.status = 200;
  ctx.set('Content-Type', 'text/event-stream; charset=utf-8');
  ctx.set('Cache-Control', 'no-store');
  ctx.set('X-Accel-Buffering', 'no');
  ctx.body = body;

  const finish = () => {
    if (closed) return;
    closed = true;
    clearInterval(timer);
    for (const fn of closers.splice(0)) {
      try { fn(); } catch { /* cleanup must run to the end */ }
    }
    if (!body.destroyed) body.end();
  };

  // A client that stops reading (or never does) leaves every event in this process: once more than the
  // cap is still unread when the next event comes, the stream is dropped with its connection (what it
  // held goes with it); a page reconnects and catches up. Checked before a write, so one big event (a
  // page of log lines) never trips it alone.
  const maxBuffered = opts.maxBufferedBytes ?? 8 * 1024 * 1024;
  const write = (chunk: string) => {
    if (closed || body.destroyed) return;
    if (body.writableLength + body.readableLength > maxBuffered) {
      finish();
      ctx.req.socket.destroy();
      return;
    }
    body.write(chunk);
  };

  // The keepalive is an event, not an SSE comment: EventSource never passes a comment to the page, which
  // then could not notice a stream that stopped arriving while still open.
  const ping = `event: ping\ndata: ${keepAliveMs}\n\n`;

  // One check at a time: a tick while the last one's check is still out (GitHub slow to answer a bearer
  // stream's re-check) is skipped, not run beside it. Overlapping, each joined the same GitHub check and
  // counted its refusal against the address again, and one that read the session the refusal had just
  // ended closed the stream before the refusing check could say why (token_revoked).
  let checking = false;
  const timer = setInterval(() => {
    if (checking) return;
    checking = true;
    void (async () => {
      try {
        if (opts.stillAllowed && !(await opts.stillAllowed().catch(() => true))) { finish(); return; }
        write(ping);
      } finally {
        checking = false;
      }
    })();
  }, keepAliveMs);
  timer.unref();

  // Koa pipes `body` into the response; either closing means the client is gone. (Not req 'close':
  // since Node 16 it fires once the request has been read, not when the client leaves.)
  body.on('close', finish);
  ctx.res.on('close', finish);

  write(`retry: ${opts.retryMs ?? 3000}\n\n`);

  return {
    send(event, data) { write(`event: ${event}\ndata: ${data}\n\n`); },
    end: finish,
    onClose(fn) { if (closed) fn(); else closers.push(fn); },
    get closed() { return closed; },
  };
}

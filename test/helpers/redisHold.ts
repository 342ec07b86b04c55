import { createServer, connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { startWeb, type WebProcess } from '../../server/web.js';
import { createLogger } from '../../server/logger.js';
import type { AppConfig } from '../../server/config/env.js';
import { freePort } from './ports.js';

/**
 * A TCP proxy in front of Redis that can stop one connection's commands at a known point, as a slow
 * or paused process would be stopped there: armed with `holdAt(marker)`, the first command sent (on any
 * connection) whose bytes contain `marker` is held with everything that connection sends after it
 * ('at'), or passed on and only what follows it held ('after'). Held commands reach Redis, in order,
 * on release(); Redis' answers and every other connection pass straight through.
 */
export interface RedisHold {
  url: string;
  holdAt(marker: string, where?: 'at' | 'after'): void;
  /** Resolves once a connection is held ('after': and Redis has answered the command passed on); guarded: rejects after `guardMs`. */
  held(guardMs?: number): Promise<void>;
  /** Send what was held, in order, and pass everything through again. */
  release(): void;
  close(): Promise<void>;
}

export async function startRedisHold(redisUrl: string): Promise<RedisHold> {
  const target = new URL(redisUrl);
  let armed: { marker: string; where: 'at' | 'after' } | null = null;
  let heldConn: { upstream: Socket; chunks: Buffer[] } | null = null;
  let onHeld: (() => void) | null = null;
  /** The held connection ('after') whose passed-on command Redis has not answered yet. */
  let answered: Socket | null = null;
  let isHeld = false;
  const sockets = new Set<Socket>();

  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    client.on('data', (chunk: Buffer) => {
      if (heldConn?.upstream === upstream) { heldConn.chunks.push(chunk); return; }
      if (armed && !heldConn && chunk.toString('latin1').includes(armed.marker)) {
        heldConn = { upstream, chunks: armed.where === 'at' ? [chunk] : [] };
        if (armed.where === 'after') {
          // Held once Redis has answered the command passed on (it ran before anything released later).
          upstream.write(chunk);
          answered = upstream;
        } else { isHeld = true; onHeld?.(); }
        armed = null;
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      client.write(chunk);
      if (answered === upstream) { answered = null; isHeld = true; onHeld?.(); }
    });
    const end = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const hold: RedisHold = {
    url: `redis://127.0.0.1:${port}`,
    holdAt(marker, where = 'at') { armed = { marker, where }; },
    held(guardMs = 10_000) {
      if (isHeld) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => { onHeld = null; reject(new Error(`no command held within ${guardMs} ms`)); }, guardMs);
        onHeld = () => { clearTimeout(timer); onHeld = null; resolve(); };
      });
    },
    release() {
      armed = null;
      answered = null;
      isHeld = false;
      const h = heldConn;
      heldConn = null;
      if (h && !h.upstream.destroyed) for (const c of h.chunks) h.upstream.write(c);
    },
    async close() {
      hold.release();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return hold;
}

/** Another web process on the same Redis (as a second instance behind the load balancer), reaching it through a RedisHold. */
export async function startWebBehindHold(config: AppConfig): Promise<{ hold: RedisHold; web: WebProcess; url: string; close(): Promise<void> }> {
  const hold = await startRedisHold(config.redisUrl);
  const port = await freePort();
  const web = await startWeb({ config: { ...config, redisUrl: hold.url, port }, logger: createLogger({ level: 'silent' }), host: '127.0.0.1' });
  return {
    hold, web, url: `http://127.0.0.1:${port}`,
    async close() { hold.release(); await web.close(1_000); await hold.close(); },
  };
}

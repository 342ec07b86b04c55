import { createServer, connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { startWeb, type WebProcess } from '../../../server/web.js';
import { createLogger } from '../../../server/logger.js';
import type { Stack } from '../../helpers/stack.js';
import { freePort } from '../../helpers/ports.js';

/**
 * A TCP proxy in front of Redis for one web process, which can hold what Redis sends to that process's
 * session tracking connection (the one that sent `CLIENT TRACKING … PREFIX <trackedPrefix>`): held
 * bytes are kept in order and sent on release, as if Redis had been slow to write them. Every other
 * connection passes straight through.
 */
export interface TrackingProxy {
  url: string;
  hold(): void;
  /** Send what was held, in order, and pass everything through again. */
  release(): void;
  /** Resolves once bytes held so far contain `marker` (guarded: rejects after `guardMs`). */
  whenHeld(marker: string, guardMs: number): Promise<void>;
  close(): Promise<void>;
}

/** Bytes of a connection's first commands looked at to tell the tracking connection (set up first). */
const SNIFF_LIMIT = 64 * 1024;

/**
 * `select`: which connection's incoming bytes are held, told by its first commands (default: the one
 * that sent `CLIENT TRACKING … PREFIX <trackedPrefix>`; e.g. the pub/sub subscriber by its CLIENT SETNAME).
 */
export async function startTrackingProxy(redisUrl: string, trackedPrefix: string, select: (sniffed: string) => boolean = (sniffed) => /TRACKING/i.test(sniffed) && sniffed.includes(trackedPrefix)): Promise<TrackingProxy> {
  const target = new URL(redisUrl);
  let holding = false;
  let heldText = '';
  const held: Array<{ to: Socket; chunk: Buffer }> = [];
  const watchers = new Set<() => void>();
  const sockets = new Set<Socket>();

  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    let sniffed = '';
    let tracking = false;
    client.on('data', (chunk) => {
      if (!tracking && sniffed.length < SNIFF_LIMIT) {
        sniffed += chunk.toString('latin1');
        tracking = select(sniffed);
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!(holding && tracking)) { client.write(chunk); return; }
      held.push({ to: client, chunk });
      heldText += chunk.toString('latin1');
      for (const w of watchers) w();
    });
    const end = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `redis://127.0.0.1:${port}`,
    hold() { holding = true; heldText = ''; },
    release() {
      holding = false;
      for (const { to, chunk } of held.splice(0)) if (!to.destroyed) to.write(chunk);
    },
    whenHeld(marker, guardMs) {
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => { watchers.delete(check); reject(new Error(`nothing held contained ${marker} within ${guardMs} ms`)); }, guardMs);
        function check() {
          if (!heldText.includes(marker)) return;
          clearTimeout(timer);
          watchers.delete(check);
          resolve();
        }
        watchers.add(check);
        check();
      });
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A SUBSCRIBE command as a client sends it (RESP: an array of bulk strings), and its first channel. */
const SUBSCRIBE_COMMAND = /(?:^|\r\n)\*\d+\r\n\$9\r\nsubscribe\r\n\$\d+\r\n([^\r]*)/gi;

/** A second web process beside `stack`'s, whose live-update hub connection goes through a proxy that can hold it. */
export async function startWebBehindHubProxy(stack: Stack, hubHeartbeatMs: number): Promise<{ proxy: TrackingProxy; web: WebProcess; close(): Promise<void> }> {
  // The event hub's connection: the one that sends SUBSCRIBE for a user's deployment channel, told by the
  // command itself. Matching the words anywhere also took the data connection, which PUBLISHes each new
  // stream's marker ({"type":"subscribed",…}) on that channel: its answers were held too, and a stream
  // whose session was read from Redis (not cached in the process) hung before it subscribed.
  const eventChannels = `${stack.config.redisPrefix}:events:`;
  const proxy = await startTrackingProxy(stack.config.redisUrl, '', (sniffed) => [...sniffed.matchAll(SUBSCRIBE_COMMAND)].some((m) => m[1]!.startsWith(eventChannels)));
  const web = await startWeb({ config: { ...stack.config, redisUrl: proxy.url, port: await freePort() }, logger: createLogger({ level: 'silent' }), events: { heartbeatMs: hubHeartbeatMs } });
  return { proxy, web, async close() { proxy.release(); await web.close(1_000); await proxy.close(); } };
}

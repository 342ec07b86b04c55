import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP proxy in front of a test Redis that cuts the client's connection once, at the first chunk the
 * client sends holding `marker`: after Redis answered it (the answer dropped), or before Redis saw it.
 */
export async function cuttingProxy(redisUrl: string, marker: string, when: 'after_redis_ran_it' | 'before_redis_saw_it', awayAfterCut: boolean): Promise<{ url: string; cut: Promise<void>; reopen(): void; close(): Promise<void> }> {
  const target = new URL(redisUrl);
  const sockets = new Set<Socket>();
  let armed = true;
  let cutDone!: () => void;
  const cut = new Promise<void>((ok) => { cutDone = ok; });
  // Redis away after the cut: reconnects are refused (the port closed) until reopen().
  void cut.then(() => { if (awayAfterCut) server.close(); });
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    let dropNextAnswer = false;
    client.on('data', (chunk) => {
      if (armed && chunk.includes(marker)) {
        armed = false;
        if (when === 'before_redis_saw_it') {
          client.destroy();
          upstream.destroy();
          cutDone();
          return;
        }
        dropNextAnswer = true;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (dropNextAnswer) {
        client.destroy();
        upstream.destroy();
        cutDone();
        return;
      }
      client.write(chunk);
    });
    const end = () => { client.destroy(); upstream.destroy(); };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`, cut,
    reopen: () => { server.listen(port, '127.0.0.1'); },
    close: () => new Promise<void>((ok) => { for (const s of sockets) s.destroy(); if (server.listening) server.close(() => ok()); else ok(); }),
  };
}

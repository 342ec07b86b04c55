// An HTTP front for the Render simulator that can hold back one answer Render already made: a look whose
// answer arrives late (a slow network, a paused worker), after later answers were written. Every other
// request and answer passes as is.
import { createServer, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HoldingProxy {
  /** The proxy's base URL, with the target's path (e.g. /v1), no trailing slash. */
  url: string;
  /**
   * Hold the next answer whose request path and body `match`: resolves once one is held, with the
   * function that sends it on.
   */
  holdNext(match: (path: string, body: string) => boolean): Promise<() => void>;
  close(): Promise<void>;
}

export async function startHoldingProxy(target: string): Promise<HoldingProxy> {
  const origin = new URL(target);
  let match: ((path: string, body: string) => boolean) | null = null;
  let onHeld: ((release: () => void) => void) | null = null;
  const held = new Set<() => void>();
  const server = createServer((req, res: ServerResponse) => {
    const up = request({ hostname: origin.hostname, port: origin.port, path: req.url, method: req.method, headers: req.headers }, (ur) => {
      const chunks: Buffer[] = [];
      ur.on('data', (c: Buffer) => chunks.push(c));
      ur.on('end', () => {
        const body = Buffer.concat(chunks);
        const send = () => { held.delete(send); if (!res.destroyed) { res.writeHead(ur.statusCode ?? 502, ur.headers); res.end(body); } };
        if (match?.(req.url ?? '', body.toString())) {
          match = null;
          held.add(send);
          onHeld?.(send);
          return;
        }
        send();
      });
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${origin.pathname.replace(/\/$/, '')}`;
  return {
    url,
    holdNext(m) {
      match = m;
      return new Promise((r) => { onHeld = r; });
    },
    async close() {
      match = null;
      for (const send of [...held]) send();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

// A hostile HTTP front for the Render simulator (an answer it cannot be made to give): every request is
// forwarded as is, unless `rule` answers it.
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Override = (req: IncomingMessage, res: ServerResponse, path: string) => boolean; // true: answered (or left hanging) here

export interface HostileProxy {
  url: string; // with /v1
  target: string; // the simulator's origin, set after it started
  rule: Override | null;
  seen: Array<{ method: string; path: string; at: number }>;
  close(): Promise<void>;
}

export async function startHostileProxy(): Promise<HostileProxy> {
  const open = new Set<ServerResponse>();
  const proxy: HostileProxy = { url: '', target: '', rule: null, seen: [], close: async () => {} };
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    proxy.seen.push({ method: req.method ?? '', path, at: Date.now() });
    open.add(res);
    res.on('close', () => open.delete(res));
    if (proxy.rule?.(req, res, path)) return;
    const t = new URL(proxy.target);
    const up = request({ hostname: t.hostname, port: t.port, path: req.url, method: req.method, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  proxy.url = `http://127.0.0.1:${port}/v1`;
  proxy.close = async () => {
    for (const res of open) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return proxy;
}

import { createServer, request, type Server } from 'node:http';

/**
 * A load balancer stand-in on one port in front of several web processes, as Render's proxy is during
 * a rolling deploy: each request goes to the upstream `pick` names (by default the next in turn), so a
 * test decides which process answers each of one browser's requests. Streams are piped through.
 */
export interface Balancer {
  /** The upstream that took each request so far, in order (index into `upstreams`). */
  readonly served: number[];
  /** Which upstream takes the next request; null: the next in turn. */
  pin: number | null;
  close(): Promise<void>;
}

export async function startBalancer(port: number, upstreams: string[]): Promise<Balancer> {
  let turn = 0;
  const served: number[] = [];
  const open = new Set<import('node:net').Socket>();
  const server: Server = createServer((req, res) => {
    const which = balancer.pin ?? turn++ % upstreams.length;
    served.push(which);
    const target = new URL(req.url ?? '/', upstreams[which]);
    // The Host the browser sent stays: the app judges its origin by it, as behind Render's proxy.
    const up = request(target, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    up.on('error', () => { if (!res.headersSent) res.writeHead(502); res.end(); });
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  server.on('connection', (s) => { open.add(s); s.on('close', () => open.delete(s)); });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', resolve); });
  const balancer: Balancer = {
    served, pin: null,
    async close() {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return balancer;
}

import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Which requests a hold applies to: method and path (with its query) as the app sent them. */
export type GateMatch = (method: string, path: string) => boolean;

/**
 * An HTTP proxy in front of a simulator (GitHub, Render) for the app (its GITHUB_API_URL or
 * RENDER_API_URL), which can hold the requests `match` picks: `'request'` holds them before they reach
 * the simulator (it answers when released, as it stands then); `'response'` lets it answer at once and
 * holds the answer (as the simulator stood before the hold). Everything else passes straight through.
 */
export interface HttpGate {
  /** The upstream URL, on the proxy (same path). */
  apiUrl: string;
  hold(mode: 'request' | 'response', match: GateMatch): void;
  /** Resolves once a request is held. */
  whenHeld(): Promise<void>;
  /** Let what is held go on, in order, and pass everything through again. */
  release(): void;
  close(): Promise<void>;
}

export async function startHttpGate(upstreamApiUrl: string): Promise<HttpGate> {
  const upstream = new URL(upstreamApiUrl);
  let mode: 'request' | 'response' | null = null;
  let matches: GateMatch = () => false;
  let held: Array<() => void> = [];
  let heldWatchers: Array<() => void> = [];
  const gate = () => new Promise<void>((resolve) => {
    held.push(resolve);
    for (const w of heldWatchers.splice(0)) w();
  });

  const server = createServer((req, res) => {
    const holdAs = mode && matches(req.method ?? 'GET', req.url ?? '/') ? mode : null;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void (async () => {
      if (holdAs === 'request') await gate();
      const answer = await new Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
        const out = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } }, (up) => {
          const body: Buffer[] = [];
          up.on('data', (c: Buffer) => body.push(c));
          up.on('end', () => resolve({ status: up.statusCode ?? 502, headers: up.headers, body: Buffer.concat(body) }));
          up.on('error', reject);
        });
        out.on('error', reject);
        out.end(Buffer.concat(chunks));
      });
      if (holdAs === 'response') await gate();
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body);
    })().catch(() => res.destroy()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const release = () => {
    mode = null;
    for (const go of held.splice(0)) go();
  };
  return {
    apiUrl: `http://127.0.0.1:${port}${upstream.pathname}`,
    hold(m, match) { mode = m; matches = match; },
    whenHeld: () => new Promise<void>((resolve) => { if (held.length > 0) resolve(); else heldWatchers.push(resolve); }),
    release,
    async close() {
      release();
      held = [];
      heldWatchers = [];
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

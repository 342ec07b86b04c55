import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import type { ExecutionContext } from 'ava';
import type { Page, Route } from 'playwright-core';

/**
 * One event stream's connection through the proxy: what the server has sent on it so far, and a hold on
 * what reaches the browser (as a slow or buffering proxy on the way would do).
 */
export interface ProxiedStream {
  /** The request line the browser sent, e.g. `GET /api/events?logs=dpl-… HTTP/1.1`. */
  readonly requestLine: string;
  /** Everything the server wrote on this connection, delivered to the browser or held. */
  readonly fromServer: string;
  /** From now on, the server's bytes are kept here instead of reaching the browser. */
  hold(): void;
  /** Hands on what was held, and everything after. */
  release(): void;
  /** Resolves when the browser closed its side (it closed the EventSource). */
  readonly browserClosed: Promise<void>;
  /** The connection drops (a proxy restarting, a network change): both ends closed, anything held lost. */
  cut(): void;
}

export interface StreamProxy {
  /** `http://127.0.0.1:<port>`: a request sent here goes on to the target unchanged. */
  url: string;
  /** Each connection the browser opened, in order. */
  streams: ProxiedStream[];
  close(): Promise<void>;
}

/**
 * The page's streams are sent to the proxy's port by page.route, so the browser sees another origin
 * (`Sec-Fetch-Site: same-site`) where the page, without the test's rerouting, asks its own; the app refuses
 * the cookie on an API request another site made (server/middleware/security.ts crossSiteCookieUse).
 * The proxy stands in for a hop on the app's own origin, so it passes on what the browser sends there.
 */
function asSentToTheApp(chunk: Buffer): Buffer {
  const text = chunk.toString('latin1');
  const fixed = text.replace(/^(sec-fetch-site:[ \t]*)same-site(\r)$/gim, '$1same-origin$2');
  return fixed === text ? chunk : Buffer.from(fixed, 'latin1');
}

/**
 * A TCP proxy in front of the web process for event streams (a page routes its `/api/events` requests
 * here with page.route): a real network hop the test can hold, byte for byte, with nothing faked on
 * either end.
 */
export async function startStreamProxy(target: URL): Promise<StreamProxy> {
  const streams: ProxiedStream[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((browser) => {
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(browser);
    sockets.add(upstream);
    let requestLine = '';
    let fromServer = '';
    let held: Buffer[] | null = null;
    let closedByBrowser!: () => void;
    const browserClosed = new Promise<void>((resolve) => { closedByBrowser = resolve; });
    const stream: ProxiedStream = {
      get requestLine() { return requestLine; },
      get fromServer() { return fromServer; },
      hold() { held ??= []; },
      release() {
        const chunks = held ?? [];
        held = null;
        for (const chunk of chunks) if (!browser.destroyed) browser.write(chunk);
      },
      browserClosed,
      cut() { held = null; browser.destroy(); upstream.destroy(); },
    };
    streams.push(stream);
    browser.on('data', (chunk: Buffer) => {
      if (!requestLine) requestLine = chunk.toString('latin1').split('\r\n')[0] ?? '';
      upstream.write(asSentToTheApp(chunk));
    });
    upstream.on('data', (chunk: Buffer) => {
      fromServer += chunk.toString('utf8');
      if (held) held.push(chunk); else if (!browser.destroyed) browser.write(chunk);
    });
    const end = () => { browser.destroy(); upstream.destroy(); };
    browser.on('close', () => { closedByBrowser(); upstream.destroy(); sockets.delete(browser); });
    upstream.on('close', () => { if (!held) browser.destroy(); sockets.delete(upstream); });
    browser.on('error', end);
    upstream.on('error', end);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    streams,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Sends the page's event streams through a proxy the test can hold or cut, in front of the app at
 * `appUrl`; `keep` may take a stream's request for the test to let go later with `continue`.
 */
export async function streamsViaProxy(t: ExecutionContext, page: Page, appUrl: string, keep: (route: Route) => boolean = () => false): Promise<StreamProxy & { continue(route: Route): Promise<void> }> {
  const proxy = await startStreamProxy(new URL(appUrl));
  t.teardown(() => proxy.close());
  const via = (route: Route) => {
    const u = new URL(route.request().url());
    return route.continue({ url: `${proxy.url}${u.pathname}${u.search}` });
  };
  await page.route('**/api/events**', (route) => { if (!keep(route)) void via(route); });
  return Object.assign(proxy, { continue: via });
}

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SentinelAlertOptions } from '../../server/sentinel/alerts.js';

/** A local Slack stand-in (plain http on loopback, admitted only through the guard's test seam). */
export interface SlackReceiver {
  url: string;
  /** `http://127.0.0.1:port`: where tests deliver hooks.slack.com webhooks instead of Slack. */
  origin: string;
  host: string;
  texts: string[];
  /** `METHOD /path body` of every request received. */
  bodies: string[];
  /** Answer POSTs to `path` with `status` and `body` from now on (a revoked or deleted webhook), as Slack does. */
  refuse(path: string, status: number, body: string): void;
  /** Leave POSTs to `path` unanswered from now on (a worker killed with its message on its way); `release` answers later ones again. */
  hold(path: string): void;
  release(path: string): void;
  /** `METHOD /path body` of every request left unanswered by `hold`. */
  held: string[];
  close(): Promise<void>;
}

export async function startSlackReceiver(path = '/services/T000/B000/XXXXXXXXXXXXXXXX'): Promise<SlackReceiver> {
  const texts: string[] = [];
  const bodies: string[] = [];
  const refusals = new Map<string, { status: number; body: string }>();
  const holds = new Set<string>();
  const held: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += String(c); });
    req.on('end', () => {
      if (holds.has(req.url ?? '')) { held.push(`${req.method} ${req.url} ${body}`); return; }
      bodies.push(`${req.method} ${req.url} ${body}`);
      try { texts.push(String((JSON.parse(body) as { text?: unknown }).text)); } catch { texts.push(body); }
      const refusal = refusals.get(req.url ?? '');
      if (refusal) res.writeHead(refusal.status).end(refusal.body);
      else res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `http://${host}${path}`, origin: `http://${host}`, host, texts, bodies, held,
    refuse: (p, status, body) => { refusals.set(p, { status, body }); },
    hold: (p) => { holds.add(p); },
    release: (p) => { holds.delete(p); },
    close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }),
  };
}

/** Sentinel alert options that deliver every tenant webhook (hooks.slack.com included) to `receiver`. */
export function localSlackAlerts(receiver: SlackReceiver, extraHosts: string[] = []): SentinelAlertOptions {
  return { slackOrigin: receiver.origin, guard: { allowHosts: [receiver.host, ...extraHosts] } };
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBodyUpTo } from '../body.js';

/** Low-level HTTP helpers shared by the API and the control surface. */

const MAX_BODY_BYTES = 11 * 1024 * 1024; // Blueprint files may be up to 10 MB (docs/render-api.md §14)

/** Headers Render puts on every response (docs/render-api.md §1). */
export function securityHeaders(requestId: string): Record<string, string> {
  return {
    'Render-Request-Id': requestId,
    'Referrer-Policy': 'same-origin',
    Vary: 'Origin',
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'X-Xss-Protection': '1; mode=block',
  };
}

/** Reads the whole body; null when it is larger than the limit. */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer | null> {
  return readBodyUpTo(req, limit);
}

/** JSON (followed by a newline, as Render's bodies are) or an empty body when `body` is undefined. */
export function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed || res.writableEnded) return;
  const text = body === undefined ? '' : `${JSON.stringify(body)}\n`;
  const all: Record<string, string | number> = { ...headers, 'Content-Length': Buffer.byteLength(text) };
  if (body !== undefined) all['Content-Type'] = 'application/json; charset=utf-8';
  res.writeHead(status, all);
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  if (res.destroyed || res.writableEnded) return;
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1] ?? null;
}

/** Sleeps that close() can cut short, so a long latency fault never keeps the process alive. */
export interface Sleeper {
  sleep(ms: number): Promise<void>;
  cancelAll(): void;
}

export function createSleeper(): Sleeper {
  const pending = new Map<NodeJS.Timeout, () => void>();
  return {
    sleep(ms) {
      if (ms <= 0) return Promise.resolve();
      return new Promise((resolve) => {
        const t = setTimeout(() => { pending.delete(t); resolve(); }, ms);
        pending.set(t, resolve);
      });
    },
    cancelAll() {
      for (const [t, resolve] of pending) { clearTimeout(t); resolve(); }
      pending.clear();
    },
  };
}

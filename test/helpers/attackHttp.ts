import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { Agent } from './agent.js';
import { assertConforms } from './apiContract.js';

// Raw HTTP for the attack suites: sent byte for byte (fetch would normalise "../" away), every
// answer checked against the OpenAPI document and recorded for the secret scan.

/** Every attack request and every tenant agent sends this user agent: sessions are bound to it at sign-in. */
export const ATTACK_UA = 'attack-suite/1.0';

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: any;
}

export interface AttackRequest {
  method: string;
  /** Sent exactly as given (no normalisation): may hold "..", "%00", raw quotes. */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Serialised as JSON with content-type application/json. */
  json?: unknown;
  /** 'session' (default for non-GET): the tenant's token; 'none'; or this exact value. */
  csrf?: string;
  /** Resolve once the status line arrived and drop the connection (SSE). */
  stream?: boolean;
}

/** Who sends a request: a tenant (their cookie and CSRF token) or nobody. */
export interface Caller { agent: Agent }

/** One request over a fresh connection, recorded in `transcript` (status, headers, body) for secret scans. */
export function send(baseUrl: string, as: Caller | null, req: AttackRequest, transcript?: string[]): Promise<RawResponse> {
  const url = new URL(baseUrl);
  const headers: Record<string, string> = { 'user-agent': ATTACK_UA, ...req.headers };
  if (as && as.agent.jar.size && !('cookie' in headers)) headers.cookie = as.agent.cookieHeader();
  const csrf = req.csrf ?? (req.method === 'GET' ? 'none' : 'session');
  if (csrf === 'session' && as?.agent.csrfToken) headers['x-csrf-token'] = as.agent.csrfToken;
  else if (csrf !== 'none' && csrf !== 'session') headers['x-csrf-token'] = csrf;
  let body = req.body;
  if (req.json !== undefined) { body = JSON.stringify(req.json); headers['content-type'] ??= 'application/json'; }
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  return new Promise((resolve, reject) => {
    const answered = false;
    const r = httpRequest({ host: url.hostname, port: url.port, method: req.method, path: req.path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try { json = text ? JSON.parse(text) : undefined; } catch { /* not JSON */ }
        transcript?.push(`${req.method} ${req.path} -> ${res.statusCode}\n${Object.entries(res.headers).map(([k, v]) => `${k}: ${String(v)}`).join('\n')}\n${text}`);
        // Hostile input too gets answers the document describes (a streamed answer: its content type only).
        try {
          assertConforms(`${url.origin}${req.path.startsWith('/') ? req.path : '/'}`, { method: req.method, status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text });
        } catch (err) { reject(err instanceof Error ? err : new Error(String(err))); return; }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      };
      if (req.stream) {
        res.once('data', (c: Buffer) => { chunks.push(c); res.destroy(); finish(); });
        res.once('end', finish);
        return;
      }
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', finish);
      res.on('error', reject);
    });
    // A server may answer (413) and close before a large body is fully written: the answer counts.
    r.on('error', (err) => { if (!answered) reject(err); });
    if (body !== undefined) r.end(body); else r.end();
  });
}

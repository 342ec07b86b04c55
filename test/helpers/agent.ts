import { assertConforms } from './apiContract.js';

/**
 * A tiny browser stand-in over real HTTP: a cookie jar, manual redirects, JSON helpers.
 * Cookies are kept by name regardless of the Secure flag (tests run over plain http).
 */
export interface AgentResponse<T = unknown> {
  status: number;
  headers: Headers;
  text: string;
  json: T;
  location: string | null;
  setCookies: string[];
}

export class Agent {
  readonly jar = new Map<string, string>();
  csrfToken: string | null = null;
  /** Every response body and header seen, for secret scans. */
  readonly transcript: string[] = [];

  readonly baseUrl: string;
  readonly defaults: Record<string, string>;

  constructor(baseUrl: string, defaults: Record<string, string> = {}) {
    this.baseUrl = baseUrl;
    this.defaults = defaults;
  }

  /** Take a response's Set-Cookie lines into the jar, as a browser would (an empty or expired one deletes). */
  applySetCookies(setCookies: string[]): void {
    for (const c of setCookies) {
      const [pair] = c.split(';');
      const idx = pair!.indexOf('=');
      const name = pair!.slice(0, idx).trim();
      const value = pair!.slice(idx + 1).trim();
      if (!value || /expires=Thu, 01 Jan 1970/i.test(c)) this.jar.delete(name); else this.jar.set(name, value);
    }
  }

  cookieHeader(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async request<T = any>(method: string, pathOrUrl: string, opts: { json?: unknown; body?: string; headers?: Record<string, string>; csrf?: boolean } = {}): Promise<AgentResponse<T>> {
    const url = pathOrUrl.startsWith('http') ? pathOrUrl : this.baseUrl + pathOrUrl;
    const headers: Record<string, string> = { ...this.defaults, ...opts.headers };
    const sameHost = url.startsWith(this.baseUrl);
    if (sameHost && this.jar.size) headers.cookie = this.cookieHeader();
    if (opts.csrf !== false && this.csrfToken && method !== 'GET' && !('x-csrf-token' in headers)) headers['x-csrf-token'] = this.csrfToken;
    let body: string | undefined = opts.body;
    if (opts.json !== undefined) { body = JSON.stringify(opts.json); headers['content-type'] ??= 'application/json'; }
    const res = await fetch(url, { method, headers, body, redirect: 'manual' });
    const text = await res.text();
    const setCookies = res.headers.getSetCookie();
    if (sameHost) this.applySetCookies(setCookies);
    this.transcript.push(`${method} ${url} -> ${res.status}\n${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n${text}`);
    let json: any = undefined;
    try { json = text ? JSON.parse(text) : undefined; } catch { /* not JSON */ }
    // Every response from a stack's web process must match its own OpenAPI document.
    assertConforms(url, { method, status: res.status, contentType: res.headers.get('content-type') ?? '', text });
    return { status: res.status, headers: res.headers, text, json, location: res.headers.get('location'), setCookies };
  }

  get<T = any>(path: string, opts?: { headers?: Record<string, string> }) { return this.request<T>('GET', path, opts); }
  post<T = any>(path: string, json?: unknown, opts: { headers?: Record<string, string>; csrf?: boolean } = {}) {
    return this.request<T>('POST', path, { ...opts, json: json ?? {} });
  }
  delete<T = any>(path: string, opts: { headers?: Record<string, string> } = {}) { return this.request<T>('DELETE', path, opts); }
}
